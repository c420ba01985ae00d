"""What every chart data set keeps, whatever happens to it: the invariants a simulated change must
not break, measured on the tables themselves (shared by the data and the browser tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jukebox.data.changes import newcomers
from jukebox.data.schema import KEY, LABEL
from jukebox.data.songdata import SongData

DATE = "snapshot_date"


def assert_full_charts(data: SongData, size: int) -> None:
    """Every chart day of every country holds ``size`` entries, ranked 1 to ``size``, and no
    song twice."""
    rankings = data.rankings
    days = rankings.groupby([LABEL, DATE], observed=True)
    entries = days.size()
    assert entries.min() == entries.max() == size, entries.value_counts().head().to_dict()
    assert (days["daily_rank"].min() == 1).all() and (days["daily_rank"].max() == size).all()
    assert (days["daily_rank"].nunique() == size).all()
    assert not rankings.duplicated([KEY, LABEL, DATE]).any()


def new_songs_per_day(data: SongData) -> pd.Series:
    """How many songs enter the charts each day (after the first), every day listed."""
    entered = newcomers(data.rankings).dt.normalize().value_counts()
    days = pd.date_range(data.rankings[DATE].min(), data.rankings[DATE].max())[1:]
    return entered.reindex(days, fill_value=0)


def rows_kept(before: pd.DataFrame, after: pd.DataFrame) -> bool:
    """Whether every row of ``before`` is in ``after`` as it was (as a multiset of rows)."""
    columns = list(before.columns)
    a = pd.util.hash_pandas_object(before[columns], index=False).value_counts()
    b = pd.util.hash_pandas_object(after[columns], index=False).value_counts()
    return bool(np.all(b.reindex(a.index, fill_value=0).to_numpy() >= a.to_numpy()))
