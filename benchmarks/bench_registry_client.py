"""How fast the registry façade registers, lists and fetches, and whether concurrent
registrations from separate processes each happen exactly once.

Starts its own embedded registry server on a free port, with local object storage in a temporary
JUKEBOX_HOME, and prints figures (it asserts nothing about time).

    python benchmarks/bench_registry_client.py [--versions 20] [--processes 50] [--racers 10]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_registry(db: Path) -> tuple[subprocess.Popen, str]:
    import requests

    port = free_port()
    code = (
        "import sys; from jukebox.registry.server.process import serve; "
        "sys.exit(serve(sys.argv[1], port=int(sys.argv[2])))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(db), str(port)], cwd=ROOT, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(url + "/readyz/health", timeout=1).ok:
                return process, url
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the registry server did not start")


def milliseconds(values: list[float]) -> str:
    values = [v * 1000 for v in values]
    median = statistics.median(values)
    return f"median {median:7.1f} ms  (min {min(values):.1f}, max {max(values):.1f})"


def timed(function, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def register_one(args: tuple[str, str, str, multiprocessing.Barrier]) -> str:
    """In a separate process: wait for the others, then register; return what happened."""
    bundle, name, version, barrier = args
    from jukebox.errors import JukeboxError
    from jukebox.registry.errors import DuplicateVersionError
    from jukebox.registry.register import register_bundle

    barrier.wait()
    try:
        register_bundle(bundle, name, version)
        return "registered"
    except DuplicateVersionError as error:
        return "duplicate refused" if "already" in str(error) else f"error: {error}"
    except JukeboxError as error:
        return f"error: {error}"


def concurrent(bundles: list[Path], name: str, versions: list[str]) -> tuple[float, dict[str, int]]:
    """Register ``bundles[i]`` as ``versions[i]``, one process each, all at once."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(len(versions))
        with context.Pool(len(versions)) as pool:
            started = time.perf_counter()
            outcomes = pool.map(
                register_one,
                [(str(b), name, v, barrier) for b, v in zip(bundles, versions, strict=True)],
            )
            seconds = time.perf_counter() - started
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return seconds, counts


def fetch_all(name: str, versions, into: Path) -> int:
    """How many of ``versions`` download with every sha256 right."""
    from jukebox.errors import JukeboxError
    from jukebox.registry.fetch import fetch_bundle

    ok = 0
    for version in versions:
        try:
            fetch_bundle(name, version, into / str(version))
            ok += 1
        except JukeboxError as error:
            print(f"  fetch of {name} {version} failed: {error}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--versions", type=int, default=20, help="sequential registrations")
    parser.add_argument("--processes", type=int, default=50, help="concurrent, distinct versions")
    parser.add_argument("--racers", type=int, default=10, help="concurrent, one same version")
    options = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-registry-"))
    os.environ["JUKEBOX_HOME"] = str(home / "home")
    for variable in ("AWS_S3_ENDPOINT", "MODEL_REGISTRY_TOKEN"):
        os.environ.pop(variable, None)
    server, url = start_registry(home / "registry.sqlite")
    os.environ["MODEL_REGISTRY_URL"] = url
    try:
        from jukebox.config import load_settings
        from jukebox.registry import connection, official_api
        from jukebox.registry.fetch import fetch_bundle
        from jukebox.registry.register import register_bundle
        from jukebox.registry.versions import get_version, list_all_versions, list_versions
        from tests.bundles import make_tiny_bundle

        settings = load_settings()
        # One distinct bundle per version: the same model.onnx is never registered twice.
        count = max(options.versions, options.processes)
        bundles = [make_tiny_bundle(home / f"bundle-{i}", seed=i).path for i in range(count)]
        python = platform.python_version()
        print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {python}")
        print(f"load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print(f"registry {url}, local object storage in {settings.storage_dir}\n")

        registering = [timed(register_bundle, bundles[v - 1], "seq", v)[0]
                       for v in range(1, options.versions + 1)]  # fmt: skip
        fetching = [timed(fetch_bundle, "seq", v, home / f"f{v}")[0]
                    for v in range(1, options.versions + 1)]  # fmt: skip
        listing = [timed(list_all_versions, settings)[0] for _ in range(10)]
        details = [timed(get_version, "seq", "1", settings)[0] for _ in range(10)]
        print(
            f"register_bundle (upload + register), {options.versions}x: {milliseconds(registering)}"
        )
        print(
            f"fetch_bundle (download + sha256), {options.versions}x:      {milliseconds(fetching)}"
        )
        print(
            f"list_all_versions ({options.versions} versions), 10x:       {milliseconds(listing)}"
        )
        print(f"get_version (metadata + artifact URI), 10x:   {milliseconds(details)}")

        # What the shortcut in connection._client saves: the same read with the system CA store.
        official = connection.connect(settings)
        saved = official_api.certificate(official)
        official_api.use_certificate(official, None)
        slow = [timed(get_version, "seq", "1", settings)[0] for _ in range(10)]
        official_api.use_certificate(official, saved)
        print(f"get_version without the one-certificate shortcut: {milliseconds(slow)}\n")

        versions = [str(v) for v in range(1, options.processes + 1)]
        seconds, counts = concurrent(bundles[: len(versions)], "parallel", versions)
        print(f"{options.processes} processes registering distinct versions at once: {counts}, "
              f"{seconds:.1f} s wall (process start-up included)")  # fmt: skip
        listed = sorted(int(v.version) for v in list_versions("parallel"))
        print(f"  registry lists {len(listed)} versions, each once: "
              f"{listed == list(range(1, options.processes + 1))}; fetched and verified: "
              f"{fetch_all('parallel', listed, home / 'p')}")  # fmt: skip

        seconds, counts = concurrent([bundles[0]] * options.racers, "race", ["1"] * options.racers)
        race = list_versions("race", include_incomplete=True)
        print(f"{options.racers} processes registering the SAME version at once: {counts}, "
              f"{seconds:.1f} s wall")  # fmt: skip
        print(f"  registry holds {len(race)} version(s) of it, complete: "
              f"{[v.complete for v in race]}; fetched and verified: "
              f"{fetch_all('race', [v.version for v in race], home / 'r')}")  # fmt: skip
        print(f"\nload average at end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        server.terminate()
        server.wait(timeout=15)


if __name__ == "__main__":
    main()
