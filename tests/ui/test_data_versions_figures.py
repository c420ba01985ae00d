"""The Data versions page's figures, without a browser: the timeline of one version or many."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jukebox.data.versions import DataVersion, TableVersion
from jukebox.ui.data_versions import feature_overlay, timeline_figure, versions_table


def version(n: int, rows: int, minutes: int) -> DataVersion:
    tables = {
        "song_properties": TableVersion("song_properties", f"{n:032x}", 10, 300),
        "song_rankings": TableVersion("song_rankings", f"{n + 100:032x}", 10, rows),
    }
    when = datetime(2026, 12, 1, 9, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return DataVersion(f"{n:07x}" + "0" * 33, when, f"version {n}", tables)


def test_a_lone_version_sits_in_the_middle_of_readable_axes():
    figure = timeline_figure([version(1, 1_130_400, 0)], {})
    layout = figure.layout
    assert tuple(layout.xaxis.range) == (-0.5, 0.5)  # the point in the middle
    assert list(layout.xaxis.ticktext) == ["01 Dec 09:00"]  # a date, not milliseconds
    low, high = layout.yaxis.range
    assert low == 0 and 1_130_400 < high < 2 * 1_130_400  # from zero, the point well inside
    assert list(figure.data[0].text) == ["0000001"]


def test_versions_minutes_apart_each_get_their_own_place_oldest_first():
    newest_first = [version(3, 1_000, 4), version(2, 1_200, 2), version(1, 1_100, 0)]
    figure = timeline_figure(newest_first, {version(2, 0, 0).commit: ["jukebox v1"]})
    trace = figure.data[0]
    assert list(trace.x) == [0, 1, 2] and list(trace.y) == [1_100, 1_200, 1_000]
    assert list(figure.layout.xaxis.ticktext) == ["01 Dec 09:00", "01 Dec 09:02", "01 Dec 09:04"]
    assert list(trace.marker.color) == ["white", "#1DB954", "white"]  # trained on: filled
    table = versions_table(newest_first, {})
    assert list(table["current"]) == ["✓", "", ""]


def test_the_overlay_shows_each_versions_songs_as_shares_on_common_bins():
    import numpy as np
    import pytest

    from jukebox.data import changes
    from jukebox.data.schema import CHART_COUNTRIES
    from jukebox.data.synthetic import generate
    from jukebox.data.versions import diff_data

    before = generate(300, 2, n_days=10, countries=CHART_COUNTRIES[:4])
    after = changes.shift_feature(before, "energy", 0.4, fraction=0.5)
    diff = diff_data(version(1, 0, 0), version(2, 0, 1), before, after)
    figure = feature_overlay(diff, "energy", bins=20)
    old, new = figure.data
    assert (old.name, new.name) == ("0000001", "0000002")
    assert np.allclose(old.x, new.x) and len(old.x) == 20  # the same bins for both
    assert sum(old.y) == pytest.approx(1) and sum(new.y) == pytest.approx(1)
    # Half the songs moved up by 0.4: the newer version has more of its songs in the top bins.
    top = np.asarray(old.x) > 0.8
    assert np.asarray(new.y)[top].sum() > np.asarray(old.y)[top].sum() + 0.1
