"""Figures and tables of the model lab (Train and Export pages): data in, figure out.

Pure functions over plain values (the contents of ``metrics.json`` and a job's ``status.json``),
so tests check them without a browser, and pages draw them without TensorFlow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from jukebox.data.countries import country_name

TRAIN_COLOR = "#1f77b4"
VALIDATION_COLOR = "#ff7f0e"
CEILING_COLOR = "#54a24b"

METRIC_LABELS = {
    "accuracy": "Accuracy",
    "top5_accuracy": "Top-5 accuracy",
    "precision_macro": "Precision (macro)",
    "recall_macro": "Recall (macro)",
    "f1_macro": "F1 (macro)",
    "log_loss": "Log loss",
    "accuracy_to_bayes": "Accuracy / Bayes ceiling",
    "bayes_accuracy": "Best possible accuracy (Bayes ceiling)",
}


def training_curves(
    history: Mapping[str, Sequence[float]] | None,
    curve: Sequence[Mapping[str, float]] | None = None,
    *,
    epochs: int | None = None,
    ceiling: float | None = None,
) -> go.Figure:
    """Loss and accuracy against epochs, training and validation side by side.

    ``ceiling`` (the data's Bayes ceiling, when known) is drawn across the accuracy panel: a
    validation accuracy above it is not possible from the features alone, so it means the
    validation split shares songs with training.

    ``curve`` holds running training values within epochs (``{"x", "loss", "accuracy"}``) and is
    drawn as a line, so the figure moves before the first epoch ends; ``history`` holds one value
    per finished epoch (``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``) drawn as markers.
    """
    history = history or {}
    curve = list(curve or [])
    figure = make_subplots(rows=1, cols=2, subplot_titles=("Loss", "Accuracy"))
    for col, metric in ((1, "loss"), (2, "accuracy")):
        points = [p for p in curve if p.get(metric) is not None]
        if points:
            figure.add_trace(
                go.Scatter(
                    x=[p["x"] for p in points],
                    y=[p[metric] for p in points],
                    mode="lines",
                    name="training (running)",
                    line={"color": TRAIN_COLOR, "width": 1.5},
                    legendgroup="train-running",
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
        for key, name, color in (
            (metric, "training (epoch)", TRAIN_COLOR),
            (f"val_{metric}", "validation", VALIDATION_COLOR),
        ):
            values = [v for v in history.get(key, []) if v is not None]
            if values:
                figure.add_trace(
                    go.Scatter(
                        x=list(range(1, len(values) + 1)),
                        y=values,
                        mode="lines+markers",
                        name=name,
                        line={"color": color, "dash": "dot" if key == metric else "solid"},
                        marker={"size": 9},
                        legendgroup=key.replace(metric, ""),
                        showlegend=col == 1,
                    ),
                    row=1,
                    col=col,
                )
    span = [0, max(1, epochs or 0, *(p["x"] for p in curve), len(history.get("loss", [])))]
    figure.update_xaxes(title_text="epoch", range=[span[0], span[1] * 1.02])
    figure.update_yaxes(range=[0, 1], row=1, col=2)
    if ceiling:
        figure.add_hline(
            y=ceiling,
            line={"color": CEILING_COLOR, "dash": "dash", "width": 1.5},
            annotation_text=f"Bayes ceiling {ceiling:.3f}",
            annotation_position="top left",
            row=1,
            col=2,
        )
        seen = [v for k in ("accuracy", "val_accuracy") for v in history.get(k, []) if v]
        seen += [p["accuracy"] for p in curve if p.get("accuracy")]
        top = max([ceiling, *seen])
        figure.update_yaxes(range=[0, min(1.0, top * 1.4)], row=1, col=2)
    figure.update_layout(
        height=360,
        margin={"t": 40, "b": 40, "l": 40, "r": 10},
        legend={"orientation": "h", "yanchor": "top", "y": -0.2},
    )
    return figure


def best_epoch(history: Mapping[str, Sequence[float]] | None) -> int | None:
    """The epoch (1-based) with the lowest validation loss: the one early stopping keeps."""
    losses = [v for v in (history or {}).get("val_loss", []) if v is not None]
    return int(np.argmin(losses)) + 1 if losses else None


def confusion_heatmap(
    matrix: Sequence[Sequence[int]], labels: Sequence[str], *, normalize: bool = True
) -> go.Figure:
    """True country (rows) against predicted country (columns), codes on both axes.

    With ``normalize`` each row is divided by its total, so a cell reads "share of this country's
    test rows predicted as that one" and the diagonal is each country's recall; the hover shows
    the raw count as well. The colour scale ends at the largest off-diagonal cell (the
    diagonal, usually larger, shows at full colour), and every country code is labelled.
    """
    counts = np.asarray(matrix, dtype=float)
    labels = list(labels)
    if counts.shape != (len(labels), len(labels)):
        raise ValueError(
            f"A confusion matrix for {len(labels)} countries must be {len(labels)} x "
            f"{len(labels)}, got {counts.shape}."
        )
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    z = shares if normalize else counts
    names = [country_name(c) for c in labels]
    hover = [
        [
            f"true {labels[i]} ({names[i]})<br>predicted {labels[j]} ({names[j]})"
            f"<br>{int(counts[i, j]):,} rows · {shares[i, j]:.1%} of the true country"
            for j in range(len(labels))
        ]
        for i in range(len(labels))
    ]
    # The colours span up to the largest off-diagonal cell: the mistakes are what a reader
    # compares, and the diagonal (saturated) would otherwise wash every mistake out.
    off_diagonal = z[~np.eye(len(labels), dtype=bool)] if len(labels) > 1 else z.ravel()
    top = float(off_diagonal.max()) if off_diagonal.size and off_diagonal.max() > 0 else None
    figure = go.Figure(
        go.Heatmap(
            z=z,
            x=labels,
            y=labels,
            colorscale="Viridis",  # dark for none, bright for many: readable on the dark theme
            zmin=0,
            zmax=top if top is not None else (1 if normalize else None),
            text=hover,
            hoverinfo="text",
            colorbar={"title": "share" if normalize else "rows"},
        )
    )
    size = max(420, min(1400, 16 * len(labels) + 160))
    every = {"tickmode": "array", "tickvals": labels, "ticktext": labels, "tickfont": {"size": 9}}
    figure.update_layout(
        height=size,
        margin={"t": 30, "b": 40, "l": 40, "r": 10},
        xaxis={"title": "predicted country", "type": "category", **every},
        yaxis={"title": "true country", "type": "category", "autorange": "reversed", **every},
    )
    return figure


def per_country_table(per_country: Sequence[Mapping]) -> pd.DataFrame:
    """Precision, recall, F1 and support per country, with its name, best F1 first."""
    table = pd.DataFrame(list(per_country))
    if table.empty:
        return pd.DataFrame(columns=["country", "name", "precision", "recall", "f1", "support"])
    table.insert(1, "name", table["country"].map(country_name))
    return table.sort_values(["f1", "support"], ascending=False).reset_index(drop=True)


def per_country_figure(per_country: Sequence[Mapping]) -> go.Figure:
    """F1 per country as bars (best first), recall and precision as markers over them."""
    table = per_country_table(per_country)
    figure = go.Figure()
    figure.add_trace(go.Bar(x=table["country"], y=table["f1"], name="F1", marker_color="#4c78a8"))
    for metric, symbol in (("precision", "diamond"), ("recall", "circle")):
        figure.add_trace(
            go.Scatter(
                x=table["country"],
                y=table[metric],
                mode="markers",
                name=metric,
                marker={"symbol": symbol, "size": 7},
            )
        )
    figure.update_layout(
        height=340,
        margin={"t": 30, "b": 40, "l": 40, "r": 10},
        xaxis={"title": "country", "type": "category", "tickfont": {"size": 9}},
        yaxis={"title": "score", "range": [0, 1]},
        legend={"orientation": "h"},
    )
    return figure


def ceiling_figure(
    accuracy: float, bayes_accuracy: float | None, chance: float | None = None
) -> go.Figure:
    """Where the model's test accuracy stands between chance and the data's Bayes ceiling."""
    bars = [("model", accuracy, "#4c78a8")]
    if chance is not None:
        bars.insert(0, ("chance", chance, "#bab0ac"))
    if bayes_accuracy:
        bars.append(("Bayes ceiling", bayes_accuracy, "#54a24b"))
    figure = go.Figure(
        go.Bar(
            x=[value for _, value, _ in bars],
            y=[name for name, _, _ in bars],
            orientation="h",
            marker_color=[color for _, _, color in bars],
            text=[f"{value:.3f}" for _, value, _ in bars],
            textposition="auto",
        )
    )
    figure.update_layout(
        height=60 + 45 * len(bars),
        margin={"t": 10, "b": 30, "l": 10, "r": 10},
        xaxis={"title": "test accuracy", "range": [0, 1]},
    )
    return figure


def comparison_table(summaries: Sequence[Mapping]) -> pd.DataFrame:
    """One row per training (as ``TrainingRecord.summary()`` gives), newest first as given."""
    return pd.DataFrame(list(summaries))


def comparison_figure(
    summaries: Sequence[Mapping],
    metrics: Sequence[str] = ("accuracy", "top5_accuracy", "f1_macro", "accuracy_to_bayes"),
) -> go.Figure:
    """The headline metrics of several trainings side by side, one colour per training."""
    figure = go.Figure()
    for summary in summaries:
        shown = [m for m in metrics if summary.get(m) is not None]
        figure.add_trace(
            go.Bar(
                x=[METRIC_LABELS.get(m, m) for m in shown],
                y=[summary[m] for m in shown],
                name=str(summary.get("training")),
                text=[f"{summary[m]:.3f}" for m in shown],
                textposition="auto",
            )
        )
    figure.update_layout(
        barmode="group",
        height=360,
        margin={"t": 30, "b": 40, "l": 40, "r": 10},
        yaxis={"range": [0, 1.05], "title": "score"},
        legend={"orientation": "h", "title": "training"},
    )
    return figure


def graph_table(tensors: Sequence[Mapping]) -> pd.DataFrame:
    """An ONNX graph's inputs or outputs as a table: name, element type, shape."""
    return pd.DataFrame(
        [
            {
                "name": t["name"],
                "type": t["type"],
                "shape": "[" + ", ".join(map(str, t["shape"])) + "]",
            }
            for t in tensors
        ]
    )


def epochs_trained(fit, params: Mapping) -> str:
    """How long a model trained, in words: the epochs it ran, and why it stopped before the
    most it was given (early stopping keeps the best epoch, not the last)."""
    ran, given = fit.epochs_run, params.get("epochs")
    if not ran:
        return f"trained up to {given} epoch(s)"
    if fit.stopped or (given and ran < int(given)):
        return f"trained {ran} of {given} epochs (stopped early: no better for a while)"
    return f"trained {ran} epoch(s)"


def run_sentence(run: Mapping | None) -> str | None:
    """One line naming the experiment run that logged a training, or None if it was not."""
    if not run or not run.get("name"):
        return None
    return f"Logged as run **{run['name']}** of experiment **{run.get('experiment', '')}**."
