"""The demo stream's shifted songs move exactly the features they say, within real ranges, and
the stakeholder's sentence says which way they moved."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jukebox.data.schema import FEATURE_SPECS, FEATURES
from jukebox.data.synthetic.generator import generate
from jukebox.monitoring.drift_words import drift_sentence, effect_size
from jukebox.monitoring.shifted_songs import SHIFTS, shifted_songs, unshifted_songs


@pytest.fixture(scope="module")
def songs() -> pd.DataFrame:
    return generate(n_songs=2_000, n_days=3, seed=3).properties


@pytest.mark.parametrize("name", sorted(SHIFTS))
def test_a_shift_moves_its_features_and_leaves_the_others(songs, name):
    shifted = shifted_songs(songs, name, 1_000, seed=1)
    same = unshifted_songs(songs, 1_000, seed=1)
    for feature in FEATURES:
        size = abs(effect_size(songs[feature], shifted[feature]))
        if feature in SHIFTS[name].features:
            assert size > 0.3, (feature, size)
        else:
            assert size < 0.15, (feature, size)
        assert abs(effect_size(songs[feature], same[feature])) < 0.15


@pytest.mark.parametrize("name", sorted(SHIFTS))
def test_shifted_songs_stay_real_songs(songs, name):
    shifted = shifted_songs(songs, name, 500, seed=2)
    assert list(shifted.columns) == list(FEATURES) and len(shifted) == 500
    for feature in FEATURES:
        spec = FEATURE_SPECS[feature]
        assert shifted[feature].between(spec.low, spec.high).all(), feature
        if spec.dtype in ("int64", "bool"):
            assert (shifted[feature] == np.round(shifted[feature])).all(), feature


def test_an_unknown_shift_or_no_songs_is_refused_with_a_sentence(songs):
    with pytest.raises(ValueError, match="Unknown shift 'disco'.*acoustic"):
        shifted_songs(songs, "disco", 10)
    with pytest.raises(ValueError, match="no songs"):
        shifted_songs(songs.iloc[:0], "acoustic", 10)


def test_the_sentence_names_the_moves_biggest_first(songs):
    shifted = shifted_songs(songs, "acoustic", 1_000, seed=4)
    sentence = drift_sentence(songs, shifted, ["loudness", "acousticness", "energy"])
    assert "more acoustic" in sentence and "calmer" in sentence and "quieter" in sentence
    sizes = {f: abs(effect_size(songs[f], shifted[f])) for f in SHIFTS["acoustic"].features}
    words = {"acousticness": "acoustic", "energy": "calmer", "loudness": "quieter"}
    order = sorted(sizes, key=lambda f: -sizes[f])
    positions = [sentence.index(words[f]) for f in order]
    assert positions == sorted(positions)


def test_no_drift_reads_as_reassurance(songs):
    sentence = drift_sentence(songs, unshifted_songs(songs, 300), [])
    assert "sound like the songs the model learned from" in sentence


def test_slower_songs_read_as_slower(songs):
    shifted = shifted_songs(songs, "slow", 800, seed=5)
    assert "slower" in drift_sentence(songs, shifted, ["tempo"], period="this week")
    assert "this week" in drift_sentence(songs, shifted, ["tempo"], period="this week")
