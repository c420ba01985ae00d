"""Figures and tables of the Data versions page (pure functions over versions and diffs), and
its caches: a version is a commit and never changes, so what was read of it is kept by commit
and every interaction after the first look at a version is answered from memory."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from jukebox.config import Settings
from jukebox.data.versions import Contents, DataDiff, DataVersion, diff_data, read_contents
from jukebox.ui.explore import feature_label

BEFORE, AFTER = "#8DA0CB", "#E4572E"


def versions_table(
    versions: Sequence[DataVersion], trained: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """One row per version, newest first: commit, date, message, sizes, md5s, the model versions
    trained on it."""
    rows = []
    for number, version in enumerate(versions):
        properties = version.tables.get("song_properties")
        rankings = version.tables.get("song_rankings")
        rows.append(
            {
                "version": version.short,
                "current": "✓" if number == 0 else "",
                "date": version.date.strftime("%Y-%m-%d %H:%M"),
                "message": version.message,
                SONGS_STORED: properties.rows if properties else None,
                ENTRIES_STORED: rankings.rows if rankings else None,
                "md5": version.md5[:12],
                "models trained on it": ", ".join(trained.get(version.commit, ())),
            }
        )
    columns = [
        "version", "current", "date", "message", SONGS_STORED, ENTRIES_STORED, "md5",
        "models trained on it",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


SONGS_STORED = "songs (stored)"
ENTRIES_STORED = "chart entries (stored)"
"""What a version's files hold, as Home and Explore's "as stored" counts (a version holds the
data after cleaning's songs, so its songs are also the songs after cleaning)."""


def version_label(version: DataVersion) -> str:
    """How a version is named in a picker: short commit, date and message."""
    return f"{version.short} · {version.date:%Y-%m-%d %H:%M} · {version.message}"


def revert_sentence(target: DataVersion, made: DataVersion, newest: DataVersion) -> str:
    """What a revert did, in words: which content is current now, as which version."""
    if made.commit == newest.commit:
        return (
            f"The newest version {made.short} already holds the content of {target.short}: "
            "nothing to revert, and it is the current data set."
        )
    return (
        f"Reverted to {target.short}: its content is the new version {made.short} "
        f'("{made.message}") and the current data set; the history keeps every version.'
    )


def timeline_figure(
    versions: Sequence[DataVersion], trained: Mapping[str, Sequence[str]]
) -> go.Figure:
    """The history of the data: one point per version, oldest first, its chart entries as
    height; a version some model was trained on is drawn filled.

    Versions are placed in order, each labelled with its commit and date, rather than on a time
    axis: versions made minutes apart (a demo) would pile up on one, and a lone version would
    sit on an axis of milliseconds."""
    ordered = list(reversed(versions))
    if not ordered:
        return go.Figure()
    rows = [
        (v.tables["song_rankings"].rows or 0) if "song_rankings" in v.tables else 0 for v in ordered
    ]
    used = [bool(trained.get(v.commit)) for v in ordered]
    figure = go.Figure(
        go.Scatter(
            x=list(range(len(ordered))),
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
    tallest = max(rows) or 1
    figure.update_layout(
        height=280,
        margin={"t": 30, "b": 50, "l": 80, "r": 20},
        xaxis={
            "range": [-0.5, len(ordered) - 0.5],
            "tickmode": "array",
            "tickvals": list(range(len(ordered))),
            "ticktext": [f"{v.date:%d %b %H:%M}" for v in ordered],
            "title": None,
        },
        # From zero, so a change of a few rows does not look like a cliff.
        yaxis={"title": ENTRIES_STORED, "range": [0, tallest * 1.3], "tickformat": ",d"},
        showlegend=False,
    )
    return figure


CONTENTS_KEPT = 8
"""Versions whose contents are kept in memory (about 20 MB each for the default data set)."""


@st.cache_resource(max_entries=CONTENTS_KEPT, show_spinner=False)
def _contents(repo: str, commit: str, _settings: Settings) -> Contents:
    """A version's songs and chart-row fingerprints (about 20 MB for the default data set, not
    its 175 MB of rows), kept by repository and commit: a version never changes."""
    return read_contents(_settings, commit)


@st.cache_resource(max_entries=16, show_spinner=False)
def _diff(repo: str, before: str, after: str, _a: DataVersion, _b: DataVersion, _settings):
    return diff_data(_a, _b, _contents(repo, before, _settings), _contents(repo, after, _settings))


def version_diff(settings: Settings, a: DataVersion, b: DataVersion) -> DataDiff:
    """The diff from version ``a`` to version ``b``: read once per version, computed once per
    pair, then answered from memory (versions are immutable)."""
    return _diff(str(settings.data_repo), a.commit, b.commit, a, b, settings)


def read_ahead(settings: Settings, versions: Sequence[DataVersion]) -> None:
    """Read the newest versions' contents in a background thread, once per session, so that
    picking any of them is answered from memory too (a version never read takes seconds)."""
    if st.session_state.get("data_versions_read_ahead"):
        return
    st.session_state["data_versions_read_ahead"] = True
    repo = str(settings.data_repo)

    def read() -> None:
        for version in versions[:CONTENTS_KEPT]:
            try:
                _contents(repo, version.commit, settings)
            except Exception:  # noqa: BLE001 - only a head start: the page says what fails
                return

    from streamlit.runtime.scriptrunner import add_script_run_ctx

    thread = threading.Thread(target=read, name="data-versions-read-ahead", daemon=True)
    add_script_run_ctx(thread)
    thread.start()


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
    """The feature's distribution over the songs of each version, overlaid (share of songs).

    Binned here, on bins both versions share, so the browser draws 2 × ``bins`` bars instead of
    binning every song of both versions on each redraw."""
    import numpy as np

    values = [
        pd.to_numeric(side.properties[feature], errors="coerce").dropna().to_numpy(dtype=float)
        for side in (diff.before, diff.after)
    ]
    pooled = np.concatenate(values)
    low, high = (pooled.min(), pooled.max()) if len(pooled) else (0.0, 1.0)
    edges = np.linspace(low, high if high > low else low + 1, bins + 1)
    figure = go.Figure()
    for name, side, colour in ((diff.a.short, values[0], BEFORE), (diff.b.short, values[1], AFTER)):
        counts, _ = np.histogram(side, bins=edges)
        figure.add_trace(
            go.Bar(
                x=(edges[:-1] + edges[1:]) / 2,
                y=counts / max(len(side), 1),
                width=np.diff(edges),
                name=name,
                marker_color=colour,
                opacity=0.6,
            )
        )
    figure.update_layout(
        barmode="overlay",
        height=300,
        margin={"t": 20, "b": 40, "l": 50, "r": 10},
        xaxis={"title": feature_label(feature)},
        yaxis={"title": "share of songs", "tickformat": ".0%"},
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
