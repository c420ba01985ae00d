"""Running the embedded registry: in the foreground, or as a background job found and reused.

``serve`` runs the server in the current process until SIGTERM or SIGINT. ``ensure_server``
gives the URL of a healthy server for the settings' database, starting one as a background job
(kind ``registry``, see ``jukebox/jobs.py``) when none is running, and reusing the one that is:
it is found again through its job and status files, so every page, CLI call and pipeline step
shares one server. ``stop_server`` stops it.

The bearer token never appears in a command line or a status file: the job inherits it through
the environment (``MODEL_REGISTRY_TOKEN``, the setting ``registry_token``).
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

from jukebox.config import Settings
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
from jukebox.registry.server.paths import HEALTH_PATH

JOB_KIND = "registry"
TOKEN_ENV = "MODEL_REGISTRY_TOKEN"
START_TIMEOUT = 60.0


class ServerStartError(JukeboxError, RuntimeError):
    """The embedded registry did not start; the message carries the end of its log."""


@dataclass(frozen=True)
class RegistryServerStatus:
    """What a registry job reports in ``status.json``: ``running`` with its URL and database,
    then ``stopped``. Never the token."""

    state: str = "starting"
    url: str | None = None
    db: str | None = None
    pid: int | None = None

    @classmethod
    def read(cls, job: Job) -> RegistryServerStatus:
        return read_status_as(cls, job.dir)


def serve(
    db_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    job_dir: Path | None = None,
) -> int:
    """Serve the registry over ``db_path`` until SIGTERM/SIGINT; returns an exit code.

    Port 0 picks a free port. The socket is bound before the server starts, so the port that is
    reported (printed, and written to ``job_dir``'s status) is the one really listened on.
    """

    from jukebox.registry.server.app import create_app

    db_path = Path(db_path).resolve()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this: without it, Nagle's algorithm holds back the body that
    # uvicorn writes after the headers until the client's delayed ACK, 40 ms per request.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    # Listening before uvicorn starts queues early connections instead of refusing them, so the
    # URL is usable from the moment it is reported.
    sock.listen(2048)
    url = f"http://{host}:{sock.getsockname()[1]}"

    def on_started() -> None:
        # The status before the banner: whoever sees the banner may read the status at once.
        update_status_as(
            RegistryServerStatus,
            job_dir,
            state="running",
            url=url,
            db=str(db_path),
            pid=os.getpid(),
        )
        print(f"Model registry serving {db_path} at {url}", flush=True)

    app = create_app(db_path, token=token, on_started=on_started)
    try:
        started = serve_asgi(app, sock)
    finally:
        update_status_as(RegistryServerStatus, job_dir, state="stopped")
    return 0 if started else 1


def is_healthy(url: str, db_path: Path | None = None, timeout: float = 2.0) -> bool:
    """True if a registry answers at ``url`` (serving ``db_path``, when given)."""
    try:
        response = requests.get(url + HEALTH_PATH, timeout=timeout)
        if response.status_code != 200:
            return False
        served = response.json().get("db")
    except (requests.RequestException, ValueError):
        return False
    return db_path is None or served == str(Path(db_path).resolve())


def running_servers(settings: Settings) -> list[Job]:
    """Registry jobs of ``settings`` that are alive and serve its database, newest first."""
    db = str(settings.registry_db.resolve())
    return [
        job
        for job in list_jobs(settings, JOB_KIND)
        if job.is_alive() and RegistryServerStatus.read(job).db in (None, db)
    ]


def ensure_server(settings: Settings, timeout: float = START_TIMEOUT) -> str:
    """The base URL (``http://127.0.0.1:PORT``) of a healthy embedded registry.

    Reuses the running server of ``settings``' database when there is one; otherwise starts one
    in the background on a free port and waits until it answers. A lock file makes concurrent
    callers (two pages, a page and a pipeline) share one server instead of starting two.
    """
    with _lock(settings):
        for job in running_servers(settings):
            url = RegistryServerStatus.read(job).url
            if url and is_healthy(url, settings.registry_db):
                return url
            if url:  # alive but not answering: a wedged server is replaced, not reused
                stop_job(job)
        job = start_job(
            settings,
            JOB_KIND,
            ["-m", "jukebox", "registry", "serve", "--host", "127.0.0.1", "--port", "0",
             "--db", str(settings.registry_db.resolve()), "--job-dir", "{job_dir}"],
            # Always set, so a token in the caller's environment but not in ``settings`` is not
            # inherited by accident.
            env={TOKEN_ENV: settings.registry_token or ""},
        )  # fmt: skip
        return _wait_until_healthy(job, settings, timeout)


def _wait_until_healthy(job: Job, settings: Settings, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        url = RegistryServerStatus.read(job).url
        if url and is_healthy(url, settings.registry_db):
            return url
        if not job.is_alive():
            raise ServerStartError(
                "The embedded model registry stopped while starting. Its log says:\n"
                + job.log_tail(20)
            )
        time.sleep(0.05)
    stop_job(job)
    raise ServerStartError(
        f"The embedded model registry did not answer within {timeout:.0f} s. Its log says:\n"
        + job.log_tail(20)
    )


def stop_server(settings: Settings) -> int:
    """Stop every running embedded registry of ``settings``' database; returns how many."""
    with _lock(settings):
        jobs = running_servers(settings)
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
