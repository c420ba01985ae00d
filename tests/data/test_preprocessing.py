"""Min-max scaling, one definition: scaling rows, reading a user's scaling file (JSON only, never a
pickle), and the zero-range rule the network and scikit-learn share."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest

from jukebox.data.preprocessing import Preprocessing, ScalingError, read_scaling_file
from jukebox.data.schema import FEATURES
from jukebox.ui.song_words import PRESETS
from tests.bundles import tiny_preprocessing


def _song(**overrides: float) -> dict[str, float]:
    return {**PRESETS["Typical chart song"].features, **overrides}


def test_scale_min_max():
    prep = tiny_preprocessing()
    rows = pd.DataFrame([prep.maxima, prep.minima], columns=list(FEATURES))
    scaled = prep.scale(rows)
    np.testing.assert_allclose(scaled.iloc[0], 1.0)
    np.testing.assert_allclose(scaled.iloc[1], 0.0)


def test_a_zero_range_feature_is_shifted_not_zeroed_as_the_network_does():
    """The network and scikit-learn give a feature whose training range is zero a scale of 1, so
    such a feature reaches the model as ``x - min``; the serving client once mapped it to 0."""
    prep = tiny_preprocessing()
    minima = dict(zip(FEATURES, prep.minima, strict=True)) | {"is_explicit": 0.0}
    maxima = dict(zip(FEATURES, prep.maxima, strict=True)) | {"is_explicit": 0.0}
    flat = Preprocessing(FEATURES, tuple(minima.values()), tuple(maxima.values()))
    scaled = flat.scale(pd.DataFrame([_song(is_explicit=1.0), _song(is_explicit=0.0)]))
    assert scaled["is_explicit"].tolist() == [1.0, 0.0]
    scale, offset = flat.scale_constants()
    assert (scale[0], offset[0]) == (1.0, 0.0)


def test_scaling_json_forms_are_read_and_a_pickle_never(tmp_path):
    prep = tiny_preprocessing()
    read = read_scaling_file(prep.to_json())
    assert read.minima == prep.minima and read.maxima == prep.maxima
    per_feature = {
        f: {"min": lo, "max": hi}
        for f, lo, hi in zip(FEATURES, prep.minima, prep.maxima, strict=True)
    }
    path = tmp_path / "scaling.json"
    path.write_text(json.dumps(per_feature))
    from_file = read_scaling_file(path.read_bytes(), name=path.name)
    assert (from_file.minima, from_file.maxima) == (read.minima, read.maxima)

    with pytest.raises(ScalingError, match="never loaded"):
        read_scaling_file(pickle.dumps({"minima": [0]}))
    with pytest.raises(ScalingError, match="minima"):
        read_scaling_file('{"minima": [0, 1]}')
    with pytest.raises(ScalingError, match="13 features"):
        read_scaling_file('{"minima": [0, 1], "maxima": [1, 2]}')


def test_scaling_json_is_read_in_feature_order():
    low = [0, 1, 0, 0, -1, -60, 0, 0, 0, 0, 0, 0, 0]
    high = [1, 900_000, 1, 1, 11, 5, 1, 1, 1, 1, 1, 1, 250]
    as_lists = json.dumps({"minima": low, "maxima": high}).encode()
    reordered = json.dumps({"features": list(reversed(FEATURES)),
                            "minima": low[::-1], "maxima": high[::-1]}).encode()  # fmt: skip
    for data in (as_lists, reordered):
        scaling = read_scaling_file(data, name="scaler.json")
        assert scaling.minima == tuple(map(float, low))
        assert scaling.maxima == tuple(map(float, high))
        assert scaling.range_flags(_song(tempo=251.0))[0].feature == "tempo"


class _Exploding:
    """Unpickling this runs code: what a malicious 'scaler.pkl' would do."""

    def __reduce__(self):
        return (pytest.fail, ("a pickle was loaded",))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("scaler.pkl", pickle.dumps(_Exploding()), "never opens pickles"),
        ("scaler.json", pickle.dumps(_Exploding()), "never opens pickles"),
        ("scaler.joblib", b"anything", "never opens pickles"),
        ("scaler.json", b"{not json", "not JSON"),
        ("scaler.json", b"[1, 2]", "JSON object"),
        ("scaler.json", b'{"minima": [0, 1]}', "minima.*maxima"),
        ("scaler.json", b'{"minima": [0, 1], "maxima": [1, 2]}', "2 minima"),
    ],
)  # fmt: skip
def test_bad_scaling_files_get_a_sentence_and_pickles_are_never_loaded(name, data, message):
    with pytest.raises(ScalingError, match=message):
        read_scaling_file(data, name=name)
