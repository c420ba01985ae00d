"""What the data plane hands to a payload logger after each inference, and the logger's shape.

One :class:`InferenceRecord` per answered ``infer`` request, REST or gRPC alike: the request's
inputs and the model's outputs as arrays, the served model's name and version, when it was
answered and the request's id (the client's, or one made up when it sent none). The serving layer
only calls the logger; what a record becomes (a bounded log in ``JUKEBOX_HOME``, a CloudEvent to a
real TrustyAI service) is :mod:`jukebox.monitoring`'s business, so serving never imports it.

A logger is called on the serving thread, right after the answer is built: it must not block nor
raise. Cost budget: under 5 % of one-row throughput, about 5 µs a record on the 2-core target
(``benchmarks/bench_serving.py`` prints it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class InferenceRecord:
    """One answered inference. ``inputs`` maps each input's name to its array as served
    (``[N, 1]`` for Jukebox's features); ``outputs`` each output's name to its ``[N, k]`` array."""

    request_id: str
    model: str
    version: str
    time: float  # seconds since the epoch, when the answer was built
    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    protocol: str = "REST"  # or "gRPC"


InferenceLogger = Callable[[InferenceRecord], None]
