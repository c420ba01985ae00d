"""Simulated changes keep what every chart data set keeps (tested on generated data with the
real data's quirks): full daily charts, the data's own rate of new songs, nothing removed by an
append; and the diff of the versions before and after says what the change says."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from jukebox.data import changes
from jukebox.data.schema import CHART_COUNTRIES, FEATURE_SPECS, KEY
from jukebox.data.store import clean_flagged
from jukebox.data.versions.diff import diff_data
from jukebox.data.versions.records import DataVersion
from tests.data.charts import DATE, assert_full_charts, new_songs_per_day, rows_kept

CHART = 50


@pytest.fixture(scope="module")
def charts():
    """3,000 songs in 16 countries' daily top 50 over 40 days, with the real data's quirks (so
    cleaning has songs to drop, as on the default data set)."""
    from jukebox.data.synthetic import generate

    data = generate(3_000, 5, n_days=40, countries=CHART_COUNTRIES[:16])
    assert data.report.droppable  # quirks: what a version would drop first
    return data


def diff(before, after):
    """The diff of two data sets as two versions holding them would show it."""
    version = DataVersion("0" * 40, datetime.now(UTC), "", {})
    return diff_data(version, version, clean_flagged(before), clean_flagged(after)).summary()


def test_an_append_adds_chart_days_of_new_songs_at_the_datas_own_rate(charts):
    base = clean_flagged(charts)
    appended = changes.append_songs(charts, 60, seed=3)
    assert changes.what_changed(appended).startswith("60 songs appended over ")
    assert_full_charts(base, CHART)
    assert_full_charts(appended, CHART)
    # Nothing removed: every song and every chart row of the data is still there, unchanged.
    assert set(base.properties[KEY]) <= set(appended.properties[KEY])
    assert rows_kept(base.properties, appended.properties)
    assert rows_kept(base.rankings, appended.rankings)
    new = appended.properties[~appended.properties[KEY].isin(base.properties[KEY])]
    assert len(new) == 60
    # The new songs chart only on new days, after the data's last day, in its countries.
    new_rows = appended.rankings[appended.rankings[KEY].isin(new[KEY])]
    assert new_rows[DATE].min() > base.rankings[DATE].max()
    assert set(new_rows["country"]) <= set(base.countries)
    # Songs enter at the rate they entered lately: each new day's newcomers within the range
    # of the data's last 20 days, and as many a day on average as there.
    before = new_songs_per_day(base)
    after = new_songs_per_day(appended)
    added_days = after[after.index > base.rankings[DATE].max()]
    assert added_days.sum() == 60
    lately = before.tail(20)
    assert lately.min() <= added_days.mean() <= lately.max()
    assert added_days.max() <= before.max()
    # Nothing validation would drop: the version keeps exactly what the change made.
    assert clean_flagged(appended) is appended


def test_the_diff_of_an_append_says_what_the_append_did(charts):
    appended = changes.append_songs(charts, 60, seed=3)
    said = diff(charts, appended)
    assert said["songs_added"] == 60
    assert said["songs_removed"] == 0 and said["songs_changed"] == 0
    assert said["rankings_removed"] == 0
    assert said["rankings_added"] == len(appended.rankings) - len(clean_flagged(charts).rankings)


def test_an_append_of_more_songs_than_entered_the_charts_is_refused_with_a_sentence(charts):
    with pytest.raises(ValueError, match=r"^This data set's charts saw [\d,]+ songs enter"):
        changes.append_songs(charts, 100_000)


def test_a_drop_removes_whole_chart_days_and_nothing_else(charts):
    base = clean_flagged(charts)
    dropped = changes.drop_rows(charts, 0.2, seed=4)
    assert_full_charts(dropped, CHART)
    assert rows_kept(dropped.rankings, base.rankings)  # only removed, never added
    assert dropped.properties.equals(base.properties)
    days = base.rankings.groupby(["country", DATE]).ngroups
    left = dropped.rankings.groupby(["country", DATE]).ngroups
    assert 0.1 < 1 - left / days < 0.3
    said = diff(charts, dropped)
    assert said["rankings_removed"] == len(base.rankings) - len(dropped.rankings)
    assert f"{said['rankings_removed']:,} chart rows dropped" in changes.what_changed(dropped)
    assert said["rankings_added"] == said["songs_added"] == said["songs_removed"] == 0


@pytest.mark.parametrize("feature, shift", [("energy", 0.3), ("duration_ms", -(10**7))])
def test_a_shift_moves_one_feature_within_its_range(charts, feature, shift):
    base = clean_flagged(charts)
    shifted = changes.shift_feature(charts, feature, shift, fraction=0.5, seed=2)
    assert shifted.rankings.equals(base.rankings)
    assert_full_charts(shifted, CHART)
    other = [c for c in base.properties.columns if c != feature]
    assert shifted.properties[other].equals(base.properties[other])
    spec = FEATURE_SPECS[feature]
    assert shifted.properties[feature].between(spec.low, spec.high).all()
    assert clean_flagged(shifted) is shifted  # a duration shifted to 0 would be dropped
    moved = int((shifted.properties[feature] != base.properties[feature]).sum())
    said = diff(charts, shifted)
    assert said["songs_changed"] == said["values_changed"] == moved > 0.3 * len(base.properties)
    assert said["songs_added"] == said["songs_removed"] == said["rankings_added"] == 0


def test_a_key_cannot_be_shifted(charts):
    with pytest.raises(ValueError, match="'key' cannot be shifted: choose one of"):
        changes.shift_feature(charts, "key", 1)


@pytest.mark.slow  # the default data set: 14,000 songs, 1.1 million chart rows
def test_the_default_appends_keep_the_default_data_sets_charts(default_set):
    """The page's defaults on the app's default data: the append that once put 70 to 96 songs
    in a top 50 and said "Songs removed 73"."""
    appended = changes.simulate(default_set, changes.CHANGES[0], 200, 1)
    assert_full_charts(appended, CHART)
    said = diff(default_set, appended)
    assert (said["songs_added"], said["songs_removed"], said["rankings_removed"]) == (200, 0, 0)
    per_day = new_songs_per_day(appended)
    added = per_day[per_day.index > default_set.rankings[DATE].max()]
    lately = new_songs_per_day(default_set).tail(30)
    assert lately.min() <= added.mean() <= lately.max()
    assert len(added) < 20  # about ten days of new charts, as 200 newcomers took lately
