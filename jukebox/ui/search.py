"""Figures and tables of the Search page: data in, figure out.

Pure functions over plain values (a search job's ``status.json``: the trials as
:class:`jukebox.tuning.search.TrialOutcome` dicts), so tests check them without a browser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from jukebox.tuning.space import SEARCHED

FINISHED_COLOR = "#1f77b4"
PRUNED_COLOR = "#9e9e9e"
BEST_COLOR = "#54a24b"
STATE_LABELS = {
    "finished": "finished",
    "pruned": "pruned (clearly worse)",
    "stopped": "stopped on request",
    "failed": "failed",
}
PARAM_LABELS = {
    "width": "Width",
    "depth": "Depth",
    "dropout": "Dropout",
    "learning_rate": "Learning rate",
    "batch_size": "Batch size",
}


def trials_table(trials: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per trial: its number, searched parameters, validation figures, how it ended."""
    rows = []
    for t in trials:
        params = t.get("params") or {}
        rows.append(
            {
                "Trial": t.get("number"),
                **{PARAM_LABELS[k]: params.get(k) for k in SEARCHED},
                "Validation loss": t.get("value"),
                "Validation accuracy": t.get("val_accuracy"),
                "Epochs": t.get("epochs"),
                "Seconds": round(float(t.get("seconds") or 0), 1),
                "Outcome": STATE_LABELS.get(str(t.get("state")), str(t.get("state"))),
            }
        )
    columns = ["Trial", *PARAM_LABELS.values(), "Validation loss", "Validation accuracy",
               "Epochs", "Seconds", "Outcome"]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def best_so_far(trials: Sequence[Mapping[str, Any]]) -> list[float | None]:
    """After each trial, the lowest validation loss of the finished trials up to it."""
    best: float | None = None
    out = []
    for t in trials:
        value = t.get("value")
        if t.get("state") == "finished" and value is not None:
            best = value if best is None else min(best, value)
        out.append(best)
    return out


def trials_figure(trials: Sequence[Mapping[str, Any]]) -> go.Figure:
    """Each trial's validation loss (lower is better) against its number, the best so far as a
    step line; pruned trials drawn as grey crosses at the best loss they had reached."""
    figure = go.Figure()
    for state, color, symbol, name in (
        ("finished", FINISHED_COLOR, "circle", "finished trial"),
        ("pruned", PRUNED_COLOR, "x", "pruned trial"),
        ("stopped", PRUNED_COLOR, "square-open", "stopped trial"),
    ):
        points = [t for t in trials if t.get("state") == state and t.get("value") is not None]
        if not points:
            continue
        figure.add_trace(
            go.Scatter(
                x=[t["number"] for t in points],
                y=[t["value"] for t in points],
                mode="markers",
                name=name,
                marker={"color": color, "symbol": symbol, "size": 10},
                text=[_hover(t) for t in points],
                hovertemplate="trial %{x}: %{y:.4f}<br>%{text}<extra></extra>",
            )
        )
    steps = best_so_far(trials)
    if any(v is not None for v in steps):
        figure.add_trace(
            go.Scatter(
                x=[t.get("number") for t in trials],
                y=steps,
                mode="lines",
                line={"shape": "hv", "color": BEST_COLOR},
                name="best so far",
            )
        )
    figure.update_layout(
        xaxis_title="Trial",
        yaxis_title="Validation loss (songs held out whole)",
        height=340,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": 1.12},
    )
    figure.update_xaxes(dtick=1)
    return figure


def _hover(trial: Mapping[str, Any]) -> str:
    params = trial.get("params") or {}
    return ", ".join(f"{k} {_short(params.get(k))}" for k in SEARCHED if k in params)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def best_sentence(best: Mapping[str, Any] | None) -> str:
    """The best trial in one sentence."""
    if not best:
        return "No trial has finished yet."
    params = ", ".join(
        f"{PARAM_LABELS[k].lower()} {_short((best.get('params') or {}).get(k))}" for k in SEARCHED
    )
    accuracy = best.get("val_accuracy")
    return (
        f"Best: trial {best.get('number')} with validation loss {best.get('value'):.4f}"
        + (f" (accuracy {accuracy:.3f})" if accuracy is not None else "")
        + f" — {params}."
    )
