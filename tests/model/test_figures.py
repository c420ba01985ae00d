"""The model lab's figures: built from plain values, checked without a browser."""

from __future__ import annotations

import numpy as np
import pytest

from jukebox.ui import model as figures


def test_confusion_heatmap_has_country_codes_on_both_axes_and_row_shares():
    matrix = [[3, 1, 0], [0, 2, 2], [0, 0, 0]]
    figure = figures.confusion_heatmap(matrix, ["BR", "DE", "US"])
    heatmap = figure.data[0]
    assert list(heatmap.x) == ["BR", "DE", "US"] and list(heatmap.y) == ["BR", "DE", "US"]
    np.testing.assert_allclose(heatmap.z, [[0.75, 0.25, 0], [0, 0.5, 0.5], [0, 0, 0]])
    assert "true DE (Germany)" in heatmap.text[1][2] and "2 rows" in heatmap.text[1][2]
    assert figure.layout.yaxis.title.text == "true country"
    assert figure.layout.xaxis.title.text == "predicted country"
    counts = figures.confusion_heatmap(matrix, ["BR", "DE", "US"], normalize=False)
    np.testing.assert_allclose(counts.data[0].z, matrix)


def test_confusion_colours_span_the_mistakes_and_every_country_is_labelled():
    """Issue 11: the diagonal washed the mistakes out, and most country codes had no label."""
    labels = [f"C{i:02d}" for i in range(72)]
    matrix = np.diag(np.full(72, 90)) + 1
    matrix[3, 5] = 11  # the largest mistake: 11 of 90 + 72 rows
    figure = figures.confusion_heatmap(matrix.tolist(), labels)
    heatmap = figure.data[0]
    assert heatmap.zmax == pytest.approx(11 / (90 + 71 + 11))
    assert list(figure.layout.xaxis.tickvals) == labels
    assert list(figure.layout.yaxis.tickvals) == labels


def test_confusion_heatmap_refuses_a_matrix_of_the_wrong_size():
    with pytest.raises(ValueError, match="must be 2 x 2"):
        figures.confusion_heatmap([[1, 2, 3]], ["BR", "DE"])


def test_training_curves_show_running_and_epoch_values_for_both_splits():
    history = {
        "loss": [1.2, 0.9],
        "val_loss": [1.1, 1.0],
        "accuracy": [0.5, 0.6],
        "val_accuracy": [0.55, 0.58],
    }
    curve = [{"x": 0.5, "loss": 1.5, "accuracy": 0.4}, {"x": 1.5, "loss": 1.0, "accuracy": 0.55}]
    figure = figures.training_curves(history, curve, epochs=3)
    names = [(t.name, t.xaxis) for t in figure.data]
    assert ("training (running)", "x") in names and ("validation", "x2") in names
    validation_loss = next(t for t in figure.data if t.name == "validation" and t.xaxis == "x")
    assert list(validation_loss.y) == [1.1, 1.0] and list(validation_loss.x) == [1, 2]
    assert figure.layout.xaxis.range[1] >= 3  # the whole planned span, before it is done
    empty = figures.training_curves(None, None)
    assert len(empty.data) == 0


def test_per_country_table_and_figure_rank_by_f1():
    rows = [
        {"country": "DE", "precision": 0.5, "recall": 0.4, "f1": 0.44, "support": 10},
        {"country": "BR", "precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 5},
    ]
    table = figures.per_country_table(rows)
    assert table["country"].tolist() == ["BR", "DE"]
    assert table["name"].tolist() == ["Brazil", "Germany"]
    figure = figures.per_country_figure(rows)
    assert list(figure.data[0].x) == ["BR", "DE"] and list(figure.data[0].y) == [0.85, 0.44]


def test_comparison_puts_trainings_side_by_side():
    summaries = [
        {
            "training": "a",
            "accuracy": 0.3,
            "top5_accuracy": 0.8,
            "f1_macro": 0.2,
            "accuracy_to_bayes": None,
        },
        {
            "training": "b",
            "accuracy": 0.35,
            "top5_accuracy": 0.85,
            "f1_macro": 0.25,
            "accuracy_to_bayes": 0.9,
        },
    ]
    figure = figures.comparison_figure(summaries)
    assert [t.name for t in figure.data] == ["a", "b"]
    assert list(figure.data[0].x) == ["Accuracy", "Top-5 accuracy", "F1 (macro)"]
    assert list(figure.data[1].y) == [0.35, 0.85, 0.25, 0.9]
    assert figures.comparison_table(summaries)["training"].tolist() == ["a", "b"]


def test_ceiling_figure_places_model_between_chance_and_bayes():
    figure = figures.ceiling_figure(0.3, 0.4, 0.1)
    assert list(figure.data[0].y) == ["chance", "model", "Bayes ceiling"]
    assert list(figure.data[0].x) == [0.1, 0.3, 0.4]
    assert list(figures.ceiling_figure(0.3, None).data[0].y) == ["model"]


def test_the_accuracy_curve_carries_the_bayes_ceiling_and_room_above_it():
    """Issue 11: a user sees when validation is above what is possible."""
    history = {"accuracy": [0.15, 0.21], "val_accuracy": [0.16, 0.209], "val_loss": [3.1, 3.0]}
    figure = figures.training_curves(history, epochs=2, ceiling=0.177)
    (line,) = [s for s in figure.layout.shapes if s.type == "line"]
    assert line.y0 == line.y1 == pytest.approx(0.177)
    assert line.yref == "y2"  # on the accuracy panel, not the loss panel
    assert "Bayes ceiling 0.177" in [a.text for a in figure.layout.annotations]
    low, high = figure.layout.yaxis2.range
    assert low == 0 and 0.209 < high < 0.5  # zoomed so the gap to the ceiling shows
    assert not [s for s in figures.training_curves(history, epochs=2).layout.shapes]
    assert figures.best_epoch(history) == 2 and figures.best_epoch({}) is None


def test_the_split_is_said_in_words():
    from jukebox.model.report import SplitFacts

    split = SplitFacts(800, 200, 300, 6, "2024-01-01", "2024-01-10", 3, (), "song", 40, 10)
    words = split.describe()
    assert "10 songs held out whole" in words and "never trained on" in words
    assert "2024-01-01 to 2024-01-10" in words and "40 songs" in words
    by_row = SplitFacts.from_dict({"train": 800, "validation": 200, "validation_by": "row"})
    assert "same songs appear in training" in by_row.describe()


def test_the_epochs_trained_are_those_run_not_those_given():
    from jukebox.model.report import FitFacts
    from jukebox.ui.model import epochs_trained

    stopped = FitFacts(epochs_run=21, stopped=True, seconds=3.0, history={})
    assert epochs_trained(stopped, {"epochs": 50}) == (
        "trained 21 of 50 epochs (stopped early: no better for a while)"
    )
    full = FitFacts(epochs_run=5, stopped=False, seconds=3.0, history={})
    assert epochs_trained(full, {"epochs": 5}) == "trained 5 epoch(s)"
