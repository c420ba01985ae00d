"""Explore's summaries and figures agree with plain pandas on the training table (the merge)."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from jukebox.data.merge import merge_tables
from jukebox.data.schema import FEATURES
from jukebox.ui import explore as ex
from tests.ui.tables import make_tables


@pytest.fixture(scope="module")
def source():
    return make_tables()


@pytest.fixture(scope="module")
def merged(source):
    return merge_tables(*source)


@pytest.fixture(scope="module")
def tables(source):
    return ex.explore_tables(*source)


def test_compact_tables_join_like_the_merge(merged, tables):
    assert len(tables.rows) == len(merged)
    assert len(tables.songs) == merged["spotify_id"].nunique()
    assert tables.countries == sorted(merged["country"].unique())
    assert tables.date_range == (date(2024, 3, 1), date(2024, 3, 10))
    # each entry still points at its own song's features
    back = tables.songs.iloc[tables.rows["song"]]
    np.testing.assert_allclose(back["loudness"].to_numpy(), merged["loudness"].to_numpy())
    assert (back["spotify_id"].to_numpy() == merged["spotify_id"].astype(str).to_numpy()).all()
    assert (tables.rows["country"].astype(str).to_numpy() == merged["country"].astype(str)).all()


def test_unmatched_rankings_and_repeated_songs_are_joined_like_the_merge(source):
    properties, rankings = source
    orphan = rankings.head(5).assign(spotify_id="no-such-song")
    twice = pd.concat([properties, properties.head(3).assign(loudness=99.0)])
    rankings = pd.concat([rankings, orphan])
    tables = ex.explore_tables(twice, rankings)
    assert len(tables.rows) == len(rankings) - 5  # the merge's inner join leaves orphans out
    assert (tables.songs["loudness"] < 99).all()  # first row of a repeated id wins


def test_filters_select_dates_inclusively_and_countries(merged, tables):
    rows = ex.select_rows(tables.rows, date(2024, 3, 3), date(2024, 3, 5), ["DE", "JP"])
    expected = merged[
        merged["snapshot_date"].between("2024-03-03", "2024-03-05")
        & merged["country"].isin(["DE", "JP"])
    ]
    assert len(rows) == len(expected) > 0
    assert set(rows["country"].astype(str)) == {"DE", "JP"}


def test_summary_matches_pandas(merged, tables):
    rows = ex.select_rows(tables.rows, date(2024, 3, 2), date(2024, 3, 8), ["DE", "US", "SG"])
    subset = merged[
        merged["snapshot_date"].between("2024-03-02", "2024-03-08")
        & merged["country"].isin(["DE", "US", "SG"])
    ]
    summary = ex.summarize(rows, tables.songs)

    assert summary.rows == len(subset)
    assert summary.songs == subset["spotify_id"].nunique()
    assert summary.countries == 3
    assert (summary.first_day, summary.last_day) == (date(2024, 3, 2), date(2024, 3, 8))

    means = subset.groupby("country")[[*FEATURES, "popularity"]].mean().astype(float)
    got = summary.by_country.loc[means.index, [*FEATURES, "popularity"]]
    np.testing.assert_allclose(got.to_numpy(), means.to_numpy(), rtol=1e-9)
    assert summary.by_country.loc["DE", "entries"] == (subset["country"] == "DE").sum()
    assert summary.by_country.loc["SG", "country"] == "Singapore"

    pearson = subset[list(ex.VARIABLES)].astype(float).corr()
    got = summary.correlations.loc[list(ex.VARIABLES), list(ex.VARIABLES)]
    np.testing.assert_allclose(got.to_numpy(), pearson.to_numpy(), atol=1e-9)


def test_eta_is_the_correlation_ratio_with_country(merged, tables):
    summary = ex.summarize(tables.rows, tables.songs)
    for name in ("loudness", "popularity"):
        values = merged[name].astype(float)
        group_means = values.groupby(merged["country"]).transform("mean")
        eta = np.sqrt(
            ((group_means - values.mean()) ** 2).sum() / ((values - values.mean()) ** 2).sum()
        )
        assert summary.correlations.loc["country", name] == pytest.approx(eta)
        assert summary.correlations.loc[name, "country"] == pytest.approx(eta)
    assert summary.correlations.loc["country", "country"] == 1


def test_eta_is_one_when_country_decides_a_feature(source):
    # Make every song chart in one country only, and loudness a function of that country.
    properties, rankings = source
    rankings = rankings.drop_duplicates("spotify_id")
    level = {"DE": -3.0, "US": -6.0, "JP": -9.0, "SG": -12.0}
    home = rankings.set_index("spotify_id")["country"].map(level)
    properties = properties.assign(loudness=properties["spotify_id"].map(home))
    t = ex.explore_tables(properties, rankings)
    summary = ex.summarize(t.rows, t.songs)
    assert summary.correlations.loc["country", "loudness"] == pytest.approx(1.0)


def test_the_map_shows_first_what_country_decides_most(source, tables):
    properties, rankings = source
    rankings = rankings.drop_duplicates("spotify_id")
    level = {"DE": -3.0, "US": -6.0, "JP": -9.0, "SG": -12.0}
    home = rankings.set_index("spotify_id")["country"].map(level)
    properties = properties.assign(loudness=properties["spotify_id"].map(home))
    t = ex.explore_tables(properties, rankings)
    assert ex.default_map_colouring(ex.summarize(t.rows, t.songs)) == "loudness"
    summary = ex.summarize(tables.rows, tables.songs)
    eta = summary.correlations.loc["country", list(ex.VARIABLES)]
    assert ex.default_map_colouring(summary) == eta.idxmax()
    one_country = ex.select_rows(tables.rows, countries=["DE"])
    assert ex.default_map_colouring(ex.summarize(one_country, tables.songs)) == "songs"


def test_top_songs_rank_by_mean_popularity(merged, tables):
    rows = ex.select_rows(tables.rows, date(2024, 3, 1), date(2024, 3, 4), None)
    top = ex.top_songs(rows, tables.songs, n=5)
    subset = merged[merged["snapshot_date"] <= "2024-03-04"]
    expected = subset.groupby("spotify_id")["popularity"].mean().sort_values(ascending=False)
    assert len(top) == 5
    assert list(top.index) == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(top["mean popularity"].to_numpy(), expected.head(5).to_numpy())
    subset = subset.astype({"spotify_id": str})
    first = top.iloc[0]
    assert first["name"] == f"Song {int(first['spotify_id'][2:])}"
    assert first["chart entries"] == (subset["spotify_id"] == first["spotify_id"]).sum()
    assert (
        first["countries"]
        == subset.loc[subset["spotify_id"] == first["spotify_id"], "country"].nunique()
    )


def test_top_songs_respect_minimum_entries(tables):
    top = ex.top_songs(tables.rows, tables.songs, n=100, min_entries=20)
    assert (top["chart entries"] >= 20).all()
    assert len(top) < len(tables.songs)


def test_histograms_count_songs_once_and_popularity_per_entry(tables):
    summary = ex.summarize(tables.rows, tables.songs)
    x, y, _ = ex.histogram(summary, "mode")
    assert list(x) == [0, 1] and y.sum() == summary.songs
    _, y, width = ex.histogram(summary, "danceability", bins=12)
    assert len(y) == 12 and y.sum() == summary.songs and width > 0
    _, y, _ = ex.histogram(summary, "popularity")
    assert y.sum() == summary.rows
    figure = ex.histogram_figure(summary, "tempo")
    assert figure.layout.xaxis.title.text == "tempo (BPM)"
    assert figure.layout.yaxis.title.text == "songs"


def test_feature_overview_has_every_distribution(merged, tables):
    summary = ex.summarize(tables.rows, tables.songs)
    overview = ex.feature_overview(summary)
    assert list(overview.index) == [ex.feature_label(f) for f in (*FEATURES, "popularity")]
    songs = merged.drop_duplicates("spotify_id")
    assert overview.loc["loudness (dB)", "median"] == pytest.approx(songs["loudness"].median())
    assert overview.loc["Popularity", "mean"] == pytest.approx(merged["popularity"].mean())
    assert sum(overview.loc["energy", "distribution"]) == summary.songs


def test_correlation_figure_is_a_labelled_heatmap(tables):
    summary = ex.summarize(tables.rows, tables.songs)
    figure = ex.correlation_figure(summary.correlations)
    (heatmap,) = figure.data
    assert heatmap.type == "heatmap"
    assert list(heatmap.x)[-2:] == ["Popularity", "Country"]
    assert "duration_ms (ms)" in heatmap.x
    assert (heatmap.zmin, heatmap.zmax) == (-1, 1)


def test_empty_selection_summarizes_to_nothing(tables):
    rows = ex.select_rows(tables.rows, date(2030, 1, 1), date(2030, 1, 2), None)
    summary = ex.summarize(rows, tables.songs)
    assert (summary.rows, summary.songs, summary.countries) == (0, 0, 0)
    assert summary.first_day is None
    assert ex.top_songs(rows, tables.songs).empty


def test_explore_tables_accepts_object_and_categorical_text(source):
    properties, rankings = source
    as_object = rankings.astype({"spotify_id": object, "country": "category"})
    t = ex.explore_tables(properties.astype({"spotify_id": object}), as_object)
    assert isinstance(t.rows["country"].dtype, pd.CategoricalDtype)
    assert len(t.rows) == len(rankings)


def test_values_are_written_for_their_feature():
    assert ex.format_value("duration_ms", 192_010.7) == "3:12"
    assert ex.format_value("duration_ms", 833_047) == "13:53"
    assert ex.format_value("loudness", -6.9663) == "-7.0"
    assert ex.format_value("tempo", 123.997) == "124"
    assert ex.format_value("energy", 0.64752) == "0.648"
    assert ex.format_value("key", 11.0) == "11" and ex.format_value("key", 5.0667) == "5.1"
    assert ex.format_value("is_explicit", 1.0) == "1"
    assert ex.format_value("popularity", 73.92) == "73.9"
    assert ex.format_value("energy", float("nan")) == "—"


def test_the_readable_overview_fits_every_number(tables):
    overview = ex.readable_overview(ex.summarize(tables.rows, tables.songs))
    assert "duration (min:s)" in overview.index
    cells = overview[list(ex.QUANTILE_COLUMNS)].to_numpy().ravel()
    assert all(isinstance(c, str) and len(c) <= 7 and "e+" not in c for c in cells)


def test_explore_shows_the_data_after_cleaning(source):
    """Issue 11: Explore showed a duration of 0, which validation says was dropped."""
    from jukebox.data.songdata import song_data
    from jukebox.ui.data import explore_data

    properties, rankings = source
    properties = properties.copy()
    properties.loc[0, "duration_ms"] = 0
    data = song_data(properties, rankings, "test")
    assert sum(data.report.droppable.values()) == 1
    shown = explore_data(data, "id")
    assert shown.tables.songs["duration_ms"].min() > 0
    assert (shown.n_songs, shown.dropped) == (data.n_songs - 1, 1)
    assert any("duration_ms" in finding for finding in shown.findings)
