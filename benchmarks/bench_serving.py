"""Speed of the local Open Inference Protocol server, measured from other processes.

The server runs as deployments run it (``python -m jukebox serve``, its own process); the load
comes from separate client processes, each a keep-alive ``http.client`` loop posting the
workshop's request (13 FP32 ``[N, 1]`` inputs). Printed: one-row latency p50/p99 from one client,
throughput of several clients at once with the server's own CPU time per request, the time of one
10,000-row request, errors, and beside them the floor: the same model in onnxruntime in this
process, and the protocol's own cost (parse, run, serialise) without HTTP. Issue 12's goal: at
least 5,000 one-row requests/s from two client processes, p99 under 5 ms, no error.

Payload logging (issue 19: it must cost under 5 % of one-row throughput): one-row throughput of
a server started with ``serve --no-log`` and of one started as deployments start it (logging to
whatever payload logger ``serve`` wires), measured in alternating rounds, and the cost in
percent; beside it, the data plane's logger hook alone, in this process: the REST routes' time
per one-row request without a logger and with one that only keeps the record. Prints figures,
asserts nothing.

Workers (issue 21): one-row throughput of ``serve --workers 1`` and ``serve --workers 2``, each
loaded by ``--worker-clients`` client processes (default 4: enough to keep two workers busy),
measured in alternating rounds; beside each, how the clients' connections fell on the workers
(the kernel hashes each connection to one worker's socket, so four keep-alive connections can
land three to one) and the load average before the run. On a machine of two cores the clients
compete with the workers for the same cores: the figures say what one such machine gives.

    python benchmarks/bench_serving.py [--bundle DIR] [--requests 3000] [--clients 2]
        [--seconds 5] [--rounds 2] [--worker-clients 4] [--only-workers]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jukebox.data.schema import FEATURES  # noqa: E402


def request_body(rows: int, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    return json.dumps(
        {
            "inputs": [
                {
                    "name": f,
                    "shape": [rows, 1],
                    "datatype": "FP32",
                    "data": rng.random(rows).round(6).tolist(),
                }
                for f in FEATURES
            ]
        }
    ).encode()


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu}; {os.cpu_count()} cores; load average {load}; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; onnxruntime "
        f"{onnxruntime.__version__}"
    )


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50": at(0.50) * 1000,
        "p99": at(0.99) * 1000,
        "mean": statistics.fmean(ordered) * 1000,
        "max": ordered[-1] * 1000,
    }


# --- load generator (runs in child processes) ---------------------------------------------------


def client_loop(port: int, path: str, body: bytes, count: int, seconds: float, queue) -> None:
    """Post ``body`` ``count`` times (or for ``seconds``) on one keep-alive connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    latencies, errors, workers = [], 0, {}
    deadline = time.perf_counter() + seconds if seconds else None
    sent = 0
    while (deadline is None and sent < count) or (deadline and time.perf_counter() < deadline):
        started = time.perf_counter()
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
            worker = response.getheader("Jukebox-Worker")
            workers[worker] = workers.get(worker, 0) + 1
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies.append(time.perf_counter() - started)
        sent += 1
    # The worker that answered most of this connection's requests (all of them, unless the
    # connection was made again after an error).
    queue.put((latencies, errors, max(workers, key=workers.get) if workers else None))


def run_clients(port, path, body, clients, count=0, seconds=0.0, workers=None):
    """Latencies, errors and elapsed time of ``clients`` processes at once; with ``workers`` a
    dict, it also counts the connections each server worker (pid) answered."""
    queue = mp.Queue()
    processes = [
        mp.Process(target=client_loop, args=(port, path, body, count, seconds, queue))
        for _ in range(clients)
    ]
    started = time.perf_counter()
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    latencies = [x for lat, _, _ in results for x in lat]
    errors = sum(err for _, err, _ in results)
    if workers is not None:
        for _, _, worker in results:
            workers[worker] = workers.get(worker, 0) + 1
    return latencies, errors, elapsed


# --- the floor, in this process -----------------------------------------------------------------


def floor(bundle_dir: Path, runs: int) -> dict[str, float]:
    from jukebox.serving.protocol import infer_response, parse_infer_request
    from jukebox.serving.runtime import load_bundle_model

    model = load_bundle_model(bundle_dir, name="bench")
    one = {f: np.full((1, 1), 0.5, np.float32) for f in FEATURES}
    big = {f: np.random.default_rng(1).random((10_000, 1)).astype(np.float32) for f in FEATURES}
    for _ in range(50):
        model.run(one, ["output"])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        model.run(one, ["output"])
        times.append(time.perf_counter() - started)
    big_times = []
    for _ in range(20):
        started = time.perf_counter()
        model.run(big, ["output"])
        big_times.append(time.perf_counter() - started)
    body1, body10k = request_body(1), request_body(10_000)

    def protocol(body: bytes) -> float:
        started = time.perf_counter()
        request = parse_infer_request(body, model)
        infer_response(model, request, model.run(request.feeds, request.outputs))
        return time.perf_counter() - started

    protocol_one = [protocol(body1) for _ in range(runs)]
    protocol_big = [protocol(body10k) for _ in range(20)]
    return {
        "ort_one_p50": percentiles(times)["p50"],
        "ort_one_p99": percentiles(times)["p99"],
        "ort_10k": statistics.median(big_times) * 1000,
        "protocol_one_p50": percentiles(protocol_one)["p50"],
        "protocol_10k": statistics.median(protocol_big) * 1000,
    }


# --- main ---------------------------------------------------------------------------------------


def hook_cost(bundle_dir: Path, runs: int) -> dict[str, float]:
    """Microseconds per one-row request through the REST routes and the data plane (no HTTP),
    without a payload logger, with one that drops each record (the hook's own cost: the record
    built and handed over) and with one that keeps it in a bounded deque."""
    from collections import deque

    from jukebox.serving.dataplane import DataPlane
    from jukebox.serving.routes import OIPApplication
    from jukebox.serving.runtime import load_bundle_model

    model = load_bundle_model(bundle_dir, name="bench")
    body = request_body(1)
    kept: deque = deque(maxlen=10_000)
    applications = {
        label: OIPApplication(DataPlane(model, inference_logger=logger))
        for label, logger in (("none", None), ("null", lambda record: None), ("deque", kept.append))
    }
    times: dict[str, list[float]] = {label: [] for label in applications}
    order = list(applications.items())
    for round_ in range(runs + 200):
        # Interleaved, so that a change in the machine's load falls on each alike, and in a
        # turning order, so that none is always the one called after the others.
        for label, application in order[round_ % 3 :] + order[: round_ % 3]:
            started = time.perf_counter()
            application.handle("POST", "/v2/models/bench/infer", None, body)
            if round_ >= 200:  # after a warm-up
                times[label].append(time.perf_counter() - started)
    return {label: statistics.median(samples) * 1e6 for label, samples in times.items()}


def start_server(
    bundle_dir: Path, job_dir: Path, log: bool = True, workers: int = 1
) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jukebox",
            "serve",
            "--bundle",
            str(bundle_dir),
            "--name",
            "bench",
            "--port",
            "0",
            "--job-dir",
            str(job_dir),
            *([] if log else ["--no-log"]),
            *(["--workers", str(workers)] if workers != 1 else []),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status = json.loads((job_dir / "status.json").read_text())
            if status.get("state") == "ready":
                return process, int(status["port"])
            if status.get("state") == "failed":
                raise SystemExit(f"server failed: {status.get('error')}")
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start in 60 s")


def compare_logging(
    bundle_dir: Path, tmp: Path, clients: int, seconds: float, rounds: int
) -> dict[str, float]:
    """One-row throughput with and without payload logging: two servers, measured in turns so
    that a change in the machine's load falls on both alike; the mean of each one's rounds."""
    path, body = "/v2/models/bench/infer", request_body(1)
    servers = {}
    try:
        for key, log in (("off", False), ("on", True)):
            servers[key] = start_server(bundle_dir, tmp / f"job-log-{key}", log=log)
            run_clients(servers[key][1], path, body, 1, count=200)  # warm-up
        rates: dict[str, list[float]] = {"off": [], "on": []}
        errors = 0
        for round_ in range(rounds):
            for key in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
                latencies, failed, elapsed = run_clients(
                    servers[key][1], path, body, clients, seconds=seconds
                )
                rates[key].append(len(latencies) / elapsed)
                errors += failed
        wired = json.loads((tmp / "job-log-on" / "status.json").read_text()).get("logging")
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(20)
    return {
        "off": statistics.fmean(rates["off"]),
        "on": statistics.fmean(rates["on"]),
        "wired": bool(wired),
        "errors": errors,
    }


def compare_workers(
    bundle_dir: Path, tmp: Path, clients: int, seconds: float, rounds: int
) -> dict[int, dict]:
    """One-row throughput of ``serve --workers 1`` and ``--workers 2`` (both ``--no-log``), in
    alternating rounds; per worker count: mean req/s, p50/p99 of all rounds, errors, the
    connections each worker answered, and the 1-minute load average before each round."""
    path, body = "/v2/models/bench/infer", request_body(1)
    servers = {}
    figures: dict[int, dict] = {
        n: {"rates": [], "latencies": [], "errors": 0, "split": [], "load": []} for n in (1, 2)
    }
    try:
        for n in (1, 2):
            servers[n] = start_server(bundle_dir, tmp / f"job-workers-{n}", log=False, workers=n)
            run_clients(servers[n][1], path, body, clients, count=200)  # warm-up
        for round_ in range(rounds):
            for n in (1, 2) if round_ % 2 == 0 else (2, 1):
                figures[n]["load"].append(os.getloadavg()[0])
                split: dict = {}
                latencies, failed, elapsed = run_clients(
                    servers[n][1], path, body, clients, seconds=seconds, workers=split
                )
                figures[n]["rates"].append(len(latencies) / elapsed)
                figures[n]["latencies"] += latencies
                figures[n]["errors"] += failed
                figures[n]["split"].append("/".join(str(c) for c in sorted(split.values())))
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(20)
    for figure in figures.values():
        figure["rate"] = statistics.fmean(figure["rates"])
        figure.update(percentiles(figure["latencies"]))
    return figures


def print_workers(figures: dict[int, dict], clients: int, seconds: float, rounds: int) -> None:
    print(
        f"workers, 1 row, {clients} client processes, {rounds} x {seconds:g} s per server, "
        "alternating (serve --no-log)"
    )
    for n, f in figures.items():
        print(
            f"  serve --workers {n}               {f['rate']:,.0f} req/s  p50 {f['p50']:.3f} ms  "
            f"p99 {f['p99']:.3f} ms  errors {f['errors']}  connections per worker, by round "
            f"{', '.join(f['split'])}  load before {', '.join(f'{x:.2f}' for x in f['load'])}"
        )
    gain = figures[2]["rate"] / figures[1]["rate"]
    print(f"  2 workers / 1 worker            x{gain:.2f} ({os.cpu_count()} cores for both sides)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="bundle to serve (default: the tiny test one)")
    parser.add_argument("--requests", type=int, default=3000, help="one-row requests, 1 client")
    parser.add_argument("--clients", type=int, default=2, help="client processes for throughput")
    parser.add_argument("--seconds", type=float, default=5.0, help="throughput run length")
    parser.add_argument(
        "--rounds", type=int, default=4, help="throughput rounds per server, with and without log"
    )
    parser.add_argument(
        "--logging-seconds", type=float, default=3.0, help="length of one logging round"
    )
    parser.add_argument(
        "--worker-clients", type=int, default=4, help="client processes for the workers runs"
    )
    parser.add_argument(
        "--only-workers", action="store_true", help="measure only 1 against 2 workers"
    )
    args = parser.parse_args()

    if args.only_workers:
        with tempfile.TemporaryDirectory() as tmp:
            from tests.bundles import make_tiny_bundle

            tmp = Path(tmp)
            bundle_dir = args.bundle or make_tiny_bundle(tmp / "bundle").path
            print(f"machine: {machine()}")
            workers = compare_workers(
                bundle_dir, tmp, args.worker_clients, args.seconds, args.rounds
            )
        print_workers(workers, args.worker_clients, args.seconds, args.rounds)
        print(f"machine after: load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        bundle_dir = args.bundle
        if bundle_dir is None:
            from tests.bundles import make_tiny_bundle

            bundle_dir = make_tiny_bundle(tmp / "bundle").path
        print(f"machine: {machine()}")
        print(f"model: {bundle_dir}")
        base = floor(bundle_dir, args.requests)
        process, port = start_server(bundle_dir, tmp / "job")
        path = "/v2/models/bench/infer"
        try:
            run_clients(port, path, request_body(1), 1, count=200)  # warm-up
            latencies, errors_one, _ = run_clients(
                port, path, request_body(1), 1, count=args.requests
            )
            one = percentiles(latencies)
            server_cpu = psutil.Process(process.pid)
            cpu_before = sum(server_cpu.cpu_times()[:2])
            latencies_many, errors_many, elapsed = run_clients(
                port, path, request_body(1), args.clients, seconds=args.seconds
            )
            cpu_per_request = (sum(server_cpu.cpu_times()[:2]) - cpu_before) / len(latencies_many)
            many = percentiles(latencies_many)
            throughput = len(latencies_many) / elapsed
            big_latencies, errors_big, _ = run_clients(
                port, path, request_body(10_000), 1, count=20
            )
            big = percentiles(big_latencies)
        finally:
            process.terminate()
            process.wait(20)
        hook = hook_cost(bundle_dir, args.requests)
        logged = compare_logging(bundle_dir, tmp, args.clients, args.logging_seconds, args.rounds)
        workers = compare_workers(bundle_dir, tmp, args.worker_clients, args.seconds, args.rounds)

    print()
    print("in-process floor (no HTTP)")
    print(
        f"  onnxruntime, 1 row            p50 {base['ort_one_p50']:.3f} ms  "
        f"p99 {base['ort_one_p99']:.3f} ms"
    )
    print(f"  onnxruntime, 10,000 rows      median {base['ort_10k']:.2f} ms")
    print(f"  protocol+run+JSON, 1 row      p50 {base['protocol_one_p50']:.3f} ms")
    print(f"  protocol+run+JSON, 10k rows   median {base['protocol_10k']:.2f} ms")
    print("server over HTTP, load from other processes (http.client keep-alive)")
    print(
        f"  1 row, 1 client, {len(latencies)} requests   p50 {one['p50']:.3f} ms  "
        f"p99 {one['p99']:.3f} ms  mean {one['mean']:.3f} ms  errors {errors_one}"
    )
    print(
        f"  1 row, {args.clients} clients, {args.seconds:g} s            "
        f"{throughput:,.0f} req/s  p50 {many['p50']:.3f} ms  p99 {many['p99']:.3f} ms  "
        f"errors {errors_many}"
    )
    print(f"  server CPU per one-row request  {cpu_per_request * 1e6:.0f} µs")
    print(
        f"  10,000 rows, 20 requests        p50 {big['p50']:.1f} ms  max {big['max']:.1f} ms  "
        f"errors {errors_big}"
    )
    print(f"  total errors: {errors_one + errors_many + errors_big}")
    print(
        f"payload logging, 1 row, {args.clients} clients, {args.rounds} x "
        f"{args.logging_seconds:g} s "
        "per server, alternating"
    )
    print(f"  serve --no-log                  {logged['off']:,.0f} req/s")
    print(
        f"  serve (logging)                 {logged['on']:,.0f} req/s  payload logger: "
        f"{'wired' if logged['wired'] else 'none wired yet (serve reports logging: false)'}"
    )
    cost = (logged["off"] - logged["on"]) / logged["off"] * 100
    print(f"  cost of logging                 {cost:+.1f} % of throughput (goal: under 5 %)")
    if not logged["wired"]:
        print("  (no logger wired: both servers do the same work, so this is the noise of the run)")
    print(f"  errors                          {logged['errors']}")
    print(
        f"  the hook alone, in process      median per request: {hook['none']:.1f} µs without a "
        f"logger, {hook['null']:.1f} µs with one that drops the record "
        f"({hook['null'] - hook['none']:+.1f} µs), {hook['deque']:.1f} µs with one that keeps "
        f"it in a deque ({hook['deque'] - hook['none']:+.1f} µs)"
    )
    print_workers(workers, args.worker_clients, args.seconds, args.rounds)
    print(f"machine after: load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
