"""Fitting: train the network on prepared arrays, reporting progress to whoever listens.

Progress goes to *listeners*: plain callables that receive a :class:`TrainingEvent` (the page's
job status writer, the CLI's printer, a pipeline's log). A ``should_stop`` callable, checked after
every batch, stops training cleanly and keeps what was learned so far. Input that is not a finite
number is refused before fitting, naming the column; a loss that still turns NaN (the training
diverged) stops training with a :class:`TrainingError` saying what to change.

The data is fed as a batched ``tf.data`` pipeline over whole arrays: shuffled row indices,
gathered a batch at a time, then split into the named inputs. That costs a few operations per
batch instead of per row, which is what makes CPU training fast.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from jukebox.data.preparation import Prepared
from jukebox.errors import JukeboxError
from jukebox.model.network import TrainingParams, build_model, quantile_scaling, set_determinism

if TYPE_CHECKING:
    import keras

EventKind = Literal["train_begin", "batch_end", "epoch_end", "train_end"]


@dataclass(frozen=True)
class TrainingEvent:
    """One moment of a training: where it is (epoch and batch, 1-based) and how it is doing.

    ``loss`` and ``metrics`` are Keras's running values for the current epoch; at ``epoch_end``
    ``metrics`` also holds the validation figures (``val_loss``, ``val_accuracy``, …).
    """

    kind: EventKind
    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def progress(self) -> float:
        """Fraction of all batches of all epochs done, from 0 to 1."""
        if self.kind == "train_end":
            return 1.0
        done = (self.epoch - 1) * self.batches + self.batch
        return min(1.0, done / max(1, self.epochs * self.batches))

    @property
    def epoch_position(self) -> float:
        """Epochs done as a fraction (1.5 = half way through the second epoch), for curves."""
        return (self.epoch - 1) + self.batch / max(1, self.batches)


class ProgressListener(Protocol):
    """Anything called with each :class:`TrainingEvent`; it must return quickly."""

    def __call__(self, event: TrainingEvent) -> None: ...


class TrainingError(JukeboxError, RuntimeError):
    """Training could not produce a usable model; the message says what to change."""


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """The trained model and how training went.

    ``history`` maps each Keras metric (``loss``, ``accuracy``, ``top5``, ``val_*``) to one value
    per finished epoch. ``stopped`` is True when ``should_stop`` ended training early.
    """

    model: keras.Model
    params: TrainingParams
    history: dict[str, list[float]]
    epochs_run: int
    stopped: bool
    seconds: float


def _finite(value) -> float | None:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value


def _make_callback(
    listeners: list[ProgressListener],
    epochs: int,
    batches: int,
    should_stop: Callable[[], bool] | None,
    batch_interval: float,
):
    """A Keras callback that turns Keras's hooks into events, stops on request and on NaN."""
    import keras

    class _Reporter(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epoch = 1
            self.stopped = False
            self.nan_at: tuple[int, int] | None = None
            self._last_emit = 0.0

        def _emit(self, kind: EventKind, batch: int, logs: dict | None) -> None:
            logs = {k: _finite(v) for k, v in (logs or {}).items()}
            loss = logs.pop("loss", None)
            event = TrainingEvent(kind, self.epoch, epochs, batch, batches, loss, logs)
            for listener in listeners:
                listener(event)

        def on_train_begin(self, logs=None):
            self._emit("train_begin", 0, {})

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1

        def on_train_batch_end(self, batch, logs=None):
            loss = _finite((logs or {}).get("loss"))
            if loss is not None and not math.isfinite(loss):
                self.nan_at = (self.epoch, batch + 1)
                self.model.stop_training = True
                return
            if should_stop is not None and should_stop():
                self.stopped = True
                self.model.stop_training = True
            now = time.monotonic()
            if now - self._last_emit >= batch_interval or batch + 1 == batches:
                self._last_emit = now
                self._emit("batch_end", batch + 1, logs)

        def on_epoch_end(self, epoch, logs=None):
            if self.nan_at is None:
                self._emit("epoch_end", batches, logs)
            # A listener may decide at an epoch's end (a search's pruner does): no next epoch.
            if should_stop is not None and should_stop():
                self.stopped = True
                self.model.stop_training = True

    return _Reporter()


def make_dataset(prepared: Prepared, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int):
    """Batches of ``({feature: [B, 1]}, label)``: indices shuffled each epoch, rows gathered."""
    import tensorflow as tf

    features = tf.constant(np.asarray(x, dtype=np.float32))
    labels = tf.constant(np.asarray(y, dtype=np.int64))
    names = prepared.features

    def gather(indices):
        rows = tf.gather(features, indices)
        inputs = {name: rows[:, i : i + 1] for i, name in enumerate(names)}
        return inputs, tf.gather(labels, indices)

    return _batches(len(y), gather, batch_size, seed)


def make_song_dataset(
    prepared: Prepared, x: np.ndarray, counts: np.ndarray, batch_size: int, seed: int
):
    """Batches of ``({feature: [B, 1]}, country shares, weight)``, one row per song: the shares
    are the song's chart rows per country over its chart rows, the weight its chart rows over
    the mean number per song."""
    import tensorflow as tf

    totals = counts.sum(axis=1)
    features = tf.constant(np.asarray(x, dtype=np.float32))
    shares = tf.constant((counts / totals[:, None]).astype(np.float32))
    weights = tf.constant((totals / totals.mean()).astype(np.float32))
    names = prepared.features

    def gather(indices):
        rows = tf.gather(features, indices)
        inputs = {name: rows[:, i : i + 1] for i, name in enumerate(names)}
        return inputs, tf.gather(shares, indices), tf.gather(weights, indices)

    return _batches(len(totals), gather, batch_size, seed)


def _batches(n: int, gather, batch_size: int, seed: int):
    """Row indices shuffled each epoch, batched, then gathered: a few operations per batch
    rather than per row, which is what makes CPU training fast."""
    import tensorflow as tf

    return (
        tf.data.Dataset.range(n)
        .shuffle(n, seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(gather)
        .prefetch(2)
    )


def _song_validation(prepared: Prepared):
    """The validation split as one row per song (shares and weights), like the training data."""
    from jukebox.data.preparation import song_table

    x, counts = song_table(prepared.x_val, prepared.y_val, prepared.songs_val, prepared.n_classes)
    totals = counts.sum(axis=1)
    return (
        prepared.inputs(x),
        (counts / totals[:, None]).astype(np.float32),
        (totals / totals.mean()).astype(np.float32),
    )


def train(
    prepared: Prepared,
    params: TrainingParams | None = None,
    *,
    listeners: Iterable[ProgressListener] = (),
    should_stop: Callable[[], bool] | None = None,
    batch_interval: float = 0.5,
) -> TrainingResult:
    """Build the network for ``prepared`` and fit it; validation figures after each epoch.

    With ``params.rows == "songs"`` (the default) each training row is a song, weighted by its
    chart rows, its label the share of those rows per country: the same loss as the workshop's
    row by row (``"chart rows"``) from far fewer rows. With ``params.early_stopping`` training
    ends once the validation loss has not improved for ``params.patience`` epochs, and keeps the
    weights of the best epoch. ``batch_interval`` is the least time in seconds between two
    ``batch_end`` events, so a listener that writes a file is not called thousands of times a
    second.
    """
    import keras

    from jukebox.data.preparation import song_table
    from jukebox.model.network import compile_for_rows, compile_for_songs

    params = params or TrainingParams()
    listeners = list(listeners)
    _refuse_non_finite(prepared)
    set_determinism(params.seed)
    x_songs, counts = song_table(
        prepared.x_train, prepared.y_train, prepared.songs_train, prepared.n_classes
    )
    quantiles = quantile_scaling(x_songs) if params.scaling == "quantile" else None
    model = build_model(prepared.preprocessing(), params, quantiles)
    has_validation = len(prepared.y_val) > 0
    if params.rows == "songs":
        compile_for_songs(model, params, prepared.n_classes)
        n_rows = len(counts)
        train_data = make_song_dataset(prepared, x_songs, counts, params.batch_size, params.seed)
        validation = _song_validation(prepared) if has_validation else None
    else:
        n_rows = len(prepared.y_train)
        train_data = make_dataset(
            prepared, prepared.x_train, prepared.y_train, params.batch_size, params.seed
        )
        validation = (prepared.inputs(prepared.x_val), prepared.y_val) if has_validation else None
    batches = math.ceil(n_rows / params.batch_size)
    reporter = _make_callback(listeners, params.epochs, batches, should_stop, batch_interval)
    callbacks = [reporter]
    if params.early_stopping and has_validation:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=params.patience, restore_best_weights=True
            )
        )
    started = time.perf_counter()
    fit = model.fit(
        train_data,
        epochs=params.epochs,
        validation_data=validation,
        validation_batch_size=max(params.batch_size, 4096),
        callbacks=callbacks,
        shuffle=False,  # the dataset shuffles itself, once per epoch
        verbose=0,
    )
    seconds = time.perf_counter() - started
    if reporter.nan_at is not None:
        epoch, batch = reporter.nan_at
        raise TrainingError(
            f"The loss became NaN at epoch {epoch}, batch {batch}: training diverged. Lower the "
            f"learning rate (now {params.learning_rate:g}; try {params.learning_rate / 10:g}) "
            "or use a smaller network, then train again."
        )
    if params.rows == "songs":
        compile_for_rows(model, params, prepared.n_classes)  # model.keras: the usual compile
    history = {k: [float(v) for v in values] for k, values in fit.history.items()}
    epochs_run = len(history.get("loss", []))
    event = TrainingEvent(
        "train_end",
        max(1, epochs_run),
        params.epochs,
        batches,
        batches,
        history["loss"][-1] if history.get("loss") else None,
        {k: v[-1] for k, v in history.items() if k != "loss" and v},
    )
    for listener in listeners:
        listener(event)
    return TrainingResult(model, params, history, epochs_run, reporter.stopped, seconds)


def _refuse_non_finite(prepared: Prepared) -> None:
    """Raise a :class:`TrainingError` naming the first column that holds NaN or infinity.

    Whether a NaN input makes the loss NaN depends on the CPU's kernels (one machine's ReLU keeps
    it, another's compiled step does not), so it is refused here, the same on every machine.
    """
    for split, x in (("training", prepared.x_train), ("validation", prepared.x_val)):
        bad = ~np.isfinite(x)
        if bad.any():
            column = int(np.flatnonzero(bad.any(axis=0))[0])
            rows = int(bad[:, column].sum())
            raise TrainingError(
                f"Column {prepared.features[column]} holds {rows:,} value(s) that are not finite "
                f"numbers (NaN or infinity) in the {split} split. Fix or drop those rows, then "
                "train again."
            )


def predict(model: keras.Model, features: Sequence[str], x: np.ndarray) -> np.ndarray:
    """Probabilities per country (``[N, n_classes]`` float32) for raw feature rows ``x``.

    Calls the model eagerly on large chunks: ``model.predict`` traces a graph first, which
    costs more than the arithmetic for a few hundred thousand rows.
    """
    chunk = 65536
    parts = []
    for start in range(0, len(x), chunk):
        rows = np.asarray(x[start : start + chunk], dtype=np.float32)
        inputs = [rows[:, i : i + 1] for i in range(len(features))]
        parts.append(np.asarray(model(inputs, training=False)))
    if not parts:
        return np.zeros((0, model.outputs[0].shape[-1]), dtype=np.float32)
    return np.concatenate(parts).astype(np.float32)
