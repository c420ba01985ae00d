"""Changes to a data set of the kind new data brings, to watch the loop (a new data version →
a training run → a gated registration) without waiting for tomorrow's charts.

As the workshop's notebooks do: append new songs, drop chart rows, or shift one feature of some
songs. Each keeps what every real chart data set keeps, since a model trained on a broken chart
is no demonstration of anything:

- every chart day of a country keeps its size (a daily top 50 holds 50 entries, ranks 1 to 50,
  no song twice);
- songs enter the charts at the data set's own rate (an append adds new chart *days*, with as
  many newcomers a day as the data's latest days had);
- nothing is removed by an append, nothing is added by a drop, a shift touches one feature.

Each change starts from the data as a data version holds it: the rows validation flags are
dropped first (as ``data load`` and ``data version`` drop them), so the diff between the version
before and the version after says exactly what the change says, and nothing else. Each returns a
new, validated :class:`SongData` whose ``source`` ends with what changed; the input is left as
it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jukebox.data.schema import FEATURE_SPECS, FEATURES, KEY, LABEL
from jukebox.data.songdata import SongData, song_data
from jukebox.data.store import clean_flagged

DATE = "snapshot_date"
SHIFTABLE = tuple(f for f in FEATURES if f not in ("is_explicit", "key", "mode"))
"""Features a shift can move: the measured ones (a key or a mode has no "a little more")."""
_JITTER = 0.05  # a new song's features stray from its model song's by 5 % of each one's spread

CHANGES = ("Append new songs", "Drop chart rows", "Shift a feature")


def _again(data: SongData, properties: pd.DataFrame, rankings: pd.DataFrame, what: str) -> SongData:
    return song_data(
        properties.reset_index(drop=True),
        rankings.reset_index(drop=True),
        f"{data.source}, {what}",
        bayes_accuracy=None,  # the generator's ceiling no longer describes the changed data
        seed=data.seed,
    )


def what_changed(changed: SongData) -> str:
    """What a change did, in words (the last part of its ``source``): a version's message."""
    return changed.source.rsplit(", ", 1)[-1]


def simulate(data: SongData, change: str, amount: float, seed: int, feature: str = "") -> SongData:
    """One of :data:`CHANGES` applied to ``data``: ``amount`` is the songs to append, the share of
    chart rows to drop, or the shift of ``feature`` (in its units)."""
    if change == CHANGES[0]:
        return append_songs(data, int(amount), seed)
    if change == CHANGES[1]:
        return drop_rows(data, float(amount), seed)
    if change == CHANGES[2]:
        return shift_feature(data, feature, float(amount), seed=seed)
    raise ValueError(f"{change!r} is not a change; choose one of {', '.join(CHANGES)}.")


def newcomers(rankings: pd.DataFrame) -> pd.Series:
    """Each song's first chart day, for the songs that entered the charts after the data's first
    day (the first day's charts are the catalogue at the start, not songs entering), oldest
    first."""
    first_seen = rankings.groupby(KEY, sort=False, observed=True)[DATE].min()
    return first_seen[first_seen > rankings[DATE].min()].sort_values(kind="stable")


def append_songs(data: SongData, n_songs: int, seed: int = 1) -> SongData:
    """``data`` with ``n_songs`` new songs, which chart on new days after its last one.

    New charts are made the way the latest charts were: the days holding the ``n_songs`` songs
    that entered the charts most recently are replayed after the last day, each of those songs
    replaced by a new one (its own id and name; its features a little apart from its model's, so
    it charts where songs like it chart). So every new chart day holds as many entries as an old
    one, and new songs enter at the rate they entered lately. A data set whose history holds
    fewer newcomers than asked for is refused with a sentence that says how many fit.
    """
    from jukebox.data.synthetic import song_texts

    if n_songs < 1:
        raise ValueError("Append at least one song.")
    data = clean_flagged(data)
    rankings, properties = data.rankings, data.properties
    known = properties[KEY]
    entered = newcomers(rankings)
    entered = entered[entered.index.isin(known)]
    if len(entered) < n_songs:
        raise ValueError(
            f"This data set's charts saw {len(entered):,} songs enter after their first day, so "
            f"at most {len(entered):,} new songs can enter at its own rate: append at most that "
            "many, or use a data set with more chart days."
        )
    rng = np.random.default_rng(seed)
    start = entered.iloc[-n_songs]  # the first day of the replayed window
    later = entered[entered > start].index
    on_start = entered[entered == start].index.to_numpy()
    parents = list(later) + list(rng.choice(on_start, n_songs - len(later), replace=False))
    last = rankings[DATE].max()
    shift = pd.Timedelta(days=(last.normalize() - start.normalize()).days + 1)

    texts = song_texts(n_songs, seed + 1000, taken=set(known.astype("str")))
    renamed = dict(zip(parents, texts[KEY], strict=True))
    window = rankings[rankings[DATE] >= start].copy()
    window[DATE] = window[DATE] + shift
    child = window[KEY].map(renamed)
    replaced = child.notna().to_numpy()
    by_id = texts.set_index(KEY)
    for column in ("name", "artists", "album_name"):
        if column in window.columns:
            window.loc[replaced, column] = by_id.loc[child[replaced], column].to_numpy()
    window.loc[replaced, KEY] = child[replaced].to_numpy()
    if "album_release_date" in window.columns:  # released the day it first charts
        first_day = window[replaced].groupby(KEY)[DATE].min().dt.strftime("%Y-%m-%d")
        window.loc[replaced, "album_release_date"] = window.loc[replaced, KEY].map(first_day)

    songs = properties.set_index(KEY).loc[parents].reset_index()
    songs[KEY] = texts[KEY].to_numpy()
    songs["name"] = texts["name"].to_numpy()
    songs["artists"] = texts["artists"].to_numpy()
    if "event_timestamp" in songs.columns:
        songs["event_timestamp"] = songs["event_timestamp"] + shift
    songs = _jittered(songs, properties, rng)
    days = window[DATE].dt.normalize().nunique()
    return _again(
        data,
        pd.concat([properties, songs], ignore_index=True),
        pd.concat([rankings, window], ignore_index=True),
        f"{n_songs:,} songs appended over {days:,} new chart days",
    )


def _jittered(songs: pd.DataFrame, everyone: pd.DataFrame, rng: np.random.Generator):
    """``songs`` with each measured feature moved a little (within its range, and values on an
    edge of it left there)."""
    songs = songs.copy()
    for feature in SHIFTABLE:
        spec = FEATURE_SPECS[feature]
        spread = float(pd.to_numeric(everyone[feature], errors="coerce").std() or 0.0)
        values = songs[feature].astype(float)
        moved = (values + rng.normal(0, _JITTER * spread, len(songs))).clip(spec.low, spec.high)
        # A value on the edge of its range stays there: half the songs have instrumentalness 0,
        # and a new song of 0.003 would be a shift of that feature, not more of the same songs.
        moved = moved.where((values > spec.low) & (values < spec.high), values)
        songs[feature] = moved.round() if spec.dtype == "int64" else moved
        songs[feature] = songs[feature].astype(spec.dtype)
    return songs


def drop_rows(data: SongData, fraction: float, seed: int = 1) -> SongData:
    """``data`` without a random ``fraction`` (0 to 1) of its chart days: whole daily charts of a
    country go, as when a day's download failed, so every chart left keeps all its entries."""
    if not 0 < fraction < 1:
        raise ValueError("The share of chart rows to drop must be between 0 and 1.")
    data = clean_flagged(data)
    rankings = data.rankings
    # One code per (country, day), from integer codes: a MultiIndex of a million rows is slow.
    country, _ = pd.factorize(rankings[LABEL], sort=True)
    day, days = pd.factorize(rankings[DATE], sort=True)
    unique, cells = np.unique(country.astype(np.int64) * len(days) + day, return_inverse=True)
    rng = np.random.default_rng(seed)
    dropped = rng.random(len(unique)) < fraction
    if not dropped.any():  # a small data set: still one chart day, or the change did nothing
        dropped[rng.integers(len(unique))] = True
    if dropped.all():
        dropped[rng.integers(len(unique))] = False
    keep = ~dropped[cells]
    removed = int((~keep).sum())
    return _again(
        data,
        data.properties,
        rankings[keep],
        f"{removed:,} chart rows dropped ({int(dropped.sum()):,} of {len(unique):,} chart days)",
    )


def shift_feature(
    data: SongData, feature: str, shift: float, fraction: float = 0.2, seed: int = 1
) -> SongData:
    """``data`` with ``feature`` moved by ``shift`` (in the feature's units, kept within its
    range, so validation flags none of them) for a random ``fraction`` of the songs: a drift in
    what charts. The charts stay as they are."""
    if feature not in SHIFTABLE:
        raise ValueError(
            f"{feature!r} cannot be shifted: choose one of {', '.join(SHIFTABLE)} (a key, a "
            "mode or explicit lyrics have no 'a little more')."
        )
    data = clean_flagged(data)
    spec = FEATURE_SPECS[feature]
    rng = np.random.default_rng(seed)
    chosen = rng.random(len(data.properties)) < fraction
    properties = data.properties.copy()
    moved = (properties.loc[chosen, feature].astype(float) + shift).clip(spec.low, spec.high)
    if spec.dtype == "int64":
        moved = moved.round()
    properties.loc[chosen, feature] = moved.astype(properties[feature].dtype)
    return _again(
        data, properties, data.rankings, f"{feature} shifted for {int(chosen.sum()):,} songs"
    )
