"""Figures and tables of the Pipelines page: pure functions over run records, no Streamlit."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from jukebox.pipelines import data, training
from jukebox.pipelines.records import GateOutcome, PipelineRun, RegisterOutcome, TaskRecord
from jukebox.ui.model import METRIC_LABELS as TRAINING_METRIC_LABELS

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

# Each pipeline's graph: where each task sits, (column, row), and the edges between them. In
# the training pipeline evaluation and conversion run side by side.
_GRAPHS = {
    training.PIPELINE_NAME: (
        {
            "fetch-data": (0, 0),
            "validate-and-prepare": (1, 0),
            "train": (2, 0),
            "evaluate": (3, 0.6),
            "convert-to-onnx": (3, -0.6),
            "verify-onnx": (4, -0.6),
            "register": (5, 0),
        },
        (
            ("fetch-data", "validate-and-prepare"),
            ("validate-and-prepare", "train"),
            ("train", "evaluate"),
            ("train", "convert-to-onnx"),
            ("convert-to-onnx", "verify-onnx"),
            ("evaluate", "register"),
            ("verify-onnx", "register"),
        ),
    ),
    data.PIPELINE_NAME: (
        {
            "extract-data": (0, 0),
            "transform-data": (1, 0),
            "validate-data": (2, 0),
            "load-and-version": (3, 0),
            "trigger-training": (4, 0),
        },
        tuple(zip(data.TASKS, data.TASKS[1:], strict=False)),
    ),
}


def kind_of(run: PipelineRun) -> str:
    """ "data" or "training": which pipeline the run is of."""
    return "data" if run.pipeline == data.PIPELINE_NAME else "training"


def tasks_of(run: PipelineRun) -> tuple[str, ...]:
    """The task names of the run's own pipeline, in the order a run goes through them."""
    return data.TASKS if run.pipeline == data.PIPELINE_NAME else training.TASKS


def task_of(run: PipelineRun, name: str) -> TaskRecord:
    return run.tasks.get(name) or TaskRecord(name)


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def task_graph(run: PipelineRun) -> go.Figure:
    """The run's own pipeline as a left-to-right graph, each task coloured by its state."""
    positions, edges = _GRAPHS.get(run.pipeline, _GRAPHS[training.PIPELINE_NAME])
    figure = go.Figure()
    for start, end in edges:
        (x0, y0), (x1, y1) = positions[start], positions[end]
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
    tasks = [task_of(run, name) for name in positions]
    figure.add_trace(
        go.Scatter(
            x=[positions[t.name][0] for t in tasks],
            y=[positions[t.name][1] for t in tasks],
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
        xaxis={"visible": False, "range": [-0.6, max(x for x, _ in positions.values()) + 0.6]},
        yaxis={"visible": False, "range": [-1.5, 1.2]},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return figure


def runs_table(runs: Sequence[PipelineRun], now: float | None = None) -> pd.DataFrame:
    """One row per run: when, state, how long, the data version, what it produced."""
    now = now or time.time()
    rows = []
    for run in runs:
        rows.append(
            {
                "run": run.id,
                "started": time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started)),
                "state": f"{STATE_ICONS.get(run.state, '')} {run.state}".strip(),
                "duration": _seconds((run.ended or now) - run.started),
                "data version": (run.data_version or "")[:19],
                "pipeline": kind_of(run),
                "model": run.arguments.get("model_name", ""),
                "outcome": outcome(run),
            }
        )
    columns = [
        "run", "started", "pipeline", "state", "duration", "data version", "model", "outcome"
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def outcome(run: PipelineRun) -> str:
    """What a run produced, in a few words: the version it registered or made, or why none."""
    if run.state == "running":
        return ""
    if run.error:
        return run.error
    if run.pipeline == data.PIPELINE_NAME:
        if run.new_data_version:
            return f"new data version {run.new_data_version[:7]}"
        return "data unchanged: no new version"
    if run.registered_version:
        return f"registered v{run.registered_version}"
    registered = task_of(run, "register").outcome(RegisterOutcome)
    if registered.duplicate_of:
        return f"not registered: the same model is v{registered.duplicate_of}"
    if task_of(run, "evaluate").outcome(GateOutcome).gate_passed is False:
        return "not registered: worse than production (gate)"
    return run.note or ""


def compare_table(runs: Sequence[PipelineRun]) -> pd.DataFrame:
    """Two or more runs of one pipeline side by side: their parameters (a data run's source
    and message, a training run's hyperparameters), every metric their tasks logged, and what
    each produced."""
    values: dict[str, dict[str, object]] = {}
    for run in runs:
        column = values.setdefault(run.id, {})
        if run.pipeline == data.PIPELINE_NAME:
            column["source"] = run.arguments.get("source")
            for key, value in (run.arguments.get("source_options") or {}).items():
                column[f"source · {key}"] = value
            column["message"] = run.arguments.get("message")
        else:
            for key, value in (run.arguments.get("hyperparameters") or {}).items():
                column[f"param · {key}"] = value
            column["param · tolerance"] = run.arguments.get("tolerance")
        column["data version"] = (run.data_version or "")[:19]
        for task in run.tasks.values():
            for name, value in task.metrics.items():
                column[f"{task.name} · {metric_label(name)}"] = metric_value(value)
        column["outcome"] = outcome(run)
    frame = pd.DataFrame(values)
    return frame.astype(str).replace({"nan": "", "None": ""})


METRIC_LABELS = {
    **TRAINING_METRIC_LABELS,
    "accuracy": "Accuracy (test)",
    "songs": "Songs",
    "countries": "Countries",
    "ranking_rows": "Chart rows",
    "flagged_rows": "Rows with problems",
    "validation_errors": "Errors",
    "validation_warnings": "Warnings",
    "train_rows": "Training rows",
    "validation_rows": "Validation rows",
    "test_rows": "Test rows",
    "epochs_run": "Epochs run",
    "seconds": "Seconds",
    "val_accuracy": "Validation accuracy",
    "val_loss": "Validation loss",
    "gate_passed": "Gate passed (1 = yes)",
    "production_accuracy": "Production's accuracy",
    "rows_in": "Rows in",
    "rows_dropped": "Rows dropped",
    "songs_dropped": "Songs dropped",
    "passed": "Passed (1 = yes)",
}
"""Plain words for the metrics tasks log (their names stay as they are in KFP)."""


def metric_label(name: str) -> str:
    return METRIC_LABELS.get(name, name.replace("_", " ").capitalize())


def metric_value(value: float) -> float | int:
    """A count as a whole number ("73", not "73.0"); anything else to four decimals."""
    return int(value) if float(value).is_integer() else round(float(value), 4)


def metrics_table(task: TaskRecord) -> pd.DataFrame:
    """A task's metrics in plain words, counts as whole numbers."""
    rows = [
        {"metric": metric_label(k), "value": str(metric_value(v))} for k, v in task.metrics.items()
    ]
    return pd.DataFrame(rows, columns=["metric", "value"])


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
