"""The Search page's figures and tables, from plain trial dicts."""

from __future__ import annotations

from jukebox.ui.search import best_sentence, best_so_far, trials_figure, trials_table

TRIALS = [
    {"number": 0, "params": {"width": 8, "depth": 2, "dropout": 0.1, "learning_rate": 0.003,
     "batch_size": 64}, "state": "finished", "value": 1.8, "val_accuracy": 0.2, "epochs": 3,
     "seconds": 2.04},
    {"number": 1, "params": {"width": 16, "depth": 1, "dropout": 0.0, "learning_rate": 0.02,
     "batch_size": 128}, "state": "pruned", "value": 2.5, "val_accuracy": 0.1, "epochs": 1,
     "seconds": 0.5},
    {"number": 2, "params": {"width": 32, "depth": 3, "dropout": 0.2, "learning_rate": 0.001,
     "batch_size": 256}, "state": "finished", "value": 1.6, "val_accuracy": 0.25, "epochs": 3,
     "seconds": 3.0},
]  # fmt: skip


def test_the_table_has_one_row_per_trial_with_its_outcome():
    table = trials_table(TRIALS)
    assert list(table["Trial"]) == [0, 1, 2]
    assert list(table["Outcome"]) == ["finished", "pruned (clearly worse)", "finished"]
    assert table.loc[2, "Width"] == 32 and table.loc[0, "Seconds"] == 2.0
    assert trials_table([]).empty


def test_best_so_far_ignores_pruned_trials():
    assert best_so_far(TRIALS) == [1.8, 1.8, 1.6]


def test_the_figure_marks_pruned_trials_and_the_best_so_far():
    figure = trials_figure(TRIALS)
    names = [trace.name for trace in figure.data]
    assert names == ["finished trial", "pruned trial", "best so far"]
    pruned = figure.data[1]
    assert list(pruned.x) == [1] and pruned.marker.symbol == "x"
    assert list(figure.data[2].y) == [1.8, 1.8, 1.6]
    assert trials_figure([]).data == ()


def test_the_best_in_one_sentence():
    sentence = best_sentence(TRIALS[2])
    assert sentence.startswith("Best: trial 2 with validation loss 1.6000 (accuracy 0.250)")
    assert "width 32" in sentence and "learning rate 0.001" in sentence
    assert best_sentence(None) == "No trial has finished yet."
