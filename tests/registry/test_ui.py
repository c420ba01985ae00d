"""The Registry page's tables and figures, from plain version records."""

from __future__ import annotations

from datetime import UTC, datetime

from jukebox.registry.versions import VersionInfo
from jukebox.ui import registry as ui


def version(number: str, state: str = "LIVE", **properties) -> VersionInfo:
    return VersionInfo(
        model="jukebox",
        version=number,
        id=number,
        state=state,
        author="ana",
        created=datetime(2026, 11, 22, 12, int(number), tzinfo=UTC),
        description=None,
        properties={"jukebox.registration": "complete", **properties},
        uri=f"s3://bucket/models/jukebox/{number}/?endpoint=http://minio:9000",
    )


def test_versions_table_has_the_columns_of_the_design_in_version_order():
    versions = [
        version(
            "10",
            **{"metric.accuracy": 0.7, "data.version": "0123456789abcdef"},
            **{"run.id": "20261122-120000-abc123", "model.sha256": "feedface" * 8},
        ),
        version("2", **{"metric.accuracy": 0.6, "jukebox.production": True}),
        version("3", state="ARCHIVED"),
    ]
    table = ui.versions_table(versions)
    assert list(table.columns) == [
        "model", "version", "created", "author", "accuracy", "data version", "training",
        "sha256", "state",
    ]  # fmt: skip
    assert list(table["version"]) == ["2", "3", "10"]
    assert list(table["state"]) == ["🚀 production", "🗄️ archived", "🟢 live"]
    assert table.iloc[2]["data version"] == "0123456789ab…"
    # Issue 11, bug 3: which training a version holds, and its model.onnx, at a glance.
    assert table.iloc[2]["training"] == "20261122-120000-abc123"
    assert table.iloc[2]["sha256"] == "feedfacefeed…"
    assert table.iloc[0]["accuracy"] == 0.6


def test_metrics_figure_has_one_bar_series_per_version():
    a = version("1", **{"metric.accuracy": 0.5, "metric.log_loss": 1.4, "metric.n_test": 900})
    b = version("2", **{"metric.accuracy": 0.6})
    figure = ui.metrics_figure([a, b])
    legend = [trace.name for trace in figure.data if trace.showlegend]
    assert legend == ["jukebox v1", "jukebox v2"]
    # Counts are not scores: n_test gets no bar. Names as on the Train page; issue 11: log loss
    # on its own axis, so it does not squash the scores.
    scores = [t for t in figure.data if t.yaxis == "y"]
    losses = [t for t in figure.data if t.yaxis == "y2"]
    assert [list(t.x) for t in scores] == [["Accuracy"], ["Accuracy"]]
    assert [list(t.y) for t in scores] == [[0.5], [0.6]]
    assert [list(t.x) for t in losses] == [["Log loss"], ["Log loss"]]
    assert [list(t.y) for t in losses] == [[1.4], [None]]
    assert list(figure.layout.yaxis.range) == [0, 1.1]
    assert figure.layout.yaxis2.title.text == "log loss"
    only_scores = ui.metrics_figure([b])
    assert {t.yaxis for t in only_scores.data} == {"y"}


def test_parameters_diff_puts_differences_first():
    a = version("1", **{"param.epochs": 10, "param.seed": 1, "param.units": "[64]"})
    b = version("2", **{"param.epochs": 20, "param.seed": 1})
    diff = ui.parameters_diff([a, b])
    assert list(diff["parameter"]) == ["epochs", "units", "seed"]
    assert list(diff["differs"]) == [True, True, False]
    assert list(diff["jukebox v2"]) == ["20", "—", "1"]


def test_lineage_shows_what_is_known_and_marks_the_rest_unknown():
    v = version(
        "4", **{"data.source": "kaggle", "run.id": "run-9", "bundle.origin": "/x/models/t1"}
    )
    nodes, edges = ui.lineage(v)
    by_title = {n["title"]: n for n in nodes}
    assert by_title["Data source"]["detail"] == "kaggle"
    assert not by_title["Data version"]["known"]
    assert by_title["Training run"]["detail"] == "run-9"
    assert by_title["Exported bundle"]["detail"] == "t1"
    assert by_title["Stored artifact"]["detail"] == "s3://bucket/models/jukebox/4/"
    assert len(edges) == len(nodes) - 1
    figure = ui.lineage_figure(v)
    assert len(figure.layout.annotations) == len(edges)
    assert ui.UNKNOWN_COLOUR in figure.data[0].marker.color


def test_model_card_headings_move_down():
    assert ui.card_markdown("# Title\ntext\n## Part") == "#### Title\ntext\n##### Part"
