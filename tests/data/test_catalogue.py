"""The song catalogue: usable songs once each, and search by name and artist, best match first."""

from __future__ import annotations

import pandas as pd
import pytest

from jukebox.data.catalogue import (
    build_catalogue,
    catalogue_sentence,
    load_catalogue,
    search_songs,
)
from jukebox.data.schema import FEATURES
from jukebox.ui.song_words import PRESETS


@pytest.fixture
def catalogue() -> pd.DataFrame:
    rows = [
        ("1", "Water", "Tyla"),
        ("2", "Water Packet", "A.R. Rahman"),
        ("3", "IDGAF (feat. Yeat)", "Drake, Yeat"),
        ("4", "Espresso", "Sabrina Carpenter"),
        ("5", "Please Please Please", "Sabrina Carpenter"),
        ("6", "Broken", "Nobody"),
    ]
    frame = pd.DataFrame(rows, columns=["spotify_id", "name", "artists"])
    for feature in FEATURES:
        frame[feature] = PRESETS["Typical chart song"].features[feature]
    frame.loc[5, "tempo"] = None  # a song the model cannot be asked about
    frame.loc[6] = ["7", "Water", "Tyla", *[0.5] * len(FEATURES)]  # a duplicate listing
    return build_catalogue(frame)


def test_catalogue_keeps_usable_songs_once_and_counts_the_rest(catalogue):
    assert catalogue.attrs["unusable"] == 1
    assert "Broken — Nobody" not in set(catalogue["label"])
    assert catalogue["label"].tolist().count("Water — Tyla") == 1
    assert catalogue["label"].tolist() == sorted(catalogue["label"], key=str.casefold)


@pytest.mark.parametrize(
    ("query", "first", "expected"),
    [
        ("water", "Water — Tyla", {"Water — Tyla", "Water Packet — A.R. Rahman"}),
        ("WATER", "Water — Tyla", {"Water — Tyla", "Water Packet — A.R. Rahman"}),
        ("sabrina", None, {"Espresso — Sabrina Carpenter",
                           "Please Please Please — Sabrina Carpenter"}),
        ("tYlA", "Water — Tyla", {"Water — Tyla"}),
        ("drake yeat", "IDGAF (feat. Yeat) — Drake, Yeat", {"IDGAF (feat. Yeat) — Drake, Yeat"}),
        ("espresso carpenter", "Espresso — Sabrina Carpenter", {"Espresso — Sabrina Carpenter"}),
        ("nothing like this", None, set()),
    ],
)  # fmt: skip
def test_search_finds_by_name_and_artist_ignoring_case(catalogue, query, first, expected):
    found = search_songs(catalogue, query)
    assert set(found["label"]) == expected
    if first:
        assert found["label"].iloc[0] == first


def test_search_ranks_exact_name_before_longer_names(catalogue):
    assert search_songs(catalogue, "water")["label"].tolist()[0] == "Water — Tyla"
    assert len(search_songs(catalogue, "", limit=3)) == 3


def test_the_count_says_why_songs_were_merged(catalogue):
    assert catalogue.attrs["merged"] == 1 and catalogue.attrs["songs"] == 7
    assert catalogue_sentence(catalogue) == (
        "5 songs to pick from: of the data set's 7 songs, 1 share their title and artists with "
        "another song and are listed once; 1 lack a feature a model needs."
    )
    alone = build_catalogue(catalogue.drop(columns="label").head(2))
    assert catalogue_sentence(alone) == "2 songs to pick from."


def test_the_catalogue_leaves_out_what_validation_drops(tmp_path):
    """Issue 11: the count agrees with Explore's, which counts songs after cleaning."""
    from jukebox.data.store import clean_flagged
    from jukebox.ui.data import explore_data
    from tests.model.conftest import tiny_data

    data = tiny_data(n_songs=60, n_days=3)
    properties = data.properties.copy()
    properties.loc[0, "duration_ms"] = 0
    path = tmp_path / "song_properties.parquet"
    properties.to_parquet(path)
    songs = load_catalogue(path)
    assert songs["duration_ms"].min() > 0 and songs.attrs["flagged"] >= 1
    from jukebox.data.songdata import song_data

    shown = explore_data(song_data(properties, data.rankings, "test"), "id")
    assert songs.attrs["songs"] == shown.n_songs == len(clean_flagged(data).properties) - 1


def test_exact_and_prefix_titles_come_first():
    """Issue 11: "Echo" finds "Echo — Taluel" first, not "Again tú echo…"."""
    frame = pd.DataFrame(
        [("1", "Again tú echo de menos", "Someone"), ("2", "Echoes", "Band"),
         ("3", "Echo", "Taluel"), ("4", "Song", "Echo Masta")],
        columns=["spotify_id", "name", "artists"],
    )  # fmt: skip
    for feature in FEATURES:
        frame[feature] = 0.5
    found = search_songs(build_catalogue(frame), "Echo")["label"].tolist()
    assert found[:2] == ["Echo — Taluel", "Echoes — Band"]
    assert set(found[2:]) == {"Again tú echo de menos — Someone", "Song — Echo Masta"}
