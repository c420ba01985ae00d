"""The training table: rankings joined to properties, compact and equal to a plain merge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jukebox.data.merge import CATEGORICAL_COLUMNS, MERGED_COLUMNS, merge_tables, merged
from jukebox.data.schema import FEATURES
from jukebox.data.synthetic import generate


def test_merge_equals_a_plain_pandas_merge(small):
    table = merge_tables(small.properties, small.rankings)
    reference = small.rankings.merge(
        small.properties.drop(columns=["name", "artists"]), on="spotify_id", how="inner"
    )
    assert list(table.columns) == list(MERGED_COLUMNS)
    assert len(table) == len(reference) == len(small.rankings)
    for column in MERGED_COLUMNS:
        mine = table[column].astype(object) if column in CATEGORICAL_COLUMNS else table[column]
        theirs = (
            reference[column].astype(object) if column in CATEGORICAL_COLUMNS else reference[column]
        )
        pd.testing.assert_series_equal(mine, theirs, check_names=False, check_dtype=False)
    for column in FEATURES:
        assert table[column].dtype == small.properties[column].dtype
    for column in CATEGORICAL_COLUMNS:
        assert isinstance(table[column].dtype, pd.CategoricalDtype)


def test_unmatched_rankings_are_left_out_and_repeats_use_the_first_row(small):
    properties = small.properties.iloc[5:].copy()
    repeat = properties.iloc[[0]].assign(danceability=0.0123)
    properties = pd.concat([properties, repeat], ignore_index=True)
    table = merge_tables(properties, small.rankings)
    known = small.rankings["spotify_id"].isin(properties["spotify_id"])
    assert len(table) == int(known.sum())
    first = properties.iloc[0]
    rows = table[table["spotify_id"] == first["spotify_id"]]
    assert len(rows) and np.allclose(rows["danceability"], first["danceability"])


@pytest.mark.slow  # generates the default 1.1 M-row set
def test_merge_is_compact_on_the_default_set(default_set):
    table = merge_tables(default_set.properties, default_set.rankings)
    assert len(table) == len(default_set.rankings)
    megabytes = table.memory_usage(deep=True).sum() / 1e6
    assert megabytes < 200, megabytes  # ~1.1M rows: numbers 8 bytes each, strings as codes
    assert table["country"].cat.categories.size == 72


def test_merged_is_computed_once_per_data_set(small):
    assert merged(small) is merged(small)


def test_merge_accepts_chunked_text_columns_as_read_back_or_concatenated():
    # Large tables read from parquet, and frames built with pd.concat, hold text in chunks.
    data = generate(200, 1, n_days=3)
    rankings = pd.concat([data.rankings, data.rankings.head(5)], ignore_index=True)
    merged = merge_tables(data.properties, rankings)
    assert len(merged) == len(rankings)
    assert merged["country"].tolist() == rankings["country"].tolist()
