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
}


@dataclass(frozen=True)
class TrainingParams:
    """How big the network is and how it is trained.

    The defaults are the workshop's network (``width=32, depth=4``: dense 32-64-128-256) with a
    batch size and learning rate chosen so that two epochs on the full data set take seconds
    rather than an hour: a larger batch needs a larger step to learn as much per epoch.
    """

    epochs: int = 2
    batch_size: int = 512
    learning_rate: float = 0.003
    dropout: float = 0.0
    width: int = 32
    depth: int = 4
    seed: int = 42

    def __post_init__(self) -> None:
        problems = validation_problems(asdict(self))
        if problems:
            raise ParamsError(" ".join(problems))
        # JSON and KFP parameters carry whole numbers as floats (42.0); the libraries want ints.
        for name in ("epochs", "batch_size", "width", "depth", "seed"):
            object.__setattr__(self, name, int(getattr(self, name)))

    @property
    def hidden_units(self) -> tuple[int, ...]:
        """Units per hidden layer: ``width`` doubling ``depth`` times, like 32-64-128-256."""
        return tuple(min(self.width * 2**i, 16384) for i in range(self.depth))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingParams:
        """Build from a dict such as ``metrics.json``'s ``params``, ignoring unknown keys."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def validation_problems(values: dict[str, Any]) -> list[str]:
    """One sentence per parameter out of range, saying what to change; empty when all are fine."""
    problems = []
    integer = {"epochs", "batch_size", "width", "depth", "seed"}
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


def build_model(preprocessing: Preprocessing, params: TrainingParams | None = None) -> keras.Model:
    """The classifier: named raw inputs -> concat -> min-max scaling -> dense ReLU -> softmax.

    The scaling is a built-in Keras ``Rescaling`` layer with fixed per-feature constants,
    ``x * scale + offset``, exactly scikit-learn's MinMaxScaler transform; as constants (not
    weights) they become part of the ONNX graph, and ``model.keras`` loads without custom code.
    The constants come from :meth:`Preprocessing.scale_constants`, the one definition of the
    scaling in Jukebox.
    """
    n_classes = len(preprocessing.labels)
    if n_classes < 2:
        raise ValueError("The model needs at least two countries to choose between.")
    import keras

    params = params or TrainingParams()
    scale, offset = preprocessing.scale_constants()
    inputs = [
        keras.Input(shape=(1,), name=name, dtype="float32") for name in preprocessing.features
    ]
    x = keras.layers.Concatenate(name="features")(inputs)
    x = keras.layers.Rescaling(scale=scale, offset=offset, name="min_max_scaling")(x)
    for i, units in enumerate(params.hidden_units):
        x = keras.layers.Dense(units, activation="relu", name=f"dense_{i + 1}")(x)
        if params.dropout > 0:
            x = keras.layers.Dropout(params.dropout, seed=params.seed + i, name=f"dropout_{i + 1}")(
                x
            )
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="output")(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="jukebox")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=params.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=[
            "accuracy",
            keras.metrics.SparseTopKCategoricalAccuracy(k=min(5, n_classes), name="top5"),
        ],
    )
    return model


def set_determinism(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and make TensorFlow's kernels deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    with contextlib.suppress(RuntimeError):  # already enabled in this process
        tf.config.experimental.enable_op_determinism()
