"""Small song tables in the exact schema, built by hand so every expected figure is known."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jukebox.data.schema import FEATURE_SPECS, FEATURES, PROPERTIES_COLUMNS, RANKINGS_COLUMNS


def make_tables(
    n_songs: int = 40,
    countries: tuple[str, ...] = ("DE", "US", "JP", "SG"),
    days: int = 10,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``song_properties`` and ``song_rankings`` where each song charts on some days in some
    countries, and German entries are louder than the others (so country means differ)."""
    rng = np.random.default_rng(seed)
    ids = [f"id{i:04d}" for i in range(n_songs)]
    props = {
        "spotify_id": ids,
        "name": [f"Song {i}" for i in range(n_songs)],
        "artists": [f"Artist {i % 7}" for i in range(n_songs)],
        "event_timestamp": pd.Timestamp("2024-01-01"),
    }
    for name in FEATURES:
        spec = FEATURE_SPECS[name]
        if spec.dtype == "bool":
            props[name] = rng.random(n_songs) < 0.3
        elif spec.dtype == "int64":
            lo, hi = (0, 11) if name == "key" else (0, 1) if name == "mode" else (90_000, 300_000)
            props[name] = rng.integers(lo, hi + 1, n_songs)
        elif name == "loudness":
            props[name] = rng.uniform(-12, -3, n_songs)
        elif name == "tempo":
            props[name] = rng.uniform(70, 180, n_songs)
        else:
            props[name] = rng.random(n_songs)
    props["time_signature"] = 4
    properties = pd.DataFrame(props)[list(PROPERTIES_COLUMNS)]

    rows = []
    start = pd.Timestamp("2024-03-01")
    for s in range(n_songs):
        for c, country in enumerate(countries):
            if (s + c) % 3 == 0:
                continue
            for d in range(days):
                if rng.random() < 0.6:
                    rows.append(
                        (
                            ids[s],
                            country,
                            start + pd.Timedelta(days=d),
                            int(rng.integers(20, 100)),
                            c,
                        )
                    )
    r = pd.DataFrame(rows, columns=["spotify_id", "country", "snapshot_date", "popularity", "_c"])
    r = r.drop(columns="_c")
    r["name"] = r["spotify_id"].map(dict(zip(ids, props["name"], strict=True)))
    r["artists"] = r["spotify_id"].map(dict(zip(ids, props["artists"], strict=True)))
    r["daily_rank"] = rng.integers(1, 51, len(r))
    r["daily_movement"] = 0
    r["weekly_movement"] = 0
    r["album_name"] = "Album"
    r["album_release_date"] = "2023-12-01"
    rankings = r[list(RANKINGS_COLUMNS)]
    return properties, rankings


def naive_merge(properties: pd.DataFrame, rankings: pd.DataFrame) -> pd.DataFrame:
    """The training table of the design: rankings joined to properties on spotify_id."""
    return rankings.merge(
        properties.drop(columns=["name", "artists"]), on="spotify_id", how="inner"
    )
