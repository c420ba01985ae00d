"""Figures of "why" and "what if": pure functions over explanations, in the dials' words.

A waterfall walks from what the model says of an average training song to what it says of this
one, one feature at a time; the what-if chart shows each dial the proposal moves, from the song's
value to the proposal's, on the feature's realistic range; the importance map colours the world
by how much one feature sways each country. Numbers are percentage points of probability, the
unit of the Predict page's answers.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from jukebox.data.countries import country_name
from jukebox.ui.maps import world_map
from jukebox.ui.song_words import DIALS, to_display

HELPS, HURTS, TOTAL = "#1DB954", "#E4572E", "#4C72B0"


def dial_text(feature: str, raw: float) -> str:
    """A feature's value as its dial shows it, with its unit: ``"72 %"``, ``"3:25"``,
    ``"120 BPM"``, ``"C♯"``, ``"minor"``."""
    dial = DIALS[feature]
    value = to_display(feature, raw)
    if dial.kind == "percent":
        return f"{value} %"
    if dial.kind == "seconds":
        return f"{int(value) // 60}:{int(value) % 60:02d}"
    if dial.kind == "number":
        return f"{value:g} {dial.unit}"
    if dial.kind == "yes/no":
        return "explicit" if value else "not explicit"
    return str(value)


def waterfall_figure(attribution, *, top: int = 8) -> go.Figure:
    """From the average training song's probability for the country to this song's, the
    ``top`` features that moved it most (the rest summed as "everything else")."""
    contributions = pd.Series(attribution.contributions, dtype=float)
    ordered = contributions.reindex(contributions.abs().sort_values(ascending=False).index)
    shown, rest = ordered.iloc[:top], ordered.iloc[top:]
    labels = [f"{DIALS[f].question} {dial_text(f, attribution.song[f])}" for f in shown.index]
    values = [100 * v for v in shown]
    if len(rest):
        labels.append(f"everything else ({len(rest)} features)")
        values.append(100 * float(rest.sum()))
    name = country_name(attribution.country)
    figure = go.Figure(
        go.Waterfall(
            orientation="h",
            y=["an average song", *labels, "this song"],
            x=[100 * attribution.base, *values, 100 * attribution.probability],
            measure=["absolute", *["relative"] * len(values), "total"],
            text=[f"{100 * attribution.base:.1f} %", *[f"{v:+.1f}" for v in values],
                  f"{100 * attribution.probability:.1f} %"],
            textposition="outside",
            increasing=dict(marker_color=HELPS),
            decreasing=dict(marker_color=HURTS),
            totals=dict(marker_color=TOTAL),
            connector=dict(line=dict(color="#BBBBBB")),
        )
    )  # fmt: skip
    figure.update_layout(
        title=f"Why {name}: what each feature adds or takes away (points)",
        xaxis_title=f"chance of charting in {name} (%)",
        yaxis=dict(autorange="reversed"),
        height=140 + 34 * (len(values) + 2),
        margin=dict(l=10, r=40, t=50, b=10),
        showlegend=False,
    )
    return figure


def what_if_figure(counterfactual, ranges: Mapping) -> go.Figure:
    """Each dial the proposal moves: the song's value and the proposal's, placed on the
    feature's realistic range (0 % its low end, 100 % its high end), labelled in dial units.
    ``ranges`` maps a feature to its :class:`~jukebox.explain.FeatureRange` (or a
    ``(low, high)`` pair)."""
    figure = go.Figure()
    changes = getattr(counterfactual, "changes", {}) or {}
    for feature, (before, after) in changes.items():
        bounds = ranges.get(feature, (min(before, after), max(before, after)))
        low, high = (bounds.low, bounds.high) if hasattr(bounds, "low") else bounds
        span = (high - low) or 1.0
        x0, x1 = 100 * (before - low) / span, 100 * (after - low) / span
        question = DIALS[feature].question
        figure.add_scatter(
            x=[x0, x1], y=[question, question], mode="lines+markers+text",
            marker=dict(size=[12, 16], color=["#8C8C8C", HELPS]),
            line=dict(color="#BBBBBB", width=3),
            text=[dial_text(feature, before), dial_text(feature, after)],
            textposition=["bottom center", "top center"], showlegend=False,
            hovertemplate="%{text}<extra></extra>",
        )  # fmt: skip
    name = country_name(counterfactual.country)
    figure.update_layout(
        title=f"What it would take: the dials moved for {name}",
        xaxis=dict(title="position in the range real songs have (%)", range=[-8, 108]),
        height=140 + 60 * max(len(changes), 1),
        margin=dict(l=10, r=10, t=50, b=10),
    )
    return figure


def importance_table(importance: pd.DataFrame, *, top: int = 3) -> pd.DataFrame:
    """For each country, the ``top`` features that sway its answer most, in dial words, with
    their mean effect in points."""
    rows = []
    for code, row in importance.iterrows():
        best = row.sort_values(ascending=False).iloc[:top]
        rows.append(
            {
                "country": f"{country_name(code)} ({code})",
                **{
                    f"#{i + 1}": f"{DIALS[f].question} ({100 * v:.1f} pts)"
                    for i, (f, v) in enumerate(best.items())
                },
            }
        )
    return pd.DataFrame(rows)


def importance_map(importance: pd.DataFrame, feature: str) -> go.Figure:
    """The world coloured by how much ``feature`` sways each country's answer (mean points of
    probability it adds or takes away, over a sample of songs)."""
    values = {code: 100 * float(v) for code, v in importance[feature].items()}
    return world_map(
        values,
        f"Where does it matter most? {DIALS[feature].question}",
        "points",
        value_format=".2f",
        colorscale="Viridis",
        hover_label="mean effect (points)",
        height=420,
    )
