"""Global importance: mean absolute attributions per country, zero where the model ignores."""

from __future__ import annotations

import numpy as np
import pytest

from jukebox.data.schema import FEATURES
from jukebox.explain.attributions import shapley_values
from jukebox.explain.importance import global_importance
from tests.explain.conftest import IGNORED


def test_one_row_per_country_one_column_per_feature(predict, reference):
    table = global_importance(predict, reference, reference, max_songs=6, max_background=10)
    assert list(table.index) == list(predict.labels)
    assert list(table.columns) == list(FEATURES)
    assert (table.to_numpy() >= 0).all() and table.to_numpy().max() > 1e-3
    again = global_importance(predict, reference, reference, max_songs=6, max_background=10)
    assert table.equals(again)


def test_it_is_the_mean_absolute_attribution(predict, reference):
    songs, background = reference.iloc[:3], reference.iloc[10:18]
    table = global_importance(predict, songs, background, ["JP", "DE"])
    values, _ = shapley_values(predict, songs.to_numpy(), background.to_numpy())
    expected = np.abs(values).mean(axis=0)
    assert list(table.index) == ["JP", "DE"]
    for country in ("JP", "DE"):
        column = predict.country_index(country)
        np.testing.assert_allclose(table.loc[country].to_numpy(), expected[:, column], atol=1e-9)


def test_a_feature_the_model_ignores_matters_nowhere(ignoring_predict, reference):
    table = global_importance(ignoring_predict, reference, reference, max_songs=4, max_background=8)
    assert table[IGNORED].to_numpy() == pytest.approx(0.0, abs=1e-9)
