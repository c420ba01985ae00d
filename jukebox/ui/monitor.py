"""Figures of the Monitor page: pure functions over the payload log and drift history.

Each takes plain tables (the live requests, the training reference, the drift history as one row
per evaluation and feature) and returns a plotly figure, so tests check them without a browser.
Features are named as the Predict page's dials name them ("How acoustic?"), never by column.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from jukebox.data.countries import country_name
from jukebox.ui.song_words import DIALS, to_display

LIVE, TRAINING, THRESHOLD = "#1DB954", "#8C8C8C", "#E4572E"


def feature_title(feature: str) -> str:
    """``"How acoustic?"`` for ``acousticness``: the dial's question, for people."""
    dial = DIALS.get(feature)
    return dial.question if dial else feature


def _display(feature: str, values: pd.Series) -> pd.Series:
    """Values in the dial's units (percent, seconds, dB, BPM); key and mode stay numbers."""
    dial = DIALS.get(feature)
    if dial is None or dial.kind in ("key", "mode", "yes/no"):
        return values.astype(float)
    return values.astype(float).map(lambda v: to_display(feature, v)).astype(float)


def requests_figure(times: pd.Series, *, buckets: int = 40) -> go.Figure:
    """Requests over time: how many songs were sent in each of ``buckets`` equal slices of the
    logged period (seconds since the epoch in, local clock times on the axis)."""
    figure = go.Figure()
    if len(times):
        stamps = pd.to_datetime(times.astype(float), unit="s")
        span = max((stamps.max() - stamps.min()).total_seconds(), 1.0)
        width = pd.Timedelta(seconds=max(1.0, np.ceil(span / buckets)))
        counts = stamps.dt.floor(width).value_counts().sort_index()
        figure.add_bar(x=counts.index, y=counts.values, marker_color=LIVE, name="songs sent")
    figure.update_layout(
        title="Songs sent to the model",
        xaxis_title="time",
        yaxis_title="songs",
        height=260,
        margin=dict(l=10, r=10, t=40, b=10),
    )
    return figure


def drift_figure(history: pd.DataFrame, threshold: float, features: Sequence[str]) -> go.Figure:
    """Each feature's drift p-value over time, with the threshold under which it counts as
    drifted. ``history`` is :func:`jukebox.monitoring.history.drift_history`'s long form: one
    row per evaluation and column, with ``time``, ``column`` and ``value`` (the p-value).

    The axis is logarithmic: a drifted feature's p-value falls by orders of magnitude, and the
    difference between 1e-3 and 1e-30 is the size of the shift."""
    figure = go.Figure()
    for feature in features:
        rows = history[history["column"] == feature].sort_values("time")
        if rows.empty:
            continue
        figure.add_scatter(
            x=rows["time"],
            y=rows["value"].clip(lower=1e-300),
            mode="lines+markers",
            name=feature_title(feature),
        )
    figure.add_hline(
        y=threshold,
        line_dash="dash",
        line_color=THRESHOLD,
        annotation_text=f"drifted below {threshold:g}",
        annotation_position="bottom right",
    )
    figure.update_layout(
        title="Is each feature still like the training data? (p-value; low means drifted)",
        xaxis_title="time",
        yaxis_title="p-value",
        yaxis_type="log",
        height=360,
        margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(font=dict(size=10)),
    )
    return figure


def distribution_figure(reference: pd.Series, live: pd.Series, feature: str) -> go.Figure:
    """The live distribution of one feature over the training one, as overlaid histograms of
    shares (not counts: the two sets differ in size by orders of magnitude)."""
    ref, now = _display(feature, reference), _display(feature, live)
    both = pd.concat([ref, now])
    low, high = (float(both.min()), float(both.max())) if len(both) else (0.0, 1.0)
    bins = dict(start=low, end=high + (high - low) / 60 + 1e-9, size=(high - low) / 30 or 1)
    figure = go.Figure()
    figure.add_histogram(
        x=ref, histnorm="percent", name="songs it learned from", marker_color=TRAINING,
        opacity=0.6, xbins=bins,
    )  # fmt: skip
    figure.add_histogram(
        x=now, histnorm="percent", name="songs sent", marker_color=LIVE, opacity=0.6, xbins=bins
    )
    dial = DIALS.get(feature)
    unit = f" ({dial.unit_label})" if dial is not None and dial.unit_label else ""
    figure.update_layout(
        barmode="overlay",
        title=feature_title(feature),
        xaxis_title=f"{feature}{unit}",
        yaxis_title="% of songs",
        height=300,
        margin=dict(l=10, r=10, t=40, b=10),
    )
    return figure


def countries_figure(at_training: pd.Series, now: pd.Series, *, top: int = 12) -> go.Figure:
    """Which countries the model names first now, against at training: the ``top`` countries
    of either, as shares of songs."""
    codes = list(dict.fromkeys([*now.nlargest(top).index, *at_training.nlargest(top).index]))
    codes = sorted(codes, key=lambda c: -max(now.get(c, 0.0), at_training.get(c, 0.0)))[:top]
    names = [country_name(c) for c in codes]
    figure = go.Figure()
    figure.add_bar(
        x=names, y=[100 * at_training.get(c, 0.0) for c in codes], name="at training",
        marker_color=TRAINING,
    )  # fmt: skip
    figure.add_bar(x=names, y=[100 * now.get(c, 0.0) for c in codes], name="now", marker_color=LIVE)
    figure.update_layout(
        barmode="group",
        title="Where the model says songs will chart most, now and at training",
        yaxis_title="% of songs with it as top country",
        height=320,
        margin=dict(l=10, r=10, t=40, b=10),
    )
    return figure


def alerts_table(alerts: Sequence, runs: dict[str, str]) -> pd.DataFrame:
    """One row per drift alert, newest first: when, which features, and the training run it
    started (``runs`` maps :func:`jukebox.pipelines.automation.alert_key` to a run id)."""
    from jukebox.pipelines.automation import alert_key

    rows = [
        {
            "raised": pd.Timestamp(a.time, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M:%S"),
            "drifted features": ", ".join(feature_title(c) for c in a.columns),
            "measurements in a row": a.evaluations,
            "training run": runs.get(alert_key(a), ""),
        }
        for a in sorted(alerts, key=lambda a: -a.time)
    ]
    return pd.DataFrame(rows)
