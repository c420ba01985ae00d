"""Canary rollouts of a local deployment: a second version beside the serving one, with a share
of the traffic, then promoted to all of it or rolled back, without a refused request.

How it runs. :func:`start_canary` starts the canary version's server (a ``serve`` job, as any
deployment's), then a **router** job (``python -m jukebox serve-canary``) that forwards each
request to the primary or the canary server by weight (a seeded random draw per request), and
points the deployment's record at the router: clients that resolve the deployment's name at
each request move to the router, and the primary keeps answering whoever still holds its address.
Every answer carries the header ``Jukebox-Served-Version`` (the version whose server answered);
the OIP body already says ``model_version``, since each server reports its own.

The router counts, per version, requests, errors and latency, and mirrors a sample of JSON
inferences to the other version to count how often the two disagree on the top country. It
writes these to ``canary.json`` in its job directory, and a :class:`ServerStatus` (so the
deployment reads as any other) to ``status.json``.

Promotion and rollback change the weights (the router reads ``control.json`` in its job
directory), wait until the router has applied them and no request is in flight to the losing
version, then stop the losing server. The router stays in front with one upstream, so the
deployment's endpoint is the same before, during and after the canary: a client holding the
address (a running load test) never meets a stopped server. Requests to an upstream that fails
to connect are sent again (inference is idempotent), first to the same version, then to the other.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from jukebox.config import Settings
from jukebox.jobs import Job, read_status, start_job, stop_job, write_json_atomic
from jukebox.serving.deploy import (
    JOB_KIND,
    START_TIMEOUT,
    DeploymentError,
    _job,
    _read_record,
    _record_path,
    get_deployment,
    report_server_status,
    start_server,
    wait_ready,
)

VERSION_HEADER = "Jukebox-Served-Version"
CANARY_FILE = "canary.json"
CONTROL_FILE = "control.json"
MIRROR_SHARE = 0.2
"""Share of JSON inferences also sent to the other version to compare their top countries."""
_PASSED_REQUEST_HEADERS = (
    "content-type",
    "authorization",
    "content-encoding",
    "inference-header-content-length",
)
_SERVED_FIELDS = ("bundle", "sha256", "labels", "registered_model", "auth", "grpc_port")
"""What the router reports of the version it serves, read from that server's status: its gRPC
port among them, so gRPC clients reach that version directly (the router splits REST only)."""
_PASSED_ANSWER_HEADERS = ("content-type", "inference-header-content-length", "content-encoding")


def check_percent(percent: float) -> float:
    """A canary's share of the traffic is a percentage, 0 to 100."""
    try:
        value = float(percent)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0 <= value <= 100:
        raise DeploymentError(f"A canary's share of the traffic is 0 to 100 % (now {percent!r}).")
    return value


# --- what the router reports --------------------------------------------------------------------


@dataclass
class VersionFigures:
    """One version's figures as the router counted them."""

    version: str
    role: str
    """``primary`` or ``canary``."""
    requests: int = 0
    errors: int = 0
    in_flight: int = 0
    p50_ms: float | None = None
    p99_ms: float | None = None


@dataclass
class CanaryStatus:
    """The router's ``canary.json``: weights, per-version figures, and the disagreement count."""

    state: str = "starting"
    """``running``, ``promoted`` or ``rolled back``."""
    canary_percent: float = 0.0
    generation: int = 0
    """The last control generation the router applied."""
    primary: VersionFigures | None = None
    canary: VersionFigures | None = None
    compared: int = 0
    """Rows answered by both versions (mirrored inferences)."""
    disagreed: int = 0
    """Of those, rows whose top country differs."""

    @property
    def disagreement(self) -> float | None:
        return self.disagreed / self.compared if self.compared else None

    @classmethod
    def read(cls, job_dir: Path) -> CanaryStatus | None:
        try:
            data = json.loads((job_dir / CANARY_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        figures = {
            k: VersionFigures(**data[k]) if data.get(k) else None for k in ("primary", "canary")
        }
        return cls(**{**data, **figures})


# --- the router process -------------------------------------------------------------------------


class _Upstream:
    """One version's server as the router sees it: address, weight role, figures."""

    def __init__(self, url: str, version: str, role: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.figures = VersionFigures(version, role)
        self.latencies: deque[float] = deque(maxlen=2000)
        self.local = threading.local()

    def connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        connection = getattr(self.local, "connection", None)
        if connection is None or fresh:
            if connection is not None:
                connection.close()
            connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.local.connection = connection
        return connection

    def send(self, method: str, path: str, body: bytes, headers: dict) -> tuple[int, list, bytes]:
        """Send one request on this thread's kept-alive connection; a connection that fails
        before an answer (closed while idle) is opened again once."""
        for attempt in (0, 1):
            connection = self.connection(fresh=attempt == 1)
            try:
                connection.request(method, path, body or None, headers)
                response = connection.getresponse()
                return response.status, response.getheaders(), response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                self.local.connection = None
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")


class Router:
    """Splits requests between two upstream servers by weight and counts what each answers."""

    def __init__(
        self,
        primary: _Upstream,
        canary: _Upstream,
        percent: float,
        seed: int | None = None,
        job_dir: Path | None = None,
    ) -> None:
        self.primary, self.canary = primary, canary
        self.percent = percent
        self.generation = 0
        self.state = "running"
        self.job_dir = job_dir
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.compared = 0
        self.disagreed = 0
        self.mirrors = ThreadPoolExecutor(max_workers=2, thread_name_prefix="canary-mirror")
        self.mirror_backlog = 0

    def choose(self, path: str = "") -> tuple[_Upstream, _Upstream, bool]:
        """The upstream for one request, the other one, and whether to mirror it there. A
        path that names a version (``/v2/models/<name>/versions/<v>/…``) goes to that version's
        server while it runs, since the other would answer 404; any other path is drawn."""
        asked = _asked_version(path)
        with self.lock:
            if asked == self.canary.figures.version and self.percent > 0:
                to_canary, mirror = True, False
            elif asked == self.primary.figures.version and self.percent < 100:
                to_canary, mirror = False, False
            else:
                to_canary = self.random.random() * 100 < self.percent
                mirror = 0 < self.percent < 100 and self.random.random() < MIRROR_SHARE
            chosen, other = (
                (self.canary, self.primary) if to_canary else (self.primary, self.canary)
            )
            chosen.figures.in_flight += 1
        return chosen, other, mirror

    def forward(
        self, method: str, path: str, body: bytes, headers: dict
    ) -> tuple[int, list, bytes, str]:
        chosen, other, mirror = self.choose(path)
        began = time.perf_counter()
        try:
            try:
                status, answer_headers, answer = chosen.send(method, path, body, headers)
                served = chosen
            except (OSError, http.client.HTTPException):
                # The chosen server is gone (stopped after a switch): the other one answers.
                status, answer_headers, answer = other.send(method, path, body, headers)
                served = other
        finally:
            with self.lock:
                chosen.figures.in_flight -= 1
        with self.lock:
            served.figures.requests += 1
            if status >= 400:
                served.figures.errors += 1
            else:
                served.latencies.append(time.perf_counter() - began)
        if mirror and status == 200 and path.endswith("/infer") and self._json(headers):
            self._mirror(
                served, other if served is chosen else chosen, method, path, body, headers, answer
            )
        return status, answer_headers, answer, served.figures.version

    @staticmethod
    def _json(headers: dict) -> bool:
        return "inference-header-content-length" not in {k.lower() for k in headers}

    def _mirror(self, served, other, method, path, body, headers, answer) -> None:
        with self.lock:
            if self.mirror_backlog > 50:  # never let comparison slow the answers
                return
            self.mirror_backlog += 1

        def compare() -> None:
            try:
                status, _, other_answer = other.send(method, path, body, headers)
                if status == 200:
                    a, b = _top_classes(answer), _top_classes(other_answer)
                    if a is not None and b is not None and len(a) == len(b):
                        with self.lock:
                            self.compared += len(a)
                            self.disagreed += int(np.count_nonzero(a != b))
            except (
                OSError,
                http.client.HTTPException,
                ValueError,
                KeyError,
                IndexError,
                TypeError,
            ):
                pass  # an answer that cannot be compared is left out of the comparison
            finally:
                with self.lock:
                    self.mirror_backlog -= 1

        self.mirrors.submit(compare)

    def apply_control(self) -> bool:
        """Read ``control.json`` (weights set by promotion or rollback); True if it changed."""
        if self.job_dir is None:
            return False
        try:
            control = json.loads((self.job_dir / CONTROL_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return False
        if int(control.get("generation", 0)) <= self.generation:
            return False
        with self.lock:
            self.percent = check_percent(control["canary_percent"])
            self.generation = int(control["generation"])
            self.state = control.get("state", self.state)
        return True

    def status(self) -> CanaryStatus:
        with self.lock:
            figures = []
            for upstream in (self.primary, self.canary):
                f = VersionFigures(**asdict(upstream.figures))
                if upstream.latencies:
                    f.p50_ms, f.p99_ms = (
                        float(x)
                        for x in np.percentile(np.asarray(upstream.latencies) * 1000, [50, 99])
                    )
                figures.append(f)
            return CanaryStatus(
                self.state, self.percent, self.generation, *figures, self.compared, self.disagreed
            )

    @property
    def serving_version(self) -> str:
        """The version the deployment is said to serve: the canary's once it has all traffic."""
        return self.canary.figures.version if self.percent >= 100 else self.primary.figures.version


def _asked_version(path: str) -> str | None:
    """The version a protocol path names (``/v2/models/m/versions/3/infer`` → ``3``), if any."""
    parts = path.split("?")[0].split("/")
    if len(parts) > 5 and parts[1:3] == ["v2", "models"] and parts[4] == "versions":
        return parts[5]
    return None


def _top_classes(answer: bytes) -> np.ndarray | None:
    """The top class of each row of an OIP JSON answer (its first output, ``[N, C]``)."""
    output = json.loads(answer)["outputs"][0]
    shape = output.get("shape") or []
    data = np.asarray(output["data"], dtype=float)
    if len(shape) != 2 or data.size != shape[0] * shape[1]:
        return None
    return data.reshape(shape).argmax(axis=1)


def _handler(router: Router, draining: threading.Event) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The answer's headers and body go out in two writes: with Nagle's algorithm on, the
        # second waits for the client's delayed ACK (about 40 ms a request, measured).
        disable_nagle_algorithm = True
        timeout = 30  # an idle kept-alive connection is closed after this

        def _proxy(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {
                k: v for k, v in self.headers.items() if k.lower() in _PASSED_REQUEST_HEADERS
            }
            if body or self.command == "POST":
                headers["Content-Length"] = str(len(body))
            try:
                status, answer_headers, answer, version = router.forward(
                    self.command, self.path, body, headers
                )
            except (OSError, http.client.HTTPException) as error:
                status, version = 502, ""
                answer = json.dumps({"error": f"no version could answer: {error}"}).encode()
                answer_headers = [("Content-Type", "application/json")]
            self.send_response(status)
            for name, value in answer_headers:
                if name.lower() in _PASSED_ANSWER_HEADERS:
                    self.send_header(name, value)
            if version:
                self.send_header(VERSION_HEADER, version)
            self.send_header("Content-Length", str(len(answer)))
            if draining.is_set():
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(answer)

        do_GET = do_POST = _proxy

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base's name
            pass

    return Handler


def run_router(
    name: str,
    primary: tuple[str, str],
    canary: tuple[str, str],
    percent: float,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    seed: int | None = None,
    job_dir: Path | None = None,
    upstream_job_dirs: tuple[Path | None, Path | None] = (None, None),
) -> None:
    """Route ``name``'s requests between ``primary`` and ``canary`` (each ``(url, version)``)
    until SIGTERM, then answer the requests already received and stop (``serve-canary``).
    ``upstream_job_dirs`` are the two servers' job directories: the router reports the bundle,
    sha256, labels and auth of the version it serves from their status, as a server would."""
    router = Router(
        _Upstream(*primary, "primary"), _Upstream(*canary, "canary"), check_percent(percent),
        seed, job_dir,
    )  # fmt: skip
    draining = threading.Event()
    server = ThreadingHTTPServer((host, port), _handler(router, draining))
    server.daemon_threads = True
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    endpoint = f"http://{host}:{server.server_address[1]}"

    served = [
        {k: v for k, v in read_status(d).items() if k in _SERVED_FIELDS} if d else {}
        for d in upstream_job_dirs
    ]

    last: list[dict] = [{}]

    def report(**changes) -> None:
        """Write the figures and the status, only when something changed (an idle router
        writes nothing)."""
        figures = asdict(router.status())
        if job_dir is None or (figures == last[0] and not changes):
            return
        last[0] = figures
        write_json_atomic(job_dir / CANARY_FILE, figures)
        serving = served[1] if router.percent >= 100 else served[0]
        report_server_status(job_dir, version=router.serving_version, **{**serving, **changes})

    report(state="ready", pid=os.getpid(), host=host, port=server.server_address[1],
           endpoint=endpoint, model=name)  # fmt: skip
    print(f"Routing {name}: {100 - percent:g} % to {primary[1]}, {percent:g} % to {canary[1]} "
          f"at {endpoint}", flush=True)  # fmt: skip
    while not stop.wait(0.1):
        router.apply_control()
        report()
    draining.set()
    server.shutdown()
    deadline = time.monotonic() + 10
    while any(u.figures.in_flight for u in (router.primary, router.canary)):
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    server.server_close()
    router.mirrors.shutdown(wait=False, cancel_futures=True)
    report(state="stopped")
    print("Stopped.", flush=True)


# --- starting, promoting, rolling back ----------------------------------------------------------


@dataclass(frozen=True)
class Canary:
    """A deployment's canary as its record and its router say now."""

    name: str
    primary_version: str
    canary_version: str
    router_job_id: str
    status: CanaryStatus
    fields: dict = field(default_factory=dict)


def get_canary(settings: Settings, name: str) -> Canary | None:
    """The canary running on deployment ``name``, or None when it has none."""
    record = _read_record(_record_path(settings, name))
    canary = (record or {}).get("canary")
    if not canary or canary.get("finished"):
        return None
    job = _job(settings, record["job_id"])
    status = (CanaryStatus.read(job.dir) if job else None) or CanaryStatus()
    return Canary(name, canary["primary_version"], canary["canary_version"], record["job_id"],
                  status, canary)  # fmt: skip


def start_canary(
    settings: Settings,
    name: str,
    *,
    percent: float,
    model: str | None = None,
    version: str | None = None,
    bundle_dir: str | Path | None = None,
    token: str | None = None,
    seed: int | None = None,
    timeout: float = START_TIMEOUT,
    on_progress: Callable[[str], None] | None = None,
) -> Canary:
    """Serve another version of deployment ``name`` beside the running one, with ``percent`` of
    the traffic: start its server, then a router in front of both, then point the record at
    the router. If anything fails, the deployment is left as it was."""
    percent = check_percent(percent)
    path = _record_path(settings, name)
    record = _read_record(path)
    deployment = get_deployment(settings, name)
    if record.get("canary") and not record["canary"].get("finished"):
        raise DeploymentError(
            f"Deployment {name!r} already runs a canary: promote it or roll it back first."
        )
    if not deployment.ready:
        raise DeploymentError(
            f"Deployment {name!r} is {deployment.state}: a canary needs a serving version "
            "beside it."
        )
    canary_version = str(version or "1")
    if canary_version == deployment.version:
        raise DeploymentError(
            f"Deployment {name!r} already serves version {canary_version}: give the canary "
            "another version, so its answers can be told apart."
        )
    if on_progress:
        on_progress("starting the canary's server")
    canary_job = start_server(settings, name, model=model, version=canary_version,
                              bundle_dir=bundle_dir, token=token)  # fmt: skip
    router_job: Job | None = None
    try:
        canary_status = wait_ready(canary_job, timeout, on_progress)
        if on_progress:
            on_progress("starting the router")
        args = ["-m", "jukebox", "serve-canary", "--name", name,
                "--primary", deployment.endpoint, "--primary-version", deployment.version,
                "--canary", canary_status.endpoint, "--canary-version", canary_version,
                "--percent", str(percent), "--job-dir", "{job_dir}",
                "--primary-job-dir", str(_job(settings, record["job_id"]).dir),
                "--canary-job-dir", str(canary_job.dir)]  # fmt: skip
        if seed is not None:
            args += ["--seed", str(seed)]
        router_job = start_job(settings, JOB_KIND, args)
        wait_ready(router_job, timeout)
    except BaseException:
        for job in (router_job, canary_job):
            if job is not None:
                stop_job(job)
        raise
    canary = {
        "primary_job_id": record["job_id"],
        "primary_version": deployment.version,
        "primary_model": record.get("model"),
        "primary_bundle": record.get("bundle"),
        "canary_job_id": canary_job.id,
        "canary_version": canary_version,
        "canary_model": model,
        "canary_bundle": str(Path(bundle_dir).resolve()) if bundle_dir else None,
        "percent": percent,
        "generation": 0,
    }
    write_json_atomic(path, {**record, "job_id": router_job.id, "updated": time.time(),
                             "canary": canary,
                             "upstream_job_ids": [record["job_id"], canary_job.id]})  # fmt: skip
    if on_progress:
        on_progress(f"{name} now answers through a router that sends {percent:g} % to the canary.")
    return get_canary(settings, name)  # type: ignore[return-value]


def promote_canary(settings: Settings, name: str, **kwargs) -> None:
    """Send all of ``name``'s traffic to the canary, then stop the former version's server."""
    _finish(settings, name, promote=True, **kwargs)


def rollback_canary(settings: Settings, name: str, **kwargs) -> None:
    """Send all of ``name``'s traffic back to the primary, then stop the canary's server."""
    _finish(settings, name, promote=False, **kwargs)


def _finish(settings: Settings, name: str, *, promote: bool, timeout: float = 30.0) -> None:
    path = _record_path(settings, name)
    record = _read_record(path) or {}
    canary = record.get("canary")
    if not canary or canary.get("finished"):
        raise DeploymentError(f"Deployment {name!r} runs no canary to promote or roll back.")
    router = _job(settings, record["job_id"])
    if router is None or not router.is_alive():
        raise DeploymentError(
            f"The router of {name!r} is not running: stop the deployment and deploy again."
        )
    generation = int(canary.get("generation", 0)) + 1
    state = "promoted" if promote else "rolled back"
    control = {"generation": generation, "state": state, "canary_percent": 100.0 * promote}
    write_json_atomic(router.dir / CONTROL_FILE, control)
    loser_role = "primary" if promote else "canary"
    deadline = time.monotonic() + timeout
    while True:  # applied, and nothing still on its way to the losing version
        status = CanaryStatus.read(router.dir)
        loser = getattr(status, loser_role, None) if status else None
        if status and status.generation >= generation and loser and loser.in_flight == 0:
            break
        if time.monotonic() > deadline or not router.is_alive():
            raise DeploymentError(
                f"The router of {name!r} did not apply the change in {timeout:g} s; see its log, "
                f"{router.log_path}."
            )
        time.sleep(0.05)
    winner = "canary" if promote else "primary"
    loser_job = _job(settings, canary[f"{loser_role}_job_id"])
    write_json_atomic(path, {
        **record,
        "model": canary[f"{winner}_model"],
        "version": canary[f"{winner}_version"],
        "bundle": canary[f"{winner}_bundle"],
        "updated": time.time(),
        "canary": {**canary, "generation": generation, "finished": state,
                   "percent": 100.0 if promote else 0.0},
        "upstream_job_ids": [canary[f"{winner}_job_id"]],
    })  # fmt: skip
    if loser_job is not None:
        stop_job(loser_job)  # it drains what it still holds


__all__ = [
    "CANARY_FILE",
    "VERSION_HEADER",
    "Canary",
    "CanaryStatus",
    "VersionFigures",
    "check_percent",
    "get_canary",
    "promote_canary",
    "rollback_canary",
    "run_router",
    "start_canary",
]
