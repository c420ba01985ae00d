"""The current data set as pages see it: loaded, joined and reduced once, then served from cache.

A data set is identified by the files that hold it (name, size, modification time), so the
caches follow a replaced data set on the next rerun, and every page and session shares one copy
of the compact tables (``st.cache_resource``: no copy per rerun, and one entry, so a replaced data
set frees its memory). Summaries for a selection are small and cached per selection
(``st.cache_data``), so going back to a selection seen before costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from jukebox.config import Settings
from jukebox.data import sources
from jukebox.data.songdata import SongData
from jukebox.data.store import (
    DataCounts,
    adopt,
    clean_flagged,
    counts_of,
    current_info,
    data_counts,
    ensure_current,
    load_current,
)
from jukebox.data.validation import ValidationError, ValidationReport
from jukebox.errors import JukeboxError
from jukebox.ui.explore import (
    ExploreTables,
    Summary,
    correlation_figure,
    explore_tables,
    select_rows,
    summarize,
)
from jukebox.ui.explore import top_songs as _top_songs


@dataclass(frozen=True)
class ExploreData:
    """The current data set, reduced for Explore, with what is known about where it came from."""

    identity: str
    tables: ExploreTables
    source: str
    n_songs: int
    warnings: int
    findings: tuple[str, ...]
    bayes_accuracy: float | None
    dropped: int = 0
    """Songs left out because validation flagged their rows."""
    counts: DataCounts | None = None
    """The data set's counts, stored and after cleaning, as every page shows them."""


def data_identity(settings: Settings) -> str:
    """Names, sizes and modification times of the current data set's files ("" if none)."""
    directory = settings.data_dir
    if not directory.is_dir():
        return ""
    parts = [str(directory)]
    for path in sorted(directory.iterdir()):
        if path.is_file():
            stat = path.stat()
            parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join(parts) if len(parts) > 1 else ""


@dataclass(frozen=True)
class DataSetFacts:
    """What Home says about the current data set, read without loading it."""

    source: str
    rows: int | None
    songs: int | None
    countries: int | None
    first_date: str | None
    last_date: str | None
    bayes_accuracy: float | None
    counts: DataCounts | None = None


def data_set_facts(settings: Settings) -> DataSetFacts | None:
    """The current data set's size and origin from its stored summary; None if there is none.

    The counts are those ``dataset.json`` recorded; a data set saved before they were recorded
    is counted once (cached by its files)."""
    info = current_info(settings)
    if not info:
        return None
    counts = counts_of(info)
    if counts is None:
        try:
            counts = _counted(data_identity(settings), settings)
        except (JukeboxError, OSError, ValueError):
            counts = None  # unreadable: Explore says why
    return DataSetFacts(
        source=str(info.get("source", "unknown")),
        rows=info.get("ranking_rows"),
        songs=info.get("songs"),
        countries=info.get("countries"),
        first_date=info.get("first_date"),
        last_date=info.get("last_date"),
        bayes_accuracy=info.get("bayes_accuracy"),
        counts=counts,
    )


def data_set_counts_brief(settings: Settings) -> str:
    """The current data set's counts after cleaning in a few words, as Home and Explore count."""
    facts = data_set_facts(settings)
    return facts.counts.brief() if facts and facts.counts else "size unknown"


@st.cache_data(max_entries=1, show_spinner="Counting the data set…")
def _counted(identity: str, _settings: Settings) -> DataCounts:
    return data_counts(load_current(_settings))


def counts_metrics(columns, counts: DataCounts) -> None:
    """The two counts every page shows first, in two metric columns, labelled the same on every
    page: after cleaning (what training uses), with the stored counts in their help."""
    help = counts.sentence()
    columns[0].metric(
        "Chart entries (after cleaning)", f"{counts.chart_entries_after_cleaning:,}", help=help
    )
    columns[1].metric("Songs (after cleaning)", f"{counts.songs_after_cleaning:,}", help=help)


class DataUnavailable(JukeboxError, RuntimeError):
    """The current data set cannot be read; the message says why and what to do."""


def ensure_data(settings: Settings) -> ExploreData:
    """The current data set for Explore; generates the default synthetic set if there is none.

    Raises ``DataUnavailable`` when the stored data set cannot be read or no longer validates.
    """
    try:
        identity = data_identity(settings)
        if not identity:
            with st.spinner("No data set yet: generating the default synthetic one…"):
                ensure_current(settings)
            identity = data_identity(settings)
        return _load(identity, settings)
    except (JukeboxError, OSError, ValueError) as error:
        raise DataUnavailable(
            f"The current data set in {settings.data_dir} cannot be used: {error} "
            "Load another data set below, or run `python -m jukebox data generate`."
        ) from error


@st.cache_resource(max_entries=1, show_spinner="Loading the data set…")
def _load(identity: str, _settings: Settings) -> ExploreData:
    return explore_data(load_current(_settings), identity)


def explore_data(data: SongData, identity: str) -> ExploreData:
    """``data`` as Explore shows it: after cleaning, like training sees it, so no view shows a
    value that validation says was dropped (a duration of 0 ms); the findings still say what."""
    clean = clean_flagged(data)
    return ExploreData(
        identity=identity,
        tables=explore_tables(clean.properties, clean.rankings),
        source=data.source,
        n_songs=clean.n_songs,
        warnings=len(data.report.warnings),
        findings=tuple(f.message for f in data.report.findings),
        bayes_accuracy=data.bayes_accuracy,
        dropped=data.n_songs - clean.n_songs,
        counts=data_counts(data),
    )


@st.cache_data(max_entries=32, show_spinner=False)
def summary(
    identity: str,
    start: date | None,
    end: date | None,
    countries: tuple[str, ...],
    _settings: Settings,
) -> Summary:
    """Every figure of Explore for one selection (date range and countries)."""
    tables = _load(identity, _settings).tables
    return summarize(select_rows(tables.rows, start, end, countries), tables.songs)


@st.cache_data(max_entries=32, show_spinner=False)
def top_songs(
    identity: str,
    start: date | None,
    end: date | None,
    countries: tuple[str, ...],
    n: int,
    min_entries: int,
    _settings: Settings,
) -> pd.DataFrame:
    """The most popular songs of the selection, by mean popularity over their chart entries."""
    tables = _load(identity, _settings).tables
    rows = select_rows(tables.rows, start, end, countries)
    return _top_songs(rows, tables.songs, n=n, min_entries=min_entries)


# The heatmap is cached as an object (cache_resource: shared, never copied) because building
# a plotly figure costs more than the numbers in it; nothing mutates it.
@st.cache_resource(max_entries=32, show_spinner=False)
def correlations(
    identity: str,
    start: date | None,
    end: date | None,
    countries: tuple[str, ...],
    _settings: Settings,
) -> go.Figure:
    """The correlation heatmap of a selection."""
    return correlation_figure(summary(identity, start, end, countries, _settings).correlations)


FILTER_KEYS = (
    "explore_dates",
    "explore_countries",
    "explore_map_feature",
    "explore_map_colour",
    "explore_top_min",
    "explore_top_min_kept",
)


def forget_filters_of_other_data(identity: str) -> None:
    """Reset Explore's filters when the data set changed: old dates and countries may not exist."""
    if st.session_state.get("explore_identity") != identity:
        for key in FILTER_KEYS:
            st.session_state.pop(key, None)
        st.session_state["explore_identity"] = identity


# --- Loading another data source ---------------------------------------------------------------

FIELD_NAMES = {"properties": "song_properties", "rankings": "song_rankings", "file": "the file"}
CANDIDATE = "explore_candidate"
ADOPTED = "explore_adopted"


def announce_adopted() -> None:
    """Say once, after the rerun that follows it, which data set was just made current."""
    if message := st.session_state.pop(ADOPTED, None):
        st.success(message)


def source_loader(settings: Settings) -> None:
    """Read another data set, show what validation found, and replace the current one only when
    the user says so (dropping the rows with problems, which are counted first)."""
    kind = st.radio(
        "Source",
        list(sources.SOURCE_KINDS),
        format_func=sources.SOURCE_KINDS.get,
        horizontal=True,
        key="explore_source_kind",
    )
    with st.form(f"explore_source_{kind}"):
        params = _source_form(kind, settings)
        submitted = st.form_submit_button(
            "Read and validate", type="primary", key=f"explore_read_{kind}"
        )
    if submitted:
        st.session_state.pop(CANDIDATE, None)
        _read_candidate(kind, params, settings)
    if CANDIDATE in st.session_state:
        _review_candidate(settings)


def _source_form(kind: str, settings: Settings) -> dict:
    if kind == "synthetic":
        left, middle, right = st.columns(3)
        return {
            "songs": left.number_input("Songs", 50, 100_000, 14_000, step=1_000, key="src_songs"),
            "days": middle.number_input("Chart days", 1, 1_000, 314, key="src_days"),
            "seed": right.number_input("Seed", 0, 2**31 - 1, 0, key="src_seed"),
        }
    if kind == "parquet":
        st.caption("Local paths or http(s) URLs of the workshop's two parquet files.")
        return {
            "properties": st.text_input(
                "song_properties", placeholder="song_properties.parquet", key="src_pq_properties"
            ),
            "rankings": st.text_input(
                "song_rankings", placeholder="song_rankings.parquet", key="src_pq_rankings"
            ),
        }
    if kind == "s3":
        where = (
            f"bucket `{settings.s3_bucket}` at `{settings.s3_endpoint}`"
            if settings.storage_is_remote
            else f"the embedded store, bucket `{settings.s3_bucket}`"
        )
        st.caption(f"Object keys in {where} (set AWS_S3_ENDPOINT and friends for a real one).")
        return {
            "properties": st.text_input(
                "song_properties key", "data/song_properties.parquet", key="src_s3_properties"
            ),
            "rankings": st.text_input(
                "song_rankings key", "data/song_rankings.parquet", key="src_s3_rankings"
            ),
        }
    if kind == "kaggle":
        st.caption(
            'The "Top Spotify Songs in 73 Countries" CSV, split into the two tables; its global '
            "chart (rows with no country) is left out."
        )
        return file_pickers("kaggle", key="src_")
    st.caption("The two tables as parquet or CSV files.")
    return file_pickers("upload", key="src_")


def synthetic_options() -> dict:
    """The fields of a small synthetic data set for a training or a pipeline run, in a row."""
    cols = st.columns(4)
    return {
        "songs": cols[0].number_input("Songs", 50, 100_000, 2_000, step=500),
        "days": cols[1].number_input("Chart days", 2, 314, 60),
        "countries": cols[2].number_input("Countries", 2, 72, 20),
        "seed": cols[3].number_input("Data seed", 0, 2**31 - 1, 0),
    }


def file_pickers(kind: str, key: str = "") -> dict:
    """The file pickers of a data set sent from the browser, as ``load_source`` takes them: the
    Kaggle CSV (``kind="kaggle"``) or the two tables as parquet or CSV, side by side. ``key``
    tells apart the pickers of two forms on one page."""
    if kind == "kaggle":
        return {"file": st.file_uploader("Kaggle CSV", type=["csv"], key=f"{key}kaggle")}
    left, right = st.columns(2)
    return {
        "properties": left.file_uploader(
            "song_properties", type=["parquet", "csv"], key=f"{key}up_properties"
        ),
        "rankings": right.file_uploader(
            "song_rankings", type=["parquet", "csv"], key=f"{key}up_rankings"
        ),
    }


def _read_candidate(kind: str, params: dict, settings: Settings) -> None:
    optional = {"rankings"} if kind == "upload" else set()  # one Kaggle CSV alone is enough
    missing = [
        FIELD_NAMES.get(name, name)
        for name, value in params.items()
        if name not in optional and (value is None or str(value).strip() == "")
    ]
    if missing:
        st.error(f"Fill in {' and '.join(missing)} first, then read again.")
        return
    try:
        with st.spinner(f"Reading and validating ({sources.SOURCE_KINDS[kind]})…"):
            candidate = sources.load_source(kind, params, settings)
    except ValidationError as error:
        # The error already says "The data cannot be used:", then each problem.
        st.error(f"{error}\n\nThe current data set stays as it was.")
        st.dataframe(_findings_frame(error.report), hide_index=True)
        return
    except (JukeboxError, ValueError, OSError) as error:
        st.error(f"Could not read the data: {error} The current data set stays.")
        return
    st.session_state[CANDIDATE] = candidate


def _review_candidate(settings: Settings) -> None:
    candidate = st.session_state[CANDIDATE]
    facts = candidate.summary()
    st.markdown(f"**{candidate.source}** validates.")
    cols = st.columns(4)
    cols[0].metric("Chart entries", f"{facts['ranking_rows']:,}")
    cols[1].metric("Songs", f"{facts['songs']:,}")
    cols[2].metric("Countries", facts["countries"])
    cols[3].metric("Dates", f"{facts['first_date']} – {facts['last_date']}")
    report = candidate.report
    if report.findings:
        st.dataframe(_findings_frame(report), hide_index=True)
    droppable = sum(report.droppable.values())
    if droppable:
        st.warning(
            f"{droppable:,} rows have problems that would spoil training (see above). "
            "Using this data set drops them."
        )
    left, right = st.columns(2)
    label = f"Drop {droppable:,} rows and use it" if droppable else "Use this data set"
    if left.button(label, type="primary", key="explore_adopt"):
        try:
            with st.spinner("Saving the new data set…"):
                adopted = adopt(candidate, settings)
        except (ValidationError, OSError) as error:
            st.error(f"Could not save the new data set: {error} The current data set stays.")
            return
        st.session_state.pop(CANDIDATE, None)
        st.session_state[ADOPTED] = f"Now exploring {adopted.source}."
        st.rerun()
    if right.button("Discard", key="explore_discard"):
        st.session_state.pop(CANDIDATE, None)
        st.rerun()


def _findings_frame(report: ValidationReport) -> pd.DataFrame:
    return report.to_frame()[["level", "table", "count", "message"]]
