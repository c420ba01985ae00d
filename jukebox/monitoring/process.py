"""Running the embedded monitoring service: in the foreground, or as a background job found and
reused, like the embedded registry (``jukebox/registry/server/process.py``).

``monitoring_url(settings)`` is where Jukebox sends monitoring calls: ``TRUSTYAI_URL`` when set
(the real TrustyAI service), else the embedded service, started on demand by
``ensure_service`` (job kind ``monitor``). In a pipeline pod there is no embedded fallback.
The token never appears on a command line or in a status file: the job inherits
``TRUSTYAI_TOKEN`` through its environment.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from jukebox.config import Settings, refuse_embedded
from jukebox.errors import JukeboxError
from jukebox.jobs import (
    Job,
    list_jobs,
    read_status_as,
    serve_asgi,
    start_job,
    stop_job,
    update_status_as,
)
from jukebox.monitoring.app import HEALTH_PATH
from jukebox.monitoring.paths import monitoring_dir

JOB_KIND = "monitor"
TOKEN_ENV = "TRUSTYAI_TOKEN"
START_TIMEOUT = 60.0


class ServiceStartError(JukeboxError, RuntimeError):
    """The embedded monitoring service did not start; the message carries its log's end."""


@dataclass(frozen=True)
class MonitorStatus:
    """What a monitor job reports in ``status.json``. Never the token."""

    state: str = "starting"
    url: str | None = None
    root: str | None = None
    pid: int | None = None

    @classmethod
    def read(cls, job: Job) -> MonitorStatus:
        return read_status_as(cls, job.dir)


def serve(
    root: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    alert_after: int = 3,
    interval: float = 5.0,
    job_dir: Path | None = None,
) -> int:
    """Serve the monitoring API over ``root`` until SIGTERM/SIGINT; returns an exit code.
    Port 0 picks a free port; the socket is bound first, so the reported port is the real one."""

    from jukebox.monitoring.app import create_app

    root = Path(root).resolve()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    url = f"http://{host}:{sock.getsockname()[1]}"

    def on_started() -> None:
        update_status_as(
            MonitorStatus, job_dir, state="running", url=url, root=str(root), pid=os.getpid()
        )
        print(f"Monitoring service (TrustyAI API) over {root} at {url}", flush=True)

    app = create_app(
        root, token=token, alert_after=alert_after, interval=interval, on_started=on_started
    )
    try:
        started = serve_asgi(app, sock)
    finally:
        update_status_as(MonitorStatus, job_dir, state="stopped")
    return 0 if started else 1


def is_healthy(url: str, root: Path | None = None, timeout: float = 2.0) -> bool:
    """True if a monitoring service answers at ``url`` (over ``root``, when given)."""
    try:
        response = requests.get(url + HEALTH_PATH, timeout=timeout)
        if response.status_code != 200:
            return False
        served = response.json().get("root")
    except (requests.RequestException, ValueError):
        return False
    return root is None or served == str(Path(root).resolve())


def running_services(settings: Settings) -> list[Job]:
    """Monitor jobs of ``settings`` that are alive and serve its monitoring folder."""
    root = str(monitoring_dir(settings).resolve())
    return [
        job
        for job in list_jobs(settings, JOB_KIND)
        if job.is_alive() and MonitorStatus.read(job).root in (None, root)
    ]


def ensure_service(settings: Settings, timeout: float = START_TIMEOUT) -> str:
    """The base URL of a healthy embedded monitoring service of ``settings``' home, started in
    the background when none runs and reused when one does (a lock file makes concurrent
    callers share one)."""
    refuse_embedded(settings, "monitoring service")
    root = monitoring_dir(settings)
    with _lock(settings):
        for job in running_services(settings):
            url = MonitorStatus.read(job).url
            if url and is_healthy(url, root):
                return url
            if url:
                stop_job(job)
        job = start_job(
            settings,
            JOB_KIND,
            ["-m", "jukebox", "monitor", "serve", "--host", "127.0.0.1", "--port", "0",
             "--job-dir", "{job_dir}"],
            env={TOKEN_ENV: settings.trustyai_token or ""},
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            url = MonitorStatus.read(job).url
            if url and is_healthy(url, root):
                return url
            if not job.is_alive():
                raise ServiceStartError(
                    "The embedded monitoring service stopped while starting. Its log says:\n"
                    + job.log_tail(20)
                )
            time.sleep(0.05)
        stop_job(job)
        raise ServiceStartError(
            f"The embedded monitoring service did not answer within {timeout:.0f} s. "
            "Its log says:\n" + job.log_tail(20)
        )


def monitoring_url(settings: Settings) -> str:
    """``TRUSTYAI_URL`` when set (the real service), else the embedded service's URL (started
    on demand). In a pipeline pod without ``TRUSTYAI_URL`` this fails with a sentence."""
    if settings.trustyai_url:
        return settings.trustyai_url.rstrip("/")
    return ensure_service(settings)


def stop_service(settings: Settings) -> int:
    """Stop every running embedded monitoring service of ``settings``; returns how many."""
    with _lock(settings):
        jobs = running_services(settings)
        for job in jobs:
            stop_job(job)
        return len(jobs)


@contextmanager
def _lock(settings: Settings) -> Iterator[None]:
    directory = settings.jobs_dir(JOB_KIND)
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
