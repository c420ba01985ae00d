"""Several server processes behind one port: ``python -m jukebox serve --workers N``.

One process answers one-row requests on one event loop, so it uses about one core; N worker
processes use N. The first worker is the process ``serve`` started (the deployment's job): it
binds the port, then starts N-1 more ``serve`` processes (:func:`start_workers`) that bind the same
port. Each worker binds a listening socket of its own with ``SO_REUSEPORT`` (Linux), and the
kernel spreads incoming connections among the sockets by a hash of the connection's addresses.

Why ``SO_REUSEPORT`` and not a pre-fork of one bound socket: with one shared socket, every
worker's event loop wakes for each new connection and the one that wins ``accept`` is whichever
is least busy at that instant, which piles connections on one worker under keep-alive load;
``SO_REUSEPORT`` balances in the kernel, with no thundering herd. It balances connections, not
requests: each connection goes to the worker its addresses hash to, so many clients spread
evenly, while a handful of long keep-alive connections can fall unevenly (the benchmark's four
clients landed all on one worker in two rounds of four, and two to two or three to one in the
others). And the workers are started as
fresh processes (not forked from one that already loaded onnxruntime and runs threads, which
``fork`` does not copy safely), each loading the model itself. The cost: any process of the same
user could bind the same port with ``SO_REUSEPORT`` too and take a share of the connections; the
server listens on 127.0.0.1 by default, and ``--workers 1`` (the default) does not set it.
Linux only: elsewhere ``SO_REUSEPORT`` does not balance (or does not exist), and more than one
worker is refused with a sentence.

What each worker has of its own, so what a deployment of N workers looks like from outside:

- ``GET /metrics`` counts the requests of the worker that answers it, not of the deployment;
  every answer names its worker's pid in the ``Jukebox-Worker`` header;
- the payload log: each worker writes its own segments (their names carry the pid), and the
  monitoring service reads them all as one log;
- gRPC is served by the first worker only, on its own port (one gRPC port per deployment, as
  before); the monitoring service is asked to watch the deployment by the first worker only.

Stopping: ``stop_job`` signals the job's whole process group, to which the workers belong, and
the first worker also passes SIGTERM on to the others as it drains (:func:`stop_workers`); each
drains its own requests. A worker whose first worker dies without a word gets SIGTERM from the
kernel (``PR_SET_PDEATHSIG``, :func:`die_with_parent`), so none is left serving alone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from jukebox.errors import JukeboxError

MAX_WORKERS = 64
READY_TIMEOUT = 60.0
"""Seconds a worker may take to load the model and bind the port."""


class WorkersError(JukeboxError, RuntimeError):
    """Worker processes cannot be started; the message says why."""


def check_workers(count: int) -> int:
    """``count`` when this machine can run that many workers on one port, else a sentence."""
    if not isinstance(count, int) or not 1 <= count <= MAX_WORKERS:
        raise WorkersError(f"--workers must be a whole number from 1 to {MAX_WORKERS}.")
    if count > 1 and (not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT")):
        raise WorkersError(
            "More than one worker needs Linux (SO_REUSEPORT spreads connections among them); "
            "serve with --workers 1 here."
        )
    return count


def worker_limit() -> int:
    """The most workers worth running here: one per core (Linux), else 1."""
    if not sys.platform.startswith("linux") or not hasattr(socket, "SO_REUSEPORT"):
        return 1
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def worker_command(
    *,
    bundle: Path,
    name: str,
    version: str,
    host: str,
    port: int,
    sha256: str | None,
    max_body_mb: float,
    log: bool,
) -> list[str]:
    """The command line of one more worker: the bundle the first worker loaded (already
    fetched and checked), the port it bound, and ``--worker-of`` its pid."""
    command = [
        sys.executable, "-m", "jukebox", "serve",
        "--bundle", str(bundle), "--name", name, "--version", version,
        "--host", host, "--port", str(port), "--max-body-mb", str(max_body_mb),
        "--worker-of", str(os.getpid()),
    ]  # fmt: skip
    if sha256:
        command += ["--sha256", sha256]
    if not log:
        command.append("--no-log")
    return command


def start_workers(
    commands: list[list[str]], *, env: dict | None = None, timeout: float = READY_TIMEOUT
) -> list[subprocess.Popen]:
    """Start one process per command and wait until each says it serves (its first line of
    output); what they print afterwards goes on to this process's output. If one fails, all are
    stopped and the error says what it printed."""
    processes: list[subprocess.Popen] = []
    try:
        for command in commands:
            processes.append(
                subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                    env={**os.environ, **(env or {})},
                )
            )
        watchers = [_Watcher(process) for process in processes]
        deadline = time.monotonic() + timeout
        for watcher in watchers:
            if not watcher.ready.wait(max(0.0, deadline - time.monotonic())) or not watcher.serving:
                said = "".join(watcher.said).strip() or "it said nothing in time"
                raise WorkersError(f"A worker did not start: {said}")
    except BaseException:
        stop_workers(processes, timeout=5.0)
        raise
    return processes


def ask_to_stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM every worker still running: each stops accepting and drains what it received."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)


def stop_workers(processes: list[subprocess.Popen], timeout: float = 15.0) -> None:
    """SIGTERM every worker (each drains what it received), wait, then SIGKILL any left."""
    ask_to_stop(processes)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGTERM this process when its parent (the first worker) dies; exit now if
    it already has. Linux only (``prctl(PR_SET_PDEATHSIG)``)."""
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() != parent_pid:
        sys.exit(0)


class _Watcher:
    """Reads a worker's output: until it says it serves (``ready``, ``serving``), then passes
    each line on to this process's output, marked with the worker's pid."""

    def __init__(self, process: subprocess.Popen) -> None:
        self.process = process
        self.ready = threading.Event()
        self.serving = False
        self.said: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if self.ready.is_set():
                print(f"[worker {self.process.pid}] {line}", end="", flush=True)
                continue
            self.said.append(line)
            if line.startswith("Serving "):
                self.serving = True
                self.ready.set()
        self.ready.set()  # ended: serving stays False unless it said so first


__all__ = [
    "MAX_WORKERS",
    "WorkersError",
    "ask_to_stop",
    "check_workers",
    "die_with_parent",
    "start_workers",
    "stop_workers",
    "worker_command",
    "worker_limit",
]
