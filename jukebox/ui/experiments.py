"""Tables and figures of the Experiments page: experiment runs in, tables and plotly figures out.

Pure functions over :class:`jukebox.registry.experiments.RunSummary` and metric histories (as
:func:`jukebox.registry.experiments.metric_history` returns them), so tests check them without
a browser or a registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go

from jukebox.registry.experiments import RunSummary

KEY_PARAMS = ("width", "depth", "dropout", "learning_rate", "batch_size", "epochs")
"""The parameters the runs table shows and the parallel coordinates chart lays out."""
CURVE_METRICS = ("val_accuracy", "val_loss", "loss", "accuracy")
"""The per-epoch metrics a comparison can overlay."""
TARGET = "val_accuracy"
PALETTE = ("#1DB954", "#4C72B0", "#E4572E", "#8172B2", "#CCB974", "#64B5CD", "#8C8C8C")
DIFFERENT = "background-color: rgba(228, 87, 46, 0.18)"

EMPTY_EXPERIMENTS = (
    "No experiment runs yet: train a model on the Train page (or with `python -m jukebox "
    "train`), run the training pipeline on the Pipelines page, or run a search; each training "
    "is logged here as a run."
)


def _when(seconds: float | None) -> datetime | None:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None) if seconds else None


def duration(run: RunSummary) -> float | None:
    """Seconds from the run's start to its end (None while it runs)."""
    if run.started is None or run.ended is None:
        return None
    return round(run.ended - run.started, 1)


def runs_table(runs: Sequence[RunSummary]) -> pd.DataFrame:
    """One row per run: name, source, status, started, duration (s), the key parameters, the
    last validation accuracy, the test accuracy and the version registered from it."""
    rows = [
        {
            "run": run.name,
            "source": run.source,
            "status": run.status,
            "started": _when(run.started),
            "duration (s)": duration(run),
            **{name: run.params.get(name) for name in KEY_PARAMS},
            "val_accuracy": run.metrics.get("val_accuracy"),
            "test accuracy": run.metrics.get("test_accuracy"),
            "registered as": run.registered_as or "",
        }
        for run in runs
    ]
    columns = ["run", "source", "status", "started", "duration (s)", *KEY_PARAMS]
    columns += ["val_accuracy", "test accuracy", "registered as"]
    return pd.DataFrame(rows, columns=columns)


def _words(run: RunSummary) -> str:
    parts = [run.name, run.source, run.status, run.registered_as or ""]
    parts += [f"{k}={v}" for k, v in run.params.items()]
    return " ".join(str(p) for p in parts).lower()


def filter_runs(
    runs: Iterable[RunSummary],
    text: str = "",
    statuses: Iterable[str] = (),
    sources: Iterable[str] = (),
) -> list[RunSummary]:
    """The runs whose name, source, status, registered version or ``parameter=value`` contain
    every word of ``text`` (any case), among ``statuses`` and ``sources`` when given."""
    words = text.lower().split()
    statuses, sources = set(statuses), set(sources)
    return [
        run
        for run in runs
        if (not statuses or run.status in statuses)
        and (not sources or run.source in sources)
        and all(word in _words(run) for word in words)
    ]


def _empty(message: str) -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.update_layout(height=260, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return figure


def curves_figure(
    histories: Mapping[str, Mapping[str, Sequence[tuple[int, float]]]], metric: str
) -> go.Figure:
    """``metric`` per epoch, one line per run (``histories``: run name → its metric history)."""
    figure = go.Figure()
    for i, (name, history) in enumerate(histories.items()):
        points = history.get(metric) or []
        if not points:
            continue
        figure.add_trace(
            go.Scatter(
                x=[step for step, _ in points],
                y=[value for _, value in points],
                mode="lines+markers",
                name=name,
                line={"color": PALETTE[i % len(PALETTE)]},
            )
        )
    if not figure.data:
        return _empty(f"None of these runs logged {metric}.")
    figure.update_layout(
        title=f"{metric} per epoch",
        xaxis_title="epoch",
        yaxis_title=metric,
        height=380,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def params_side_by_side(runs: Sequence[RunSummary]) -> pd.DataFrame:
    """One row per parameter (the key ones first), one column per run, values as text, so a
    glance shows what two runs did differently."""
    names = [p for p in KEY_PARAMS if any(p in run.params for run in runs)]
    names += sorted({p for run in runs for p in run.params} - set(names))
    table = pd.DataFrame(
        {run.name: [_cell(run.params.get(p)) for p in names] for run in runs}, index=names
    )
    table.index.name = "parameter"
    return table


def _cell(value) -> str:
    return "" if value is None else str(value)


def differing(table: pd.DataFrame) -> list[str]:
    """The parameters (rows of :func:`params_side_by_side`) whose value is not the same in
    every run."""
    return [name for name, row in table.iterrows() if row.nunique(dropna=False) > 1]


def highlight_differences(table: pd.DataFrame):
    """``table`` styled with the rows that differ between runs highlighted."""
    different = set(differing(table))
    return table.style.apply(
        lambda row: [DIFFERENT if row.name in different else ""] * len(row), axis=1
    )


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def parcoords_figure(runs: Sequence[RunSummary], target: str = TARGET) -> go.Figure:
    """Parallel coordinates of the key parameters (those numeric in some run) against
    ``target``, one line per run that logged it, coloured by it."""
    scored = [run for run in runs if _number(run.metrics.get(target)) is not None]
    if len(scored) < 2:
        return _empty(f"Parallel coordinates need two or more runs that logged {target}.")
    dimensions = []
    for name in KEY_PARAMS:
        values = [_number(run.params.get(name)) for run in scored]
        if all(v is None for v in values):
            continue
        dimensions.append({"label": name, "values": [v if v is not None else 0 for v in values]})
    target_values = [float(run.metrics[target]) for run in scored]
    dimensions.append({"label": target, "values": target_values})
    figure = go.Figure(
        go.Parcoords(
            line={
                "color": target_values,
                "colorscale": "Viridis",
                "showscale": True,
                "colorbar": {"title": target},
            },
            dimensions=dimensions,
        )
    )
    figure.update_layout(
        title=f"Parameters against {target} ({len(scored)} runs)",
        height=420,
        margin={"l": 60, "r": 60, "t": 70, "b": 30},
    )
    return figure


def run_label(run: RunSummary) -> str:
    """A run for pickers: its name, status and validation accuracy."""
    accuracy = run.metrics.get("val_accuracy")
    score = f" · val_accuracy {accuracy:.3f}" if isinstance(accuracy, int | float) else ""
    return f"{run.name} · {run.status.lower()}{score}"
