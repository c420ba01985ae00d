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


def test_validation_holds_out_a_fifth_of_the_songs_whole(merged, prepared):
    """Issue 11: validation held the same songs on other days, so it could not see overfitting."""
    assert prepared.validation_by == "song"
    train_songs, val_songs = set(prepared.songs_train), set(prepared.songs_val)
    assert not train_songs & val_songs  # no song on both sides
    assert len(val_songs) == pytest.approx(0.2 * len(train_songs | val_songs), abs=1)
    assert len(prepared.songs_train) == len(prepared.y_train)
    assert len(prepared.songs_val) == len(prepared.y_val)
    # The split is by whole songs: every row of a validation song is in validation.
    before_test = merged[merged["snapshot_date"] < prepared.test_from]
    rows_per_song = before_test.groupby("spotify_id", observed=True).size()
    assert len(prepared.y_train) + len(prepared.y_val) == rows_per_song.sum()
    summary = prepared.summary()
    assert summary["validation_by"] == "song"
    assert summary["validation_songs"] == len(val_songs)


def test_the_same_seed_holds_out_the_same_songs(merged, prepared):
    again = prepare(merged, seed=3)
    np.testing.assert_array_equal(again.y_val, prepared.y_val)
    other = prepare(merged, seed=4)
    assert len(other.y_val) != len(prepared.y_val) or not np.array_equal(
        other.x_val, prepared.x_val
    )


def test_song_table_folds_rows_into_songs_with_country_counts():
    from jukebox.data.preparation import song_table

    x = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    y = np.array([0, 2, 1, 0, 2])
    songs = np.array([7, 9, 7, 7, 9])
    features, counts = song_table(x, y, songs, 3)
    np.testing.assert_array_equal(features, [[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(counts, [[2, 1, 0], [0, 0, 2]])
    # Without ids, identical feature rows are one song: the same table.
    same_features, same_counts = song_table(x, y, None, 3)
    np.testing.assert_array_equal(same_features, features)
    np.testing.assert_array_equal(same_counts, counts)


def test_song_table_keeps_the_row_by_row_loss(prepared):
    """Cross-entropy over chart rows = count-weighted cross-entropy over songs."""
    from jukebox.data.preparation import song_table

    rng = np.random.default_rng(0)
    features, counts = song_table(
        prepared.x_train, prepared.y_train, prepared.songs_train, prepared.n_classes
    )
    assert counts.sum() == len(prepared.y_train)
    assert len(features) < len(prepared.y_train) / 5
    p_song = rng.dirichlet(np.ones(prepared.n_classes), size=len(features))
    _, inverse = np.unique(prepared.songs_train, return_inverse=True)
    row_loss = -np.log(p_song[inverse, prepared.y_train]).mean()
    song_loss = -(counts * np.log(p_song)).sum() / counts.sum()
    assert song_loss == pytest.approx(row_loss, rel=1e-9)


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


def test_prepared_round_trips_with_its_song_ids(prepared, tmp_path):
    """What a pipeline's prepare step hands to its train step keeps the songs of each row."""
    from jukebox.data.store import read_prepared, write_prepared

    write_prepared(prepared, tmp_path / "prepared")
    again = read_prepared(tmp_path / "prepared")
    np.testing.assert_array_equal(again.songs_train, prepared.songs_train)
    np.testing.assert_array_equal(again.songs_val, prepared.songs_val)
    np.testing.assert_array_equal(again.x_val, prepared.x_val)
    assert again.validation_by == "song"
    assert again.summary() == prepared.summary()
