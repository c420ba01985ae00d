"""The network: the workshop's architecture by default, its size and training knobs as parameters.

The model takes **raw** feature values, one named ``(1,)`` input per feature: right after the
concatenation a fixed min-max scaling (the training split's minima and maxima) brings them to
[0, 1]. The Keras model and the ONNX model exported from it therefore take the same raw values,
and no client can ever scale differently from training.

TensorFlow and Keras are imported inside the functions that need them, so importing this module
(for :class:`TrainingParams`, say) stays fast.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import numpy as np

from jukebox.errors import JukeboxError

if TYPE_CHECKING:
    import keras

    from jukebox.data.preprocessing import Preprocessing


class ParamsError(JukeboxError, ValueError):
    """A training parameter is out of range; the message says which, and what is allowed."""


# name: (low, high, what it means to the user)
_RANGES: dict[str, tuple[float, float, str]] = {
    "epochs": (1, 1000, "passes over the training data"),
    "batch_size": (1, 65536, "rows per training step"),
    "learning_rate": (1e-6, 1.0, "Adam's step size"),
    "dropout": (0.0, 0.9, "fraction of units dropped after each hidden layer"),
    "width": (1, 4096, "units of the first hidden layer (each next layer doubles)"),
    "depth": (1, 8, "number of hidden layers"),
    "seed": (0, 2**31 - 1, "random seed"),
    "patience": (1, 100, "epochs without a better validation loss before training stops"),
}
SCALINGS = ("quantile", "min-max")
"""How the network's first layers bring raw features to a common scale: each feature mapped
through its training quantiles onto a normal score (the default), or min-max onto [0, 1]."""
QUANTILE_KNOTS = 101
STEPS_PER_EXECUTION = 8
"""Batches per call into TensorFlow: the network is small, so a call's fixed cost outweighs a
batch's arithmetic; eight at a time halves the training time and computes the same weights.
Progress, stop requests and NaN checks then come every eight batches."""
ROWS = ("songs", "chart rows")
"""How training walks the data: one row per song (its chart rows per country as weights; the
default) or every chart row, the workshop's way. Both minimise the same loss."""


@dataclass(frozen=True)
class TrainingParams:
    """How big the network is and how it is trained.

    The defaults are what the search (issue 22) found on the default data set, far above the
    workshop's network (``width=32, depth=4``: dense 32-64-128-256, min-max scaling; 80 % of the
    Bayes ceiling there): every feature through its training quantiles onto a normal score
    (``scaling="quantile"``), one wide hidden layer (``width=512, depth=1``) with half its units
    dropped in training, Adam at 0.001 on batches of 128, trained song by song
    (``rows="songs"``: one row per song, weighted by its chart rows, the same loss as every chart
    row from about 60 times fewer rows) for at most ``epochs`` epochs, stopped once the
    validation loss (on songs held out whole) has not improved for ``patience`` epochs, keeping
    the best epoch's weights. ``batch_size`` counts training rows: songs by default, chart rows
    with ``rows="chart rows"`` (the workshop's way; give it a few epochs and a larger batch,
    say 512).
    """

    epochs: int = 200
    batch_size: int = 128
    learning_rate: float = 0.001
    dropout: float = 0.5
    width: int = 512
    depth: int = 1
    seed: int = 42
    rows: str = "songs"
    scaling: str = "quantile"
    early_stopping: bool = True
    patience: int = 10

    def __post_init__(self) -> None:
        problems = validation_problems(asdict(self))
        if problems:
            raise ParamsError(" ".join(problems))
        # JSON and KFP parameters carry whole numbers as floats (42.0); the libraries want ints.
        for name in _INTEGERS:
            object.__setattr__(self, name, int(getattr(self, name)))
        if isinstance(self.early_stopping, str):  # from a command line or a KFP parameter
            object.__setattr__(self, "early_stopping", self.early_stopping.lower() == "true")

    @property
    def hidden_units(self) -> tuple[int, ...]:
        """Units per hidden layer: ``width`` doubling ``depth`` times (32 and 4: 32-64-128-256)."""
        return tuple(min(self.width * 2**i, 16384) for i in range(self.depth))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingParams:
        """Build from a dict such as ``metrics.json``'s ``params``, ignoring unknown keys."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


_INTEGERS = ("epochs", "batch_size", "width", "depth", "seed", "patience")


def validation_problems(values: dict[str, Any]) -> list[str]:
    """One sentence per parameter out of range, saying what to change; empty when all are fine."""
    problems = []
    integer = set(_INTEGERS)
    if "scaling" in values and values["scaling"] not in SCALINGS:
        problems.append(
            f"scaling must be one of {', '.join(repr(s) for s in SCALINGS)} (features through "
            f"their training quantiles, or min-max); got {values['scaling']!r}."
        )
    if "rows" in values and values["rows"] not in ROWS:
        problems.append(
            f"rows must be one of {', '.join(repr(r) for r in ROWS)} (one training row per song, "
            f"or per chart row as in the workshop); got {values['rows']!r}."
        )
    if "early_stopping" in values and not isinstance(values["early_stopping"], bool | str):
        problems.append(f"early stopping must be true or false, got {values['early_stopping']!r}.")
    for name, (low, high, meaning) in _RANGES.items():
        if name not in values:
            continue
        value = values[name]
        label = name.replace("_", " ")
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{label} must be a number ({meaning}), got {value!r}.")
            continue
        if name in integer and value != int(value):
            problems.append(f"{label} must be a whole number ({meaning}), got {value}.")
            continue
        if not math.isfinite(value) or not low <= value <= high:
            problems.append(
                f"{label} must be between {low:g} and {high:g} ({meaning}); got {value:g}. "
                f"Choose a value in that range."
            )
    return problems


@dataclass(frozen=True, eq=False)
class QuantileScaling:
    """Each feature's training quantiles (``knots``, increasing raw values) and the normal scores
    they map to (``scores``): the piecewise-linear map the ``quantile`` scaling puts in the graph.

    Skewed features (instrumentalness is 0 for half the songs and spreads over six orders of
    magnitude above) keep their detail this way; after min-max scaling most of their songs sit
    within 1e-3 of zero, where the first layer cannot tell them apart.
    """

    knots: tuple[tuple[float, ...], ...]
    scores: tuple[tuple[float, ...], ...]


def quantile_scaling(x: np.ndarray, n_knots: int = QUANTILE_KNOTS) -> QuantileScaling:
    """Fit the quantile map on the rows ``x`` (one row per training song, raw values).

    A value shared by a range of quantiles (a spike, like instrumentalness 0) becomes one knot at
    the middle of that range; scores are normal quantiles clipped to about ±3.1, and a feature with
    a single value maps to 0. Beyond the training range the map is flat.
    """
    from statistics import NormalDist

    normal = NormalDist()
    probabilities = np.linspace(0.0, 1.0, n_knots)
    knots, scores = [], []
    for column in np.asarray(x, dtype=np.float64).T:
        values, first = np.unique(np.quantile(column, probabilities), return_index=True)
        last = np.r_[first[1:] - 1, len(probabilities) - 1]
        middle = np.clip((probabilities[first] + probabilities[last]) / 2, 0.001, 0.999)
        if len(values) == 1:
            knots.append((float(values[0]),) * 2)
            scores.append((0.0, 0.0))
            continue
        knots.append(tuple(float(v) for v in values))
        scores.append(tuple(normal.inv_cdf(float(p)) for p in middle))
    return QuantileScaling(tuple(knots), tuple(scores))


def _quantile_weights(scaling: QuantileScaling) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights of two fixed dense layers computing the map as a sum of clipped ramps:
    ``score(x) = s0 + sum_j (s[j+1] - s[j]) * clip((x - k[j]) / (k[j+1] - k[j]), 0, 1)``."""
    n = len(scaling.knots)
    segments = max(len(k) - 1 for k in scaling.knots)
    ramp_kernel = np.zeros((n, n * segments), dtype=np.float32)
    ramp_bias = np.zeros(n * segments, dtype=np.float32)
    rise_kernel = np.zeros((n * segments, n), dtype=np.float32)
    rise_bias = np.zeros(n, dtype=np.float32)
    for f, (knots, scores) in enumerate(zip(scaling.knots, scaling.scores, strict=True)):
        knots, scores = np.asarray(knots), np.asarray(scores)
        widths = np.diff(knots)
        ramps = widths > 0  # a constant feature has none: its score is s0 = 0 everywhere
        columns = f * segments + np.flatnonzero(ramps)
        ramp_kernel[f, columns] = 1.0 / widths[ramps]
        ramp_bias[columns] = -knots[:-1][ramps] / widths[ramps]
        rise_kernel[columns, f] = np.diff(scores)[ramps]
        rise_bias[f] = scores[0]
    return [ramp_kernel, ramp_bias], [rise_kernel, rise_bias]


def build_model(
    preprocessing: Preprocessing,
    params: TrainingParams | None = None,
    quantiles: QuantileScaling | None = None,
) -> keras.Model:
    """The classifier: named raw inputs -> concat -> scaling -> dense ReLU -> softmax.

    With ``params.scaling == "quantile"`` (the default; ``quantiles`` from
    :func:`quantile_scaling` on the training songs) the scaling is two fixed ``Dense`` layers
    around a ``ReLU(max_value=1)``: each feature through its training quantiles onto a normal
    score. With ``"min-max"`` it is a ``Rescaling`` layer with fixed per-feature constants,
    ``x * scale + offset``, exactly scikit-learn's MinMaxScaler transform, from
    :meth:`Preprocessing.scale_constants`. Either way the constants are part of the graph (and of
    the ONNX model), the model takes raw values, and ``model.keras`` loads without custom code.
    """
    n_classes = len(preprocessing.labels)
    if n_classes < 2:
        raise ValueError("The model needs at least two countries to choose between.")
    import keras

    params = params or TrainingParams()
    inputs = [
        keras.Input(shape=(1,), name=name, dtype="float32") for name in preprocessing.features
    ]
    x = keras.layers.Concatenate(name="features")(inputs)
    fixed: list[tuple[keras.layers.Layer, list[np.ndarray]]] = []
    if params.scaling == "quantile":
        if quantiles is None:
            raise ValueError("The quantile scaling needs the training quantiles (quantiles=).")
        ramps, rises = _quantile_weights(quantiles)
        ramp = keras.layers.Dense(ramps[0].shape[1], name="quantile_ramps", trainable=False)
        rise = keras.layers.Dense(len(preprocessing.features), name="quantile_scaling")
        rise.trainable = False
        x = rise(keras.layers.ReLU(max_value=1.0, name="quantile_clip")(ramp(x)))
        fixed = [(ramp, ramps), (rise, rises)]
    else:
        scale, offset = preprocessing.scale_constants()
        x = keras.layers.Rescaling(scale=scale, offset=offset, name="min_max_scaling")(x)
    for i, units in enumerate(params.hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{i + 1}")(x)
        if params.dropout > 0:
            x = keras.layers.Dropout(params.dropout, seed=params.seed + i, name=f"dropout_{i + 1}")(
                x
            )
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="output")(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="jukebox")
    for layer, weights in fixed:
        layer.set_weights(weights)
    compile_for_rows(model, params, n_classes)
    return model


def compile_for_rows(model: keras.Model, params: TrainingParams, n_classes: int) -> None:
    """Compile for one country index per chart row: how a saved ``model.keras`` is compiled."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=params.learning_rate),
        loss="sparse_categorical_crossentropy",
        steps_per_execution=STEPS_PER_EXECUTION,
        metrics=[
            "accuracy",
            keras.metrics.SparseTopKCategoricalAccuracy(k=min(5, n_classes), name="top5"),
        ],
    )


def compile_for_songs(model: keras.Model, params: TrainingParams, n_classes: int) -> None:
    """Compile for one row per song: the label is the song's share of chart rows per country,
    the sample weight its number of chart rows. The loss is then the row-by-row cross-entropy,
    and the weighted ``accuracy``/``top5`` are exactly the chart-row accuracies (the share of a
    song's rows whose country is the model's first, or among its first five, choices)."""
    import keras
    from keras import ops

    k = min(5, n_classes)

    def accuracy(y_true, y_pred):
        best = ops.one_hot(ops.argmax(y_pred, axis=-1), n_classes)
        return ops.sum(y_true * best, axis=-1)

    def top5(y_true, y_pred):
        kth = ops.top_k(y_pred, k)[0][:, -1:]
        return ops.sum(y_true * ops.cast(y_pred >= kth, y_true.dtype), axis=-1)

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=params.learning_rate),
        loss="categorical_crossentropy",
        steps_per_execution=STEPS_PER_EXECUTION,
        weighted_metrics=[
            keras.metrics.MeanMetricWrapper(accuracy, name="accuracy"),
            keras.metrics.MeanMetricWrapper(top5, name="top5"),
        ],
    )


def set_determinism(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's kernels deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    with contextlib.suppress(RuntimeError):  # already enabled in this process
        tf.config.experimental.enable_op_determinism()
