"""The Experiments page's tables and figures (:mod:`jukebox.ui.experiments`), without a
browser or a registry."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from jukebox.registry.experiments import RunSummary
from jukebox.ui import experiments as ui


def run(name, *, status="FINISHED", source="cli", width=64, val=0.5, **extra):
    return RunSummary(
        run_id=name,
        name=name,
        experiment_id="1",
        status=status,
        started=1_700_000_000.0,
        ended=1_700_000_042.5 if status != "RUNNING" else None,
        params={"width": width, "depth": 2, "learning_rate": 0.003, "rows": "songs", **extra},
        metrics={"val_accuracy": val, "test_accuracy": val - 0.1} if val is not None else {},
        properties={"jukebox.source": source},
    )


def test_the_runs_table_has_one_row_per_run_with_its_key_figures():
    registered = RunSummary(
        "r", "r", "1", "FINISHED", 1.0, 2.0, {}, {},
        {"jukebox.source": "page", "model.name": "jukebox", "model.version": "3"},
    )  # fmt: skip
    table = ui.runs_table([run("a"), run("b", status="RUNNING", val=None), registered])
    assert list(table["run"]) == ["a", "b", "r"]
    assert table.loc[0, "duration (s)"] == 42.5 and table.loc[0, "width"] == 64
    assert table.loc[0, "val_accuracy"] == 0.5 and table.loc[0, "test accuracy"] == 0.4
    assert pd.isna(table.loc[1, "duration (s)"])
    assert table.loc[2, "registered as"] == "jukebox 3"
    for column in ("source", "status", "started", *ui.KEY_PARAMS):
        assert column in table.columns
    assert ui.runs_table([]).empty


def test_filters_match_words_status_and_source():
    runs = [run("alpha", width=8), run("beta", source="page"), run("gamma", status="FAILED")]
    assert [r.name for r in ui.filter_runs(runs, "ALPHA")] == ["alpha"]
    assert [r.name for r in ui.filter_runs(runs, "width=8")] == ["alpha"]
    assert [r.name for r in ui.filter_runs(runs, sources=["page"])] == ["beta"]
    assert [r.name for r in ui.filter_runs(runs, statuses=["FAILED"])] == ["gamma"]
    assert ui.filter_runs(runs, "alpha beta") == []
    assert len(ui.filter_runs(runs)) == 3


def test_curves_overlay_one_line_per_run_for_the_chosen_metric():
    histories = {
        "a": {"val_accuracy": [(1, 0.2), (2, 0.3)], "loss": [(1, 3.0), (2, 2.5)]},
        "b": {"val_accuracy": [(1, 0.25), (2, 0.35), (3, 0.4)]},
    }
    figure = ui.curves_figure(histories, "val_accuracy")
    assert [t.name for t in figure.data] == ["a", "b"]
    assert list(figure.data[1].x) == [1, 2, 3] and list(figure.data[1].y) == [0.25, 0.35, 0.4]
    assert [t.name for t in ui.curves_figure(histories, "loss").data] == ["a"]
    empty = ui.curves_figure(histories, "accuracy")
    assert (
        not empty.data and "None of these runs logged accuracy" in empty.layout.annotations[0].text
    )


def test_parameters_side_by_side_flag_the_rows_that_differ():
    table = ui.params_side_by_side([run("a", width=8), run("b", width=16, extra_only=1)])
    assert list(table.columns) == ["a", "b"]
    assert list(table.index[:3]) == ["width", "depth", "learning_rate"]  # key ones first
    assert table.loc["width"].tolist() == ["8", "16"]
    assert table.loc["extra_only"].tolist() == ["", "1"]
    assert ui.differing(table) == ["width", "extra_only"]
    styled = ui.highlight_differences(table).to_html()
    for row, name in enumerate(table.index):
        marked = f"_row{row}_col0" in styled.split(ui.DIFFERENT)[0]
        assert marked is (name in ("width", "extra_only")), name


def test_parallel_coordinates_lay_parameters_against_validation_accuracy():
    runs = [run("a", width=8, val=0.3), run("b", width=32, val=0.6), run("c", val=None)]
    figure = ui.parcoords_figure(runs)
    (trace,) = figure.data
    assert isinstance(trace, go.Parcoords)
    labels = [d.label for d in trace.dimensions]
    assert labels == ["width", "depth", "learning_rate", "val_accuracy"]  # numeric ones present
    assert list(trace.dimensions[0]["values"]) == [8, 32]
    assert list(trace.line.color) == [0.3, 0.6]
    lonely = ui.parcoords_figure(runs[:1])
    assert not lonely.data and "two or more runs" in lonely.layout.annotations[0].text


def test_run_labels_name_status_and_score():
    assert ui.run_label(run("a")) == "a · finished · val_accuracy 0.500"
    assert ui.run_label(run("b", status="RUNNING", val=None)) == "b · running"
