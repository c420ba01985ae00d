"""The song catalogue: usable songs once each, and search by name and artist, best match first."""

from __future__ import annotations

import pandas as pd
import pytest

from jukebox.data.catalogue import build_catalogue, search_songs
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
