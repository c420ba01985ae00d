"""A tiny real bundle with a reference of training songs, and the predictor over it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jukebox.data.schema import FEATURES
from jukebox.explain.predictor import Predictor, predictor_from_bundle
from tests.bundles import make_tiny_bundle

IGNORED = "liveness"
"""The feature the ignoring model's weights leave out."""


def training_songs(n: int = 600, seed: int = 7) -> pd.DataFrame:
    """Raw songs spread as real ones are, integers where the data has integers."""
    rng = np.random.default_rng(seed)
    songs = pd.DataFrame(
        {
            "is_explicit": rng.integers(0, 2, n),
            "duration_ms": rng.integers(90_000, 330_000, n),
            "danceability": rng.beta(5, 2, n),
            "energy": rng.beta(4, 2, n),
            "key": rng.integers(-1, 12, n),
            "loudness": rng.normal(-7, 3, n).clip(-30, 1),
            "mode": rng.integers(0, 2, n),
            "speechiness": rng.beta(1, 10, n),
            "acousticness": rng.beta(1, 3, n),
            "instrumentalness": rng.beta(0.3, 8, n),
            "liveness": rng.beta(2, 10, n),
            "valence": rng.beta(3, 3, n),
            "tempo": rng.normal(120, 25, n).clip(60, 200),
        }
    )
    return songs.loc[:, list(FEATURES)].astype(float)


@pytest.fixture(scope="session")
def reference() -> pd.DataFrame:
    return training_songs()


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory, reference):
    path = tmp_path_factory.mktemp("explain") / "tiny"
    make_tiny_bundle(path, reference=reference)
    return path


@pytest.fixture(scope="session")
def predict(bundle_dir) -> Predictor:
    return predictor_from_bundle(bundle_dir)


@pytest.fixture(scope="session")
def ignoring_predict(tmp_path_factory, reference) -> Predictor:
    path = tmp_path_factory.mktemp("explain") / "ignoring"
    make_tiny_bundle(path, reference=reference, ignored=(IGNORED,))
    return predictor_from_bundle(path)


@pytest.fixture(scope="session")
def song(reference) -> dict[str, float]:
    return reference.iloc[3].to_dict()
