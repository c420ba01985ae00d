"""Explore: the song data at a glance, then filtered by date range and countries."""

from datetime import date

import streamlit as st

from jukebox.config import load_settings
from jukebox.data.countries import country_name
from jukebox.data.schema import FEATURES
from jukebox.ui import data as ui_data
from jukebox.ui.explore import (
    POPULARITY,
    QUANTILE_COLUMNS,
    Summary,
    country_table,
    default_map_colouring,
    feature_label,
    histogram_figure,
    readable_overview,
)
from jukebox.ui.maps import show_map, world_map

st.title("Explore")
settings = load_settings()
try:
    data = ui_data.ensure_data(settings)
except ui_data.DataUnavailable as error:
    st.error(str(error))
    with st.expander("Load another data set", expanded=True):
        ui_data.source_loader(settings)
    st.stop()
tables = data.tables
bounds = tables.date_range
ui_data.forget_filters_of_other_data(data.identity)

# --- Size and health of the whole data set -------------------------------------------------
ui_data.announce_adopted()
st.caption(f"Data set: **{data.source}**")
cols = st.columns(6)
ui_data.counts_metrics(cols, data.counts)
cols[2].metric("Countries", len(tables.countries))
cols[3].metric("Days", f"{(bounds[1] - bounds[0]).days + 1:,}")
cols[4].metric(
    "Warnings",
    data.warnings,
    help="What validation found when this data set was loaded (details below).",
)
cols[5].metric(
    "Bayes ceiling",
    f"{data.bayes_accuracy:.1%}" if data.bayes_accuracy is not None else "unknown",
    help="The best accuracy any classifier could reach on this data set: known only for "
    "synthetic data, whose generator knows each country's taste.",
)
st.caption(f"{data.counts.sentence()} Charts from {bounds[0]:%d %b %Y} to {bounds[1]:%d %b %Y}.")
if data.findings:
    with st.expander("What validation found"):
        for finding in data.findings:
            st.markdown(f"- {finding}")
with st.expander("Load another data set"):
    ui_data.source_loader(settings)

# --- Filters: they apply to every view below ------------------------------------------------
st.subheader("Filters")
left, right = st.columns([1, 3])
picked = left.date_input(
    "Date range",
    value=bounds,
    min_value=bounds[0],
    max_value=bounds[1],
    key="explore_dates",
)
# While the second date of a range is being picked, the widget holds only the first.
start, end = (tuple(picked) + (None, None))[:2] if picked else (None, None)
countries = right.multiselect(
    "Countries (none picked = all)",
    sorted(tables.countries, key=country_name),
    format_func=lambda code: f"{country_name(code)} ({code})",
    key="explore_countries",
)
view = (data.identity, start, end, tuple(sorted(countries)))
summary = ui_data.summary(*view, settings)
if summary.rows == 0:
    st.warning("No chart entries match these filters: widen the date range or pick more countries.")
    st.stop()
st.caption(
    f"In view: {summary.rows:,} chart entries of {summary.songs:,} songs in "
    f"{summary.countries} countr{'y' if summary.countries == 1 else 'ies'}, "
    f"{summary.first_day:%d %b %Y} to {summary.last_day:%d %b %Y}."
)


# --- The views: only the open tab is drawn, so a filter change redraws one view --------------
map_tab, spread_tab, correlation_tab, country_tab, songs_tab = st.tabs(
    ["Map", "Distributions", "Correlations", "Countries", "Top songs"],
    key="explore_tab",
    on_change="rerun",
)


@st.fragment  # its picker redraws the map alone
def world_map_section(summary: Summary) -> None:
    by_country = summary.by_country
    counts = {"entries": "Chart entries", "songs": "Songs that charted"}
    # The choice outlives the widget (another tab drops it); the first default says something.
    if "explore_map_feature" not in st.session_state:
        st.session_state["explore_map_feature"] = st.session_state.get(
            "explore_map_colour"
        ) or default_map_colouring(summary)
    colour_by = st.selectbox(
        "Colour countries by",
        [*counts, POPULARITY, *FEATURES],
        format_func=lambda name: counts.get(name) or f"Mean {feature_label(name)}",
        key="explore_map_feature",
    )
    st.session_state["explore_map_colour"] = colour_by
    if colour_by in counts:
        values, label, value_format = by_country[colour_by], counts[colour_by], ",d"
    else:
        values, label, value_format = by_country[colour_by], f"Mean {colour_by}", ",.3~g"
    show_map(world_map(values.to_dict(), "", label, value_format=value_format), key="explore_map")
    st.caption(
        "Means are over chart entries: a song counts once for every day it charts in a country."
    )


@st.fragment  # its own range and counts redraw the table alone
def top_songs_section(
    identity: str, countries: tuple[str, ...], low: date, high: date, typical: int
) -> None:
    left, middle, right = st.columns([3, 1, 1])
    if low < high:
        days = left.slider("Charting between", min_value=low, max_value=high, value=(low, high))
    else:
        days = (low, high)
        left.caption(f"Charting on {low:%d %b %Y}")
    n_top = middle.number_input("How many", 5, 200, 20, step=5, key="explore_top_n")
    # A song that charted once at the top says little: by default, keep songs that chart at
    # least as often as the typical (median) song in view.
    if "explore_top_min" not in st.session_state:
        st.session_state["explore_top_min"] = st.session_state.get("explore_top_min_kept", typical)
    min_entries = right.number_input(
        "At least entries",
        1,
        10_000,
        help=f"Leave out songs with fewer chart entries in the range. The typical song in view "
        f"charts {typical:,} times.",
        key="explore_top_min",
    )
    st.session_state["explore_top_min_kept"] = min_entries
    top = ui_data.top_songs(data.identity, *days, view[3], int(n_top), int(min_entries), settings)
    st.dataframe(
        top,
        key="explore_top_songs",
        column_config={
            "mean popularity": st.column_config.ProgressColumn(
                "Mean popularity", min_value=0, max_value=100, format="%.1f"
            ),
            "chart entries": st.column_config.NumberColumn("Chart entries", format="localized"),
            "countries": st.column_config.NumberColumn("Countries"),
        },
    )


if map_tab.open:
    with map_tab:
        world_map_section(summary)

if spread_tab.open:
    with spread_tab:
        # The whole width and every row: nothing clipped, no scrolling inside the table.
        st.dataframe(
            readable_overview(summary),
            key="explore_features",
            height="content",
            width="stretch",
            column_config={
                "distribution": st.column_config.BarChartColumn("Distribution", width="medium"),
                **{q: st.column_config.TextColumn(q, width="small") for q in QUANTILE_COLUMNS},
            },
        )
        st.caption(
            "Features over the songs that chart in view (each song once); popularity over chart "
            "entries, since it is measured on each chart day. Rows validation flagged (say, a "
            "duration of 0) are left out, as training leaves them out."
        )
        left, right = st.columns([1, 2])
        feature = left.selectbox(
            "Feature", [*FEATURES, POPULARITY], format_func=feature_label, key="explore_feature"
        )
        right.plotly_chart(histogram_figure(summary, feature), key="explore_histogram")

if correlation_tab.open:
    with correlation_tab:
        st.plotly_chart(ui_data.correlations(*view, settings), key="explore_correlations")
        st.caption(
            "Pearson correlation r between features and popularity, over chart entries. Country "
            "is a category with no order, so its row and column show the correlation ratio η "
            "instead: the share of a feature's spread that lies between the countries' means (0: "
            "every country has the same mean; 1: the country decides the value). η has no sign."
        )

if country_tab.open:
    with country_tab:
        st.dataframe(
            country_table(summary),
            key="explore_country_table",
            column_config={
                "code": st.column_config.TextColumn("Code"),
                "country": st.column_config.TextColumn("Country", pinned=True),
                "entries": st.column_config.NumberColumn("Chart entries", format="localized"),
                "songs": st.column_config.NumberColumn("Songs", format="localized"),
                POPULARITY: st.column_config.NumberColumn("Popularity", format="%.1f"),
                **{
                    name: st.column_config.NumberColumn(
                        feature_label(name),
                        format="%.0f"
                        if name == "duration_ms"
                        else "%.1f"
                        if name == "tempo"
                        else "%.3f",
                    )
                    for name in FEATURES
                },
            },
        )
        st.caption("Mean features per country, over chart entries. Click a header to sort.")

if songs_tab.open:
    with songs_tab:
        top_songs_section(
            data.identity, view[3], summary.first_day, summary.last_day, summary.typical_entries
        )
