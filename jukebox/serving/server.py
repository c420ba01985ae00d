"""The local Open Inference Protocol server for one ONNX model: its parts put together.

The server has KServe's shape, one job to a module:

- :mod:`~jukebox.serving.transport`: HTTP (httptools on asyncio): connections, limits, deadlines;
- :mod:`~jukebox.serving.routes`: the REST routes, a path to a data-plane call, HTTP-free;
- :mod:`~jukebox.serving.dataplane`: what a request does to the model, shared with gRPC
  (:mod:`~jukebox.serving.grpc_server`): checks, run, errors, metrics, and the payload logger;
- :mod:`~jukebox.serving.metrics`: the counts behind ``GET /metrics``.

This module builds them for a served model and runs them: :func:`make_server` (bound, not yet
serving), :func:`start_in_thread` (tests, benchmarks, notebooks) and
:func:`serve_until_signalled` (``python -m jukebox serve``). Each takes an
``inference_logger``, called with every answered inference
(:class:`~jukebox.serving.inference_log.InferenceRecord`), or a ready ``plane`` to share one data
plane, and so one set of metrics and one logger, with a gRPC server in the same process.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass

from jukebox.serving.dataplane import DataPlane
from jukebox.serving.inference_log import InferenceLogger
from jukebox.serving.routes import OIPApplication
from jukebox.serving.runtime import ServedModel
from jukebox.serving.transport import (
    BODY_TIMEOUT,
    DEFAULT_MAX_BODY,
    HEADER_TIMEOUT,
    IDLE_TIMEOUT,
    OIPServer,
)


@dataclass
class RunningServer:
    """A server running in a thread of this process (tests, benchmarks, notebooks)."""

    server: OIPServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def plane(self) -> DataPlane:
        return self.server.application.plane

    def stop(self) -> None:
        self.server.drain(timeout=5.0)
        self.thread.join(timeout=5.0)


def make_server(
    model: ServedModel,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    idle_timeout: float = IDLE_TIMEOUT,
    header_timeout: float = HEADER_TIMEOUT,
    body_timeout: float = BODY_TIMEOUT,
    inference_logger: InferenceLogger | None = None,
    plane: DataPlane | None = None,
    reuse_port: bool = False,
) -> OIPServer:
    """Bind a server for ``model`` (port 0 picks a free port: read it from ``server.port``).
    ``inference_logger`` receives a record of every answered inference; pass ``plane`` instead
    to share a data plane (its logger and metrics) with a gRPC server. ``reuse_port`` lets
    other worker processes bind the same port (:mod:`jukebox.serving.workers`)."""
    if plane is None:
        plane = DataPlane(model, inference_logger=inference_logger)
    elif plane.model is not model:
        raise ValueError("the data plane serves another model than the one given")
    return OIPServer(
        (host, port),
        OIPApplication(plane, token),
        max_body=max_body,
        idle_timeout=idle_timeout,
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        reuse_port=reuse_port,
    )


def start_in_thread(model: ServedModel, **kwargs) -> RunningServer:
    """Start a server in a background thread and return it; call ``stop()`` when done.
    Keyword arguments as :func:`make_server` (``inference_logger=`` among them)."""
    server = make_server(model, **kwargs)
    thread = threading.Thread(target=server.serve_forever, name="oip-server", daemon=True)
    thread.start()
    return RunningServer(server, thread)


def serve_until_signalled(
    server: OIPServer,
    *,
    on_ready: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
    on_draining: Callable[[], None] | None = None,
    drain_timeout: float = 10.0,
    inference_logger: InferenceLogger | None = None,
) -> None:
    """Serve in this process until SIGTERM or SIGINT, then drain: requests already received are
    answered before the process exits, so stopping a replaced deployment drops none.
    ``inference_logger``, when given, replaces the one the server was made with; ``on_draining``
    is called as the drain begins (to stop other workers at the same time)."""
    if inference_logger is not None:
        server.application.plane.inference_logger = inference_logger
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="oip-server", daemon=True)
    thread.start()
    if on_ready:
        on_ready()
    while not stop.wait(0.5):
        if not thread.is_alive():
            break
    if on_draining:
        on_draining()
    server.drain(timeout=drain_timeout)
    if on_stop:
        on_stop()


__all__ = [
    "DEFAULT_MAX_BODY",
    "OIPServer",
    "RunningServer",
    "make_server",
    "serve_until_signalled",
    "start_in_thread",
]
