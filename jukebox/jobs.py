"""Background processes that outlive the page that started them: trainings, servers, runs.

Each job has a directory ``JUKEBOX_HOME/runs/<kind>/<id>/`` holding ``job.json`` (how it was
started, its pid), ``log.txt`` (everything it printed) and ``status.json`` (what the job itself
reports: progress, results, endpoints). A page that is reloaded finds its jobs again from these
files alone, so nothing lives only in a Streamlit session.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar

import psutil

from jukebox.config import Settings

JOB_FILE = "job.json"
STATUS_FILE = "status.json"
LOG_FILE = "log.txt"


@dataclass(frozen=True)
class Job:
    """A background process and the directory it reports through."""

    kind: str
    id: str
    dir: Path
    pid: int
    started: float
    argv: tuple[str, ...]

    @property
    def log_path(self) -> Path:
        return self.dir / LOG_FILE

    def is_alive(self) -> bool:
        """True while the process runs; a reused pid or a finished (zombie) child is not alive."""
        try:
            process = psutil.Process(self.pid)
            # A pid can be reused by an unrelated process after the job ended.
            if abs(process.create_time() - self.started) > 2:
                return False
            return process.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def write_json_atomic(path: Path, data: dict) -> None:
    """Replace ``path`` with ``data`` so a concurrent reader sees the old or the new file, whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def write_status(job_dir: Path, **fields) -> None:
    """Merge ``fields`` into the job's status.json; called by the job process itself."""
    job_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(job_dir / STATUS_FILE, {**read_status(job_dir), **fields})


def read_status(job_dir: Path) -> dict:
    try:
        return json.loads((job_dir / STATUS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


StatusT = TypeVar("StatusT")


def read_status_as(record: type[StatusT], job_dir: Path) -> StatusT:
    """The job's ``status.json`` as its kind's typed status record (a dataclass with defaults)."""
    known = {f.name for f in fields(record)}  # type: ignore[arg-type]
    return record(**{k: v for k, v in read_status(job_dir).items() if k in known})


def update_status_as(record: type, job_dir: Path | None, **changes) -> None:
    """Merge ``changes`` into the job's ``status.json``; only fields of ``record`` are accepted,
    so the process that writes a status and the pages that read it cannot drift apart. Nothing
    happens without a job directory (a command run by hand)."""
    if job_dir is None:
        return
    unknown = set(changes) - {f.name for f in fields(record)}
    if unknown:
        raise TypeError(f"not a {record.__name__} field: {', '.join(sorted(unknown))}")
    write_status(job_dir, **changes)


def new_job_id() -> str:
    """Sortable by start time, unique across processes."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def start_job(
    settings: Settings,
    kind: str,
    args: list[str],
    *,
    job_id: str | None = None,
    env: dict[str, str] | None = None,
) -> Job:
    """Start ``python <args>`` (e.g. ``["-m", "jukebox", "train", ...]``) detached from the caller.

    The process runs in a session of its own, so it outlives the page that started it.

    ``{job_dir}`` in ``args`` is replaced by the job's directory, so the process knows where to
    report. The process inherits the environment (plus ``env``), so it sees the same settings.
    """
    job_id = job_id or new_job_id()
    job_dir = settings.jobs_dir(kind) / job_id
    job_dir.mkdir(parents=True, exist_ok=False)
    argv = [sys.executable, *(a.replace("{job_dir}", str(job_dir)) for a in args)]
    with open(job_dir / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={**os.environ, "JUKEBOX_HOME": str(settings.home), **(env or {})},
        )
    started = psutil.Process(process.pid).create_time()
    record = {"kind": kind, "id": job_id, "pid": process.pid, "started": started, "argv": argv}
    write_json_atomic(job_dir / JOB_FILE, record)
    return _job_from_record(job_dir, record)


def _job_from_record(job_dir: Path, record: dict) -> Job:
    return Job(
        kind=record["kind"],
        id=record["id"],
        dir=job_dir,
        pid=int(record["pid"]),
        started=float(record["started"]),
        argv=tuple(record["argv"]),
    )


def load_job(job_dir: Path) -> Job | None:
    try:
        return _job_from_record(job_dir, json.loads((job_dir / JOB_FILE).read_text()))
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return None


def list_jobs(settings: Settings, kind: str) -> list[Job]:
    """Every job of ``kind``, newest first."""
    root = settings.jobs_dir(kind)
    if not root.is_dir():
        return []
    jobs = (load_job(d) for d in sorted(root.iterdir(), reverse=True) if d.is_dir())
    return [job for job in jobs if job is not None]


def stop_job(job: Job, timeout: float = 10.0) -> None:
    """Ask the job's whole process group to stop (SIGTERM), then kill it after ``timeout``."""
    if not job.is_alive():
        return
    try:
        os.killpg(job.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        psutil.Process(job.pid).wait(timeout)
    except psutil.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
    except psutil.Error:
        pass


def kill_job(job: Job, timeout: float = 10.0) -> None:
    """Kill the job's whole process group at once (SIGKILL) and wait until it is gone."""
    if not job.is_alive():
        return
    try:
        os.killpg(job.pid, signal.SIGKILL)
        psutil.Process(job.pid).wait(timeout)
    except (ProcessLookupError, psutil.Error):
        pass


def serve_asgi(app, sock) -> bool:
    """Serve the ASGI ``app`` on the listening socket ``sock`` until SIGTERM or SIGINT, then
    close it; True if it had started. For the embedded services that run as jobs (the registry,
    the monitoring service): their callers write their status once this returns.

    uvicorn shuts down gracefully on SIGTERM/SIGINT, then re-raises the signal to the handlers it
    found. These absorb it, so the process ends where its caller wrote, normally."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return bool(server.started)
