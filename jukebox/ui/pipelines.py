"""Figures and tables of the Pipelines page: pure functions over run records, no Streamlit."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from jukebox.pipelines.records import PipelineRun, TaskRecord
from jukebox.pipelines.training import TASKS

STATE_COLOURS = {
    "pending": "#C8C8C8",
    "running": "#4C72B0",
    "succeeded": "#1DB954",
    "failed": "#E4572E",
    "skipped": "#CCB974",
    "stopped": "#8C8C8C",
}
STATE_ICONS = {
    "running": "⏳",
    "succeeded": "✅",
    "failed": "❌",
    "stopped": "⏹️",
    "skipped": "⏭️",
    "pending": "…",
}

# Where each task sits in the graph: (column, row); evaluation and conversion run side by side.
_POSITIONS = {
    "fetch-data": (0, 0),
    "validate-and-prepare": (1, 0),
    "train": (2, 0),
    "evaluate": (3, 0.6),
    "convert-to-onnx": (3, -0.6),
    "verify-onnx": (4, -0.6),
    "register": (5, 0),
}
_EDGES = (
    ("fetch-data", "validate-and-prepare"),
    ("validate-and-prepare", "train"),
    ("train", "evaluate"),
    ("train", "convert-to-onnx"),
    ("convert-to-onnx", "verify-onnx"),
    ("evaluate", "register"),
    ("verify-onnx", "register"),
)


def task_of(run: PipelineRun, name: str) -> TaskRecord:
    return run.tasks.get(name) or TaskRecord(name)


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def task_graph(run: PipelineRun) -> go.Figure:
    """The pipeline's tasks as a left-to-right graph, each node coloured by its state."""
    figure = go.Figure()
    for start, end in _EDGES:
        (x0, y0), (x1, y1) = _POSITIONS[start], _POSITIONS[end]
        figure.add_trace(
            go.Scatter(
                x=[x0, x1],
                y=[y0, y1],
                mode="lines",
                line={"color": "#999999", "width": 2},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    tasks = [task_of(run, name) for name in TASKS]
    figure.add_trace(
        go.Scatter(
            x=[_POSITIONS[t.name][0] for t in tasks],
            y=[_POSITIONS[t.name][1] for t in tasks],
            mode="markers+text",
            marker={
                "size": 34,
                "color": [STATE_COLOURS.get(t.state, "#C8C8C8") for t in tasks],
                "line": {"color": "#333333", "width": 1},
            },
            text=[f"{t.name}<br>{t.state} {_seconds(t.seconds)}".strip() for t in tasks],
            textposition="bottom center",
            customdata=[t.name for t in tasks],
            hovertext=[t.error or t.state for t in tasks],
            hoverinfo="text",
            showlegend=False,
        )
    )
    figure.update_layout(
        height=260,
        margin={"t": 10, "b": 10, "l": 10, "r": 10},
        xaxis={"visible": False, "range": [-0.6, 5.6]},
        yaxis={"visible": False, "range": [-1.5, 1.2]},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def runs_table(runs: Sequence[PipelineRun], now: float | None = None) -> pd.DataFrame:
    """One row per run: when, state, how long, the data version, what it produced."""
    now = now or time.time()
    rows = []
    for run in runs:
        outcome = (
            f"registered v{run.registered_version}"
            if run.registered_version
            else "not registered (gate)"
            if run.note
            else run.error or ""
        )
        rows.append(
            {
                "run": run.id,
                "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started)),
                "state": f"{STATE_ICONS.get(run.state, '')} {run.state}".strip(),
                "duration": _seconds((run.ended or now) - run.started),
                "data version": (run.data_version or "")[:19],
                "model": run.arguments.get("model_name", ""),
                "outcome": outcome,
            }
        )
    columns = ["run", "started", "state", "duration", "data version", "model", "outcome"]
    return pd.DataFrame(rows, columns=columns)


def compare_table(runs: Sequence[PipelineRun]) -> pd.DataFrame:
    """Two or more runs side by side: parameters, then every metric their tasks logged."""
    values: dict[str, dict[str, object]] = {}
    for run in runs:
        column = values.setdefault(run.id, {})
        for key, value in (run.arguments.get("hyperparameters") or {}).items():
            column[f"param · {key}"] = value
        column["param · tolerance"] = run.arguments.get("tolerance")
        column["data version"] = (run.data_version or "")[:19]
        for task in run.tasks.values():
            for name, value in task.metrics.items():
                column[f"{task.name} · {name}"] = round(value, 4)
        column["registered version"] = run.registered_version or "—"
    frame = pd.DataFrame(values)
    return frame.astype(str).replace({"nan": "", "None": ""})


def remote_runs_table(runs: Sequence) -> pd.DataFrame:
    """Runs on a cluster (``remote.RemoteRun``): one row each."""
    rows = [
        {
            "run": r.id,
            "name": r.name,
            "state": r.state,
            "created": r.created_at,
            "ended": r.finished_at,
        }
        for r in runs
    ]
    return pd.DataFrame(rows, columns=["run", "name", "state", "created", "ended"])


def remote_tasks_table(run) -> pd.DataFrame:
    """The tasks of a run on a cluster, with their states."""
    rows = [{"task": t.name, "state": t.state, "error": t.error or ""} for t in run.tasks]
    return pd.DataFrame(rows, columns=["task", "state", "error"])
