"""Preparation: split by date, stratified validation, scaler fitted on training rows only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jukebox.data.preparation import PreparationError, prepare
from jukebox.data.schema import FEATURES, LABEL


def test_test_split_is_the_latest_fifth_of_chart_dates(merged, prepared):
    dates = np.sort(merged["snapshot_date"].unique())
    n_test_dates = round(0.2 * len(dates))
    assert prepared.test_from == pd.Timestamp(dates[-n_test_dates])
    assert prepared.test_to == pd.Timestamp(dates[-1])
    later = merged["snapshot_date"] >= prepared.test_from
    assert len(prepared.y_test) == int(later.sum())
    # Every row before the test period is in training or validation, none is lost.
    assert len(prepared.y_train) + len(prepared.y_val) == int((~later).sum())


def test_validation_is_a_stratified_fifth_of_the_rest(prepared):
    rest = len(prepared.y_train) + len(prepared.y_val)
    assert len(prepared.y_val) == pytest.approx(0.2 * rest, abs=1)
    train_share = np.bincount(prepared.y_train, minlength=prepared.n_classes) / len(
        prepared.y_train
    )
    val_share = np.bincount(prepared.y_val, minlength=prepared.n_classes) / len(prepared.y_val)
    np.testing.assert_allclose(train_share, val_share, atol=0.01)


def test_scaler_is_fitted_on_training_rows_only(merged):
    data = merged.copy()
    latest = data["snapshot_date"] == data["snapshot_date"].max()
    data.loc[latest, "duration_ms"] = 1_700_000  # an extreme that only the test period has
    prepared = prepare(data, seed=3)
    column = FEATURES.index("duration_ms")
    assert prepared.maxima[column] == pytest.approx(prepared.x_train[:, column].max())
    assert prepared.maxima[column] < 1_700_000
    assert prepared.x_test[:, column].max() == 1_700_000  # test rows keep raw values
    np.testing.assert_allclose(prepared.minima, prepared.x_train.min(axis=0), rtol=1e-6)
    np.testing.assert_allclose(prepared.maxima, prepared.x_train.max(axis=0), rtol=1e-6)


def test_labels_round_trip_in_output_order(merged, prepared):
    assert list(prepared.labels) == sorted(merged[LABEL].unique())
    countries = np.array(["US", "BR", "JP", "US"])
    assert list(prepared.decode(prepared.encode(countries))) == list(countries)
    test_countries = merged.loc[merged["snapshot_date"] >= prepared.test_from, LABEL]
    assert sorted(prepared.decode(prepared.y_test)) == sorted(test_countries)
    preprocessing = prepared.preprocessing()
    assert preprocessing.labels == prepared.labels
    assert preprocessing.features == FEATURES


def test_inputs_are_one_column_per_feature(prepared):
    inputs = prepared.inputs(prepared.x_test[:7])
    assert list(inputs) == list(FEATURES)
    assert all(v.shape == (7, 1) and v.dtype == np.float32 for v in inputs.values())


def test_rows_with_missing_values_are_left_out_and_said(merged):
    data = merged.copy()
    data.loc[data.index[:5], "tempo"] = np.nan
    prepared = prepare(data, seed=3)
    assert sum(prepared.sizes().values()) == len(merged) - 5
    assert any("5 row(s) with a missing" in note for note in prepared.notes)


def test_a_single_country_is_refused_with_what_to_do(merged):
    with pytest.raises(PreparationError, match="single country .*at least two"):
        prepare(merged[merged[LABEL] == "DE"])


def test_a_single_date_is_refused(merged):
    one_day = merged[merged["snapshot_date"] == merged["snapshot_date"].max()]
    with pytest.raises(PreparationError, match="single chart date"):
        prepare(one_day)


def test_too_few_rows_are_refused(merged):
    with pytest.raises(PreparationError, match="at least 20 are needed"):
        prepare(merged.head(10))


def test_missing_columns_are_named(merged):
    with pytest.raises(PreparationError, match="tempo"):
        prepare(merged.drop(columns=["tempo"]))
