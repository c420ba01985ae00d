"""The training table: every ranking row joined to its song's properties on ``spotify_id``.

Built with Arrow's hash lookup and numpy takes rather than ``DataFrame.merge``, and with the
repeated strings (ids, names, countries, albums) as categoricals, so the 1.1 million rows of the
default set merge in a fraction of a second and stay small in memory.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from jukebox.data.schema import KEY, PROPERTIES_COLUMNS, RANKINGS_COLUMNS
from jukebox.data.songdata import SongData

CATEGORICAL_COLUMNS = (
    "spotify_id",
    "name",
    "artists",
    "country",
    "album_name",
    "album_release_date",
)
"""Columns of the training table held as pandas categoricals (few distinct values, many rows)."""

PROPERTY_COLUMNS_IN_MERGE = tuple(c for c in PROPERTIES_COLUMNS if c not in RANKINGS_COLUMNS)
MERGED_COLUMNS = (*RANKINGS_COLUMNS, *PROPERTY_COLUMNS_IN_MERGE)
"""Rankings columns first (name and artists come from them), then the song's properties."""


def merge_tables(properties: pd.DataFrame, rankings: pd.DataFrame) -> pd.DataFrame:
    """Rankings joined to properties on ``spotify_id`` (inner join, rankings' row order).

    A ranking row whose song has no properties is left out (validation counts those); if a song
    appears twice in ``properties``, its first row is used. Returns ``MERGED_COLUMNS`` with the
    schema's dtypes, except ``CATEGORICAL_COLUMNS``, which are categoricals.
    """
    songs = properties.drop_duplicates(KEY, keep="first")
    songs = songs[songs[KEY].notna()].reset_index(drop=True)
    song_ids = pa.array(songs[KEY].astype("str"))
    position = pc.index_in(pa.array(rankings[KEY].astype("str"), from_pandas=True), song_ids)
    matched = position.is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(matched)
    song_of_row = position.drop_null().to_numpy().astype(np.int64)

    columns: dict[str, object] = {}
    for column in RANKINGS_COLUMNS:
        values = rankings[column]
        if column == KEY:
            columns[column] = pd.Categorical.from_codes(
                song_of_row, categories=pd.Index(songs[KEY].astype("str"))
            )
        elif column in CATEGORICAL_COLUMNS:
            columns[column] = _categorical(values, rows)
        else:
            columns[column] = values.to_numpy()[rows]
    for column in PROPERTY_COLUMNS_IN_MERGE:
        columns[column] = songs[column].to_numpy()[song_of_row]
    merged = pd.DataFrame(columns)
    for column, dtype in {**RANKINGS_COLUMNS, **PROPERTIES_COLUMNS}.items():
        if column in CATEGORICAL_COLUMNS or column not in merged:
            continue
        # Columns with gaps stay as they came (float, nullable); the rest take the schema's.
        if merged[column].dtype != dtype and not merged[column].isna().any():
            merged[column] = merged[column].astype(dtype)
    return merged[list(MERGED_COLUMNS)]


def merged(data: SongData) -> pd.DataFrame:
    """``merge_tables`` of a data set, computed once per SongData object (the last two kept).

    Callers share the returned frame: treat it as read-only.
    """
    return _merged(data)


@lru_cache(maxsize=2)
def _merged(data: SongData) -> pd.DataFrame:
    return merge_tables(data.properties, data.rankings)


def _categorical(values: pd.Series, rows: np.ndarray) -> pd.Categorical:
    """Selected rows of a text column as a categorical; factorized once over the whole column."""
    codes, categories = pd.factorize(values)
    return pd.Categorical.from_codes(codes[rows], categories=pd.Index(categories, dtype="str"))
