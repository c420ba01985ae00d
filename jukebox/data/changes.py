"""Changes to a data set of the kind new data brings, to watch the loop (a new data version →
a training run → a gated registration) without waiting for tomorrow's charts.

As the workshop's notebooks do: append new songs, drop chart rows, or shift one feature of some
songs. Each returns a new, validated :class:`SongData`; the input is left as it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from jukebox.data.schema import FEATURE_SPECS, KEY
from jukebox.data.songdata import SongData, song_data


def _again(data: SongData, properties: pd.DataFrame, rankings: pd.DataFrame, what: str) -> SongData:
    return song_data(
        properties.reset_index(drop=True),
        rankings.reset_index(drop=True),
        f"{data.source}, {what}",
        bayes_accuracy=None,  # the generator's ceiling no longer describes the changed data
        seed=data.seed,
    )


def append_songs(data: SongData, n_songs: int, seed: int = 1) -> SongData:
    """``data`` with ``n_songs`` new songs charting in its countries over its dates."""
    from jukebox.data.synthetic import generate

    countries = tuple(data.countries)
    span = data.date_range
    days = max(2, (span[1] - span[0]).days + 1) if span else 10
    new = generate(max(n_songs, 50), seed + 1000, n_days=days, countries=countries, quirks=False)
    songs = new.properties.head(n_songs)
    charts = new.rankings[new.rankings[KEY].isin(songs[KEY])]
    if span:  # the new songs chart on the same dates as the others
        offset = span[0] - charts["snapshot_date"].min()
        charts = charts.assign(snapshot_date=charts["snapshot_date"] + offset)
    properties = pd.concat([data.properties, songs], ignore_index=True)
    rankings = pd.concat([data.rankings, charts], ignore_index=True)
    return _again(data, properties, rankings, f"{len(songs)} songs appended")


def drop_rows(data: SongData, fraction: float, seed: int = 1) -> SongData:
    """``data`` without a random ``fraction`` (0 to 1) of its chart rows."""
    if not 0 < fraction < 1:
        raise ValueError("The share of chart rows to drop must be between 0 and 1.")
    rng = np.random.default_rng(seed)
    keep = rng.random(len(data.rankings)) >= fraction
    rankings = data.rankings[keep]
    return _again(data, data.properties, rankings, f"{int((~keep).sum()):,} chart rows dropped")


def shift_feature(
    data: SongData, feature: str, shift: float, fraction: float = 0.2, seed: int = 1
) -> SongData:
    """``data`` with ``feature`` moved by ``shift`` (in the feature's units, kept within its
    range) for a random ``fraction`` of the songs: a drift in what charts."""
    spec = FEATURE_SPECS.get(feature)
    if spec is None:
        raise ValueError(f"{feature!r} is not a song feature.")
    rng = np.random.default_rng(seed)
    chosen = rng.random(len(data.properties)) < fraction
    properties = data.properties.copy()
    moved = (properties.loc[chosen, feature].astype(float) + shift).clip(spec.low, spec.high)
    properties.loc[chosen, feature] = moved.astype(properties[feature].dtype)
    return _again(data, properties, data.rankings, f"{feature} shifted for {chosen.sum():,} songs")
