"""The data plane: what a request to the served model does, whichever wire it came over.

REST (:mod:`jukebox.serving.routes`) and gRPC (:mod:`jukebox.serving.grpc_server`) both call one
:class:`DataPlane`, as KServe's REST and gRPC servers call its ``DataPlane``: the served-model
checks (name, version, ready), the model's run, the errors (:class:`ProtocolError`, with the
sentence both wires give), the counts that ``GET /metrics`` exposes
(:mod:`jukebox.serving.metrics`), and the payload logger's hook. A fault therefore reads the same
and is counted once, whichever protocol carried it. The wire formats stay with each transport:
an infer hands the plane a ``decode`` (its body to an :class:`InferRequest`) and an ``encode``
(the results to its answer), so the plane never sees JSON nor protobuf.

The logger hook: after each answered infer, an optional
:data:`~jukebox.serving.inference_log.InferenceLogger` receives an
:class:`~jukebox.serving.inference_log.InferenceRecord` (the request's id, or a new one when it
sent none). What it does with it is the monitoring side's business; here it only must never make
a request fail: a logger that raises is reported once on stderr, counted, and the answer goes out.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from jukebox.serving.inference_log import InferenceLogger, InferenceRecord
from jukebox.serving.metrics import ServingMetrics
from jukebox.serving.protocol import InferRequest, ProtocolError, check_served
from jukebox.serving.runtime import ServedModel

Answer = TypeVar("Answer")
Decode = Callable[[ServedModel], InferRequest]
Encode = Callable[[ServedModel, InferRequest, list[np.ndarray]], Answer]


class DataPlane:
    """One served model's requests, for every transport. ``interface`` (``"REST"`` or
    ``"gRPC"``) says which wire a call came over, for the metrics and the log."""

    def __init__(
        self,
        model: ServedModel,
        *,
        inference_logger: InferenceLogger | None = None,
        metrics: ServingMetrics | None = None,
    ) -> None:
        self.model = model
        self.inference_logger = inference_logger
        self.metrics = metrics or ServingMetrics(model.name, model.version)
        self.logger_failures = 0
        """Records the logger raised on (and so lost); the first one is printed."""

    def served(self, name: str, version: str | None) -> ServedModel:
        """The served model if ``name`` (and ``version``, when given) is it; else a 404 that says
        what is served. Not counted: no metric series exists for a model not served here."""
        return check_served(self.model, name, version)

    def model_ready(self, name: str, version: str | None, interface: str) -> ServedModel:
        """The served model, ready (it is loaded before the server binds), or a 404."""
        model = self.served(name, version)
        self.metrics.answered(interface, "ModelReady", True)
        return model

    def model_metadata(self, name: str, version: str | None, interface: str) -> ServedModel:
        """The served model, whose metadata the transport encodes, or a 404."""
        model = self.served(name, version)
        self.metrics.answered(interface, "ModelMetadata", True)
        return model

    def infer(
        self,
        name: str,
        version: str | None,
        decode: Decode,
        encode: Encode[Answer],
        interface: str,
    ) -> Answer:
        """Check the model, decode the request, run the model, encode the answer, count it, and
        hand the logger its record. Any fault a client causes is a :class:`ProtocolError`."""
        model = self.served(name, version)
        metrics = self.metrics
        started = time.perf_counter()
        metrics.started()
        ok, rows, run_seconds = False, None, 0.0
        try:
            request = decode(model)
            ran = time.perf_counter()
            try:
                results = model.run(request.feeds, request.outputs)
            except Exception as error:  # onnxruntime reports bad feeds with its own types
                raise ProtocolError(f"the model rejected the request: {error}") from None
            run_seconds = time.perf_counter() - ran
            rows = request.rows
            answer = encode(model, request, results)
            ok = True
        finally:
            metrics.finished(interface, ok, time.perf_counter() - started, rows, run_seconds)
        if self.inference_logger is not None:
            self._log(model, request, results, interface)
        return answer

    def _log(
        self, model: ServedModel, request: InferRequest, results: list[np.ndarray], interface: str
    ) -> None:
        try:
            self.inference_logger(
                InferenceRecord(
                    # 128 random bits as 32 hex digits, as uuid4().hex gives, in a quarter of
                    # its time: the record's whole budget is a few microseconds.
                    request_id=request.id or os.urandom(16).hex(),
                    model=model.name,
                    version=model.version,
                    time=time.time(),
                    inputs=request.feeds,
                    outputs=dict(zip(request.outputs, results, strict=True)),
                    protocol=interface,
                )
            )
        except Exception as error:  # the answer is built: a lost record must not lose it
            self.logger_failures += 1
            if self.logger_failures == 1:
                print(
                    f"warning: the inference logger failed ({type(error).__name__}: {error}); "
                    "requests are still answered but their records are lost (further failures "
                    "are counted, not printed)",
                    file=sys.stderr,
                    flush=True,
                )


__all__ = ["DataPlane"]
