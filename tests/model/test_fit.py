"""A short real training that learns, reports progress, stops on request, refuses NaN input
and stops when the loss diverges."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from jukebox.model.evaluation import chance_accuracy, evaluate
from jukebox.model.fit import TrainingError, predict, train
from jukebox.model.network import TrainingParams

pytestmark = pytest.mark.slow  # every test here fits a network


def test_training_learns_clearly_better_than_chance(prepared, trained):
    result, _events = trained
    metrics = evaluate(
        predict(result.model, prepared.features, prepared.x_test), prepared.y_test, prepared.labels
    )
    chance = chance_accuracy(prepared.y_train, prepared.y_test)
    assert metrics.accuracy > chance + 0.2, (metrics.accuracy, chance)
    assert metrics.accuracy > 2 / prepared.n_classes
    assert result.history["loss"][-1] < result.history["loss"][0]
    assert result.epochs_run == 4 and not result.stopped


def test_listeners_hear_every_epoch_with_validation_figures(trained):
    result, events = trained
    kinds = [e.kind for e in events]
    assert kinds[0] == "train_begin" and kinds[-1] == "train_end"
    epoch_ends = [e for e in events if e.kind == "epoch_end"]
    assert [e.epoch for e in epoch_ends] == [1, 2, 3, 4]
    assert all("val_accuracy" in e.metrics and "val_loss" in e.metrics for e in epoch_ends)
    assert [e.loss for e in epoch_ends] == pytest.approx(result.history["loss"])
    progress = [e.progress for e in events if e.kind == "batch_end"]
    assert progress == sorted(progress) and progress[-1] == pytest.approx(1.0)
    assert events[-1].progress == 1.0


def stopped_after(prepared, n_batches: int, seed: int):
    """Train 5 epochs, asking to stop once ``n_batches`` batches are reported."""
    seen = []
    result = train(
        prepared,
        TrainingParams(epochs=5, batch_size=8, width=8, depth=2, seed=seed),
        listeners=[lambda e: seen.append(e) if e.kind == "batch_end" else None],
        should_stop=lambda: len(seen) >= n_batches,
        batch_interval=0.0,
    )
    return result, seen


def test_stop_ends_training_after_the_current_batch_and_seeds_repeat(prepared):
    # Batches run eight to a call (STEPS_PER_EXECUTION): a stop asked after the first report
    # ends training after that call, inside the first epoch.
    first, seen = stopped_after(prepared, 1, seed=11)
    assert first.stopped
    assert first.epochs_run == 1
    assert len(seen) <= 2
    # The same seed gives the very same model: same initial weights, same shuffling.
    second, _ = stopped_after(prepared, 1, seed=11)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(first.model.get_weights(), second.model.get_weights(), strict=True)
    )


def test_non_finite_input_is_refused_before_fitting_naming_the_column(prepared):
    x_train = prepared.x_train.copy()
    x_train[[3, 7], 2] = [np.nan, np.inf]
    broken = dataclasses.replace(prepared, x_train=x_train)
    column = prepared.features[2]
    with pytest.raises(TrainingError, match=f"Column {column} holds 2 value.*not finite"):
        train(broken, TrainingParams(epochs=1, batch_size=256, width=4, depth=1))


def test_diverging_loss_stops_with_what_to_change(prepared):
    # A finite value that the in-graph scaling (x * scale, scale > 1) overflows to infinity: IEEE
    # arithmetic gives inf there and inf - inf = NaN a layer later, on every CPU alike.
    spans = np.asarray(prepared.maxima) - np.asarray(prepared.minima)
    column = int(np.argmin(np.where(spans > 0, spans, np.inf)))
    assert 0 < spans[column] < 1
    x_train = prepared.x_train.copy()
    x_train[:, column] = np.finfo(np.float32).max
    broken = dataclasses.replace(prepared, x_train=x_train)
    with pytest.raises(TrainingError, match="NaN.*diverged.*Lower the learning rate"):
        train(broken, TrainingParams(epochs=2, batch_size=256, width=4, depth=1, scaling="min-max"))


def row_cross_entropy(model, prepared, x, y) -> float:
    probabilities = predict(model, prepared.features, x).astype(np.float64)
    return float(-np.log(np.clip(probabilities[np.arange(len(y)), y], 1e-7, 1)).mean())


def test_song_by_song_minimises_the_chart_row_loss_and_keeps_the_best_epoch(prepared):
    """Issue 11: song-level training is the same loss as row by row; early stopping on the
    validation loss keeps the best epoch's weights."""
    params = TrainingParams(
        epochs=40, batch_size=32, learning_rate=0.01, width=64, depth=3, patience=2, seed=3
    )
    assert params.rows == "songs" and params.early_stopping
    result = train(prepared, params)
    history = result.history
    assert result.epochs_run < params.epochs  # it stopped on the validation loss
    best = int(np.argmin(history["val_loss"]))
    assert best < result.epochs_run - 1  # later epochs were worse, and were not kept
    # The validation figures are the chart-row ones, for the weights that were kept.
    kept = row_cross_entropy(result.model, prepared, prepared.x_val, prepared.y_val)
    assert kept == pytest.approx(history["val_loss"][best], rel=2e-3)
    predicted = predict(result.model, prepared.features, prepared.x_val).argmax(axis=1)
    accuracy = float((predicted == prepared.y_val).mean())
    assert accuracy == pytest.approx(history["val_accuracy"][best], abs=2e-3)
    # The saved model is compiled as usual (one country index per chart row).
    assert result.model.loss == "sparse_categorical_crossentropy"


def test_chart_rows_remain_an_option_with_the_same_figures(prepared):
    params = TrainingParams(
        epochs=2, batch_size=256, width=8, depth=2, rows="chart rows", early_stopping=False
    )
    result = train(prepared, params)
    assert result.epochs_run == 2
    kept = row_cross_entropy(result.model, prepared, prepared.x_val, prepared.y_val)
    assert kept == pytest.approx(result.history["val_loss"][-1], rel=2e-3)
