"""Figures and tables of the Data versions page: pure functions over versions and diffs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go

from jukebox.data.versions import DataDiff, DataVersion
from jukebox.ui.explore import feature_label

BEFORE, AFTER = "#8DA0CB", "#E4572E"


def versions_table(
    versions: Sequence[DataVersion], trained: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """One row per version, newest first: commit, date, message, sizes, md5s, the model versions
    trained on it."""
    rows = []
    for version in versions:
        properties = version.tables.get("song_properties")
        rankings = version.tables.get("song_rankings")
        rows.append(
            {
                "version": version.short,
                "date": version.date.strftime("%Y-%m-%d %H:%M"),
                "message": version.message,
                "songs": properties.rows if properties else None,
                "chart rows": rankings.rows if rankings else None,
                "md5": version.md5[:12],
                "models trained on it": ", ".join(trained.get(version.commit, ())),
            }
        )
    columns = ["version", "date", "message", "songs", "chart rows", "md5", "models trained on it"]
    return pd.DataFrame(rows, columns=columns)


def timeline_figure(
    versions: Sequence[DataVersion], trained: Mapping[str, Sequence[str]]
) -> go.Figure:
    """The history of the data: one point per version over time, its chart rows as height; a
    version some model was trained on is drawn filled."""
    ordered = list(reversed(versions))
    rows = [
        (v.tables["song_rankings"].rows or 0) if "song_rankings" in v.tables else 0 for v in ordered
    ]
    used = [bool(trained.get(v.commit)) for v in ordered]
    figure = go.Figure(
        go.Scatter(
            x=[v.date for v in ordered],
            y=rows,
            mode="lines+markers+text",
            text=[v.short for v in ordered],
            textposition="top center",
            marker={
                "size": 14,
                "color": ["#1DB954" if u else "white" for u in used],
                "line": {"color": "#1DB954", "width": 2},
            },
            line={"color": "#999999"},
            hovertext=[
                f"{v.short}: {v.message}<br>models: {', '.join(trained.get(v.commit, ())) or '—'}"
                for v in ordered
            ],
            hoverinfo="text",
        )
    )
    figure.update_layout(
        height=260,
        margin={"t": 20, "b": 30, "l": 50, "r": 10},
        yaxis={"title": "chart rows"},
        showlegend=False,
    )
    return figure


def diff_counts(diff: DataDiff) -> dict[str, str]:
    """The headline counts of a diff, for metrics."""
    summary = diff.summary()
    return {
        "Songs added": f"{summary['songs_added']:,}",
        "Songs removed": f"{summary['songs_removed']:,}",
        "Songs changed": f"{summary['songs_changed']:,}",
        "Chart rows added": f"{summary['rankings_added']:,}",
        "Chart rows removed": f"{summary['rankings_removed']:,}",
    }


def shift_table(diff: DataDiff) -> pd.DataFrame:
    """Per feature: mean before and after and the KS distance, largest shift first."""
    table = diff.features.reset_index().rename(columns={"index": "feature"})
    if "feature" not in table.columns:
        table = table.rename(columns={table.columns[0]: "feature"})
    return table.sort_values("ks", ascending=False).reset_index(drop=True)


def feature_overlay(diff: DataDiff, feature: str, bins: int = 30) -> go.Figure:
    """The feature's distribution over the songs of each version, overlaid (share of songs)."""
    figure = go.Figure()
    for name, data, colour in (
        (diff.a.short, diff.before, BEFORE),
        (diff.b.short, diff.after, AFTER),
    ):
        figure.add_trace(
            go.Histogram(
                x=data.properties[feature].astype(float),
                name=name,
                nbinsx=bins,
                histnorm="probability",
                marker_color=colour,
                opacity=0.6,
            )
        )
    figure.update_layout(
        barmode="overlay",
        height=300,
        margin={"t": 20, "b": 40, "l": 50, "r": 10},
        xaxis={"title": feature_label(feature)},
        yaxis={"title": "share of songs"},
        legend={"orientation": "h"},
    )
    return figure


def schedules_table(schedules: Sequence) -> pd.DataFrame:
    """The schedules here: which pipeline, when, next, the last run."""
    import time

    rows = [
        {
            "schedule": s.id,
            "pipeline": s.pipeline.removeprefix("jukebox-"),
            "when": s.every,
            "next": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(s.next_due())),
            "last run": s.last_run_id or "",
        }
        for s in schedules
    ]
    return pd.DataFrame(rows, columns=["schedule", "pipeline", "when", "next", "last run"])


def waiting_caption(count: int) -> str:
    """What switching continuous training on does with the versions made while it was off."""
    made = f"{count} data version{'s' if count != 1 else ''} made while it was off"
    return f"{made}: each is trained once it is on, unless you tick *From now on*."
