"""Preprocessing: the feature order, the min-max scaling fitted on the training split, the labels.

This is the one definition of min-max scaling in Jukebox. The network puts the same constants
into its graph (:meth:`Preprocessing.scale_constants`), the Predict page scales rows for a model
from elsewhere with :meth:`Preprocessing.scale`, and both agree with scikit-learn's
``MinMaxScaler``: a feature whose training range is zero gets a range of 1 (``x - min``), never a
division by zero.

A scaling file a user uploads is JSON only; a pickled scaler is refused before anything reads it,
because unpickling runs whatever code the file holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from jukebox.data.schema import FEATURES
from jukebox.errors import JukeboxError

# Names of files that scikit-learn and friends write with unpickling-only serialisers.
PICKLED_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav", ".dill")


class ScalingError(JukeboxError, ValueError):
    """Scaling figures are malformed or unsafe; the message says why and how to fix them."""


@dataclass(frozen=True)
class RangeFlag:
    """A raw feature value outside ``[low, high]``, the range the model saw in training."""

    feature: str
    value: float
    low: float
    high: float

    @property
    def below(self) -> bool:
        return self.value < self.low


@dataclass(frozen=True)
class Preprocessing:
    """How raw features relate to a model: their order, the training scaler, the labels.

    ``labels`` are the countries in the model's output order; scaling figures uploaded for a
    model from elsewhere have none.
    """

    features: tuple[str, ...]
    minima: tuple[float, ...]
    maxima: tuple[float, ...]
    labels: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (len(self.features) == len(self.minima) == len(self.maxima)):
            raise ScalingError("The scaling's features, minima and maxima differ in length.")

    # --- scaling --------------------------------------------------------------------------

    def scale_constants(self) -> tuple[list[float], list[float]]:
        """``scale`` and ``offset`` such that ``x * scale + offset`` maps [min, max] onto [0, 1]."""
        scale, offset = [], []
        for low, high in zip(self.minima, self.maxima, strict=True):
            span = float(high) - float(low)
            factor = 1.0 / span if span > 0 else 1.0
            scale.append(factor)
            offset.append(-float(low) * factor)
        return scale, offset

    def scale(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Min-max scaled copy of ``frame``'s feature columns, in this preprocessing's order."""
        scale, offset = self.scale_constants()
        values = frame[list(self.features)].to_numpy(dtype="float64")
        scaled = values * np.asarray(scale) + np.asarray(offset)
        return pd.DataFrame(scaled, index=frame.index, columns=list(self.features))

    def range_flags(self, song: Mapping[str, float]) -> list[RangeFlag]:
        """Features of ``song`` outside the training range, in feature order.

        Compared in raw values, so a flag is never raised by rounding and never hidden by it.
        """
        flags = []
        for feature, low, high in zip(self.features, self.minima, self.maxima, strict=True):
            if feature in song:
                value = float(song[feature])
                if value < low or value > high:
                    flags.append(RangeFlag(feature, value, float(low), float(high)))
        return flags

    def reordered(self, features: Sequence[str] = FEATURES) -> Preprocessing:
        """The same figures with the features in ``features`` order."""
        low = dict(zip(self.features, self.minima, strict=True))
        high = dict(zip(self.features, self.maxima, strict=True))
        return Preprocessing(
            tuple(features),
            tuple(low[f] for f in features),
            tuple(high[f] for f in features),
            self.labels,
        )

    # --- JSON -----------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> Preprocessing:
        """Read ``preprocessing.json`` as a training writes it."""
        try:
            data = json.loads(text)
            return cls(
                features=tuple(str(f) for f in data["features"]),
                minima=tuple(float(v) for v in data["minima"]),
                maxima=tuple(float(v) for v in data["maxima"]),
                labels=tuple(str(label) for label in data.get("labels", ())),
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ScalingError(f"preprocessing.json is malformed: {error}") from error


def read_scaling_file(source: str | bytes, *, name: str | None = None) -> Preprocessing:
    """Scaling figures from a user's JSON file, in :data:`FEATURES` order.

    Accepts ``{"minima": [...], "maxima": [...]}`` (optionally with ``"features"`` giving their
    order, as in ``preprocessing.json``) or ``{"feature": {"min": ..., "max": ...}, ...}``. A
    pickled scaler is refused by its ``name`` or its first byte (the protocol marker of every
    modern pickle) before anything reads it.
    """
    head = source[:1] if isinstance(source, bytes) else source[:1].encode()
    if (name or "").lower().endswith(PICKLED_SUFFIXES) or head == b"\x80":
        raise ScalingError(
            "This looks like a pickled scaler, and it was never loaded: Jukebox never opens "
            "pickles, because loading one can run any code hidden in it. "
            'Save the scaler\'s minima and maxima as JSON instead: {"minima": [...], '
            f'"maxima": [...]}}, one number per feature in the order {", ".join(FEATURES)} '
            "(from scikit-learn: scaler.data_min_.tolist() and scaler.data_max_.tolist())."
        )
    try:
        data = json.loads(source)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ScalingError(
            f"The scaling file is not JSON ({error}): give minima and maxima as JSON."
        ) from None
    if not isinstance(data, dict):
        raise ScalingError('The scaling file must be a JSON object with "minima" and "maxima".')
    if "minima" in data and "maxima" in data:
        minima, maxima = data["minima"], data["maxima"]
        order = data.get("features")
        if order is not None:
            if not isinstance(order, list) or sorted(map(str, order)) != sorted(FEATURES):
                raise ScalingError("The scaling file's features are not the model's features.")
            minima = dict(zip(order, minima, strict=False))
            maxima = dict(zip(order, maxima, strict=False))
    elif data and all(isinstance(v, dict) for v in data.values()):
        try:
            minima = {k: v["min"] for k, v in data.items()}
            maxima = {k: v["max"] for k, v in data.items()}
        except KeyError:
            raise ScalingError('Each feature of the scaling file needs "min" and "max".') from None
    else:
        raise ScalingError(
            'The scaling file must hold "minima" and "maxima" lists (in feature order) or '
            '{"feature": {"min": ..., "max": ...}} for every feature.'
        )
    return Preprocessing(FEATURES, _per_feature(minima, "minima"), _per_feature(maxima, "maxima"))


def _per_feature(values: Sequence | Mapping, what: str) -> tuple[float, ...]:
    if isinstance(values, Mapping):
        missing = [f for f in FEATURES if f not in values]
        if missing:
            raise ScalingError(f"The scaling {what} lack the feature(s) {', '.join(missing)}.")
        values = [values[f] for f in FEATURES]
    try:
        numbers = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ScalingError(f"The scaling {what} must all be numbers.") from None
    if len(numbers) != len(FEATURES):
        raise ScalingError(
            f"The scaling has {len(numbers)} {what} but the model reads {len(FEATURES)} features."
        )
    return numbers
