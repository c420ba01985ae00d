"""Fixtures of the search tests: the embedded registry (tests/registry/conftest.py) and a tiny
synthetic data set, prepared once per session."""

from __future__ import annotations

import pytest

from tests.registry.conftest import (  # noqa: F401
    jukebox_home,
    registry_env,
    registry_server,
)

TINY_SPACE = {
    "width": [4, 16],
    "depth": [1, 2],
    "dropout": [0.0, 0.2],
    "learning_rate": [0.003, 0.03],
    "batch_sizes": [64, 128],
    "epochs": 3,
    "patience": 2,
}


def tiny_songs(seed: int = 1):
    from tests.model.conftest import tiny_data

    return tiny_data(seed, n_songs=300, n_days=30)


@pytest.fixture(scope="session")
def songs():
    return tiny_songs()


@pytest.fixture(scope="session")
def prepared(songs):
    from jukebox.tuning.search import prepare_once
    from jukebox.tuning.space import SearchSpace

    return prepare_once(songs, SearchSpace.from_dict(TINY_SPACE).seed)
