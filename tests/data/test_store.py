"""The current data set: saved atomically, read back validated, created when missing."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from jukebox.data import store
from jukebox.data.songdata import song_data
from jukebox.data.store import (
    NoDataError,
    current_info,
    ensure_current,
    load_current,
    save_current,
)
from jukebox.data.validation import ValidationError


def test_round_trip(small, home):
    info = save_current(small, home)
    loaded = load_current(home)
    pd.testing.assert_frame_equal(loaded.properties, small.properties)
    pd.testing.assert_frame_equal(loaded.rankings, small.rankings)
    assert loaded.source == small.source
    assert loaded.bayes_accuracy == pytest.approx(small.bayes_accuracy)
    assert loaded.seed == 7
    assert current_info(home) == json.loads(json.dumps(info))
    assert info["ranking_rows"] == len(small.rankings) and info["songs"] == len(small.properties)
    assert info["countries"] == 12 and info["first_date"] == "2023-10-18"
    assert set(info["files"]) == {"song_properties.parquet", "song_rankings.parquet"}
    assert sorted(p.name for p in home.data_dir.iterdir()) == [
        "dataset.json",
        "song_properties.parquet",
        "song_rankings.parquet",
    ]


def test_failed_save_keeps_the_previous_data_set(small, home, monkeypatch):
    from jukebox.data.synthetic import generate

    save_current(small, home)
    before = {p.name: p.read_bytes() for p in home.data_dir.iterdir()}
    other = generate(200, seed=99, n_days=5, chart_size=10, countries=("DE", "FR"))
    calls = []
    original = pd.DataFrame.to_parquet

    def fail_on_the_second_table(frame, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        return original(frame, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", fail_on_the_second_table)
    with pytest.raises(OSError, match="disk full"):
        save_current(other, home)
    after = {p.name: p.read_bytes() for p in home.data_dir.iterdir()}
    assert after == before  # same files, same bytes, no leftover temporary folder
    assert load_current(home).seed == 7


def test_no_data_says_how_to_make_some(home):
    assert current_info(home) is None
    with pytest.raises(NoDataError, match="python -m jukebox data generate"):
        load_current(home)


def test_interrupted_files_are_detected(small, home):
    save_current(small, home)
    path = home.data_dir / store.RANKINGS_FILE
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(NoDataError, match="does not match dataset.json"):
        load_current(home)


def test_ensure_current_generates_once(small, home, monkeypatch):
    import jukebox.data.synthetic as synthetic

    made = []

    def tiny_generate():
        made.append(1)
        return small

    monkeypatch.setattr(synthetic, "generate", tiny_generate)
    first = ensure_current(home)
    second = ensure_current(home)
    assert made == [1]
    assert first.source == second.source == small.source
    assert current_info(home)["ranking_rows"] == len(small.rankings)


def test_tables_without_dataset_json_are_described_and_kept(small, home, monkeypatch):
    import jukebox.data.synthetic as synthetic

    save_current(small, home)
    (home.data_dir / store.INFO_FILE).unlink()
    info = current_info(home)
    assert info["songs"] == len(small.properties)
    assert info["ranking_rows"] == len(small.rankings)
    assert info["countries"] == 12 and info["first_date"] == "2023-10-18"
    monkeypatch.setattr(synthetic, "generate", lambda: pytest.fail("must not regenerate"))
    kept = ensure_current(home)
    pd.testing.assert_frame_equal(kept.rankings, small.rankings)


def test_a_file_that_is_not_parquet_is_a_sentence(small, home):
    save_current(small, home)
    (home.data_dir / store.PROPERTIES_FILE).write_text("spotify_id,name\n1,a\n")
    (home.data_dir / store.INFO_FILE).unlink()
    with pytest.raises(
        NoDataError, match="song_properties.parquet is not a Parquet file, or a damaged one"
    ):
        load_current(home)


def test_cleaning_counts_songs_and_chart_rows_apart(small):
    base = store.clean_flagged(small)  # the synthetic set has a few flagged rows of its own
    properties = base.properties.copy()
    properties.loc[properties.index[::2], "danceability"] = float("nan")
    rankings = base.rankings.copy()
    rankings.loc[rankings.index[:3], "popularity"] = float("nan")
    data = song_data(properties, rankings, "half")
    cleaned = store.clean_flagged(data)
    songs = (len(properties) + 1) // 2
    assert len(cleaned.properties) == len(properties) - songs
    assert (
        cleaned.source
        == f"half, {songs + 3:,} rows with problems dropped ({songs} songs, 3 chart rows)"
    )
    assert store.clean_flagged(cleaned) is cleaned


def test_cleaning_that_empties_a_table_names_the_columns(small):
    properties = small.properties.copy()
    properties.loc[properties.index[::2], "danceability"] = float("nan")
    properties.loc[properties.index[1::2], "energy"] = float("nan")
    with pytest.raises(ValidationError) as caught:
        store.clean_flagged(song_data(properties, small.rankings, "two halves"))
    message = str(caught.value)
    assert "song_properties: every row has a problem" in message
    assert "danceability" in message and "energy" in message and "no rows" not in message
