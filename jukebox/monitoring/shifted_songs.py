"""Songs whose sound has moved away from the training data's: the Monitor page's demo stream.

Drift is hard to show live with real traffic, which takes weeks to change. These functions take
real songs (the training data's) and move a few features the way the charts do move, so a
presenter can stream them through a deployment and watch meanshift flag exactly those features
within a minute. Each shift is a pure function of the songs and a random generator; values stay
within what a real song can have (:data:`jukebox.data.schema.FEATURE_SPECS`), so the server
accepts every one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jukebox.data.schema import FEATURE_SPECS, FEATURES


@dataclass(frozen=True)
class Shift:
    """A named change of sound: the features it moves, and how, in one line for the page."""

    name: str
    description: str
    features: tuple[str, ...]
    apply: Callable[[pd.DataFrame, np.random.Generator], pd.DataFrame]


def _towards(values: pd.Series, target: float, weight: float) -> pd.Series:
    return values * (1 - weight) + target * weight


def _acoustic(songs: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    # Unplugged: acoustic instruments, less energy, a softer master.
    out = songs.copy()
    out["acousticness"] = _towards(out["acousticness"], rng.uniform(0.6, 0.95, len(out)), 0.8)
    out["energy"] = out["energy"] * rng.uniform(0.45, 0.7, len(out))
    out["loudness"] = out["loudness"] - rng.uniform(4, 8, len(out))
    return out


def _slow(songs: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    # Ballads: a quarter slower, a little longer.
    out = songs.copy()
    out["tempo"] = out["tempo"] * rng.uniform(0.65, 0.8, len(out))
    out["duration_ms"] = out["duration_ms"] * rng.uniform(1.1, 1.3, len(out))
    return out


def _seventies(songs: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    # Before the loudness war and streaming: longer, quieter songs, rarely explicit, more live.
    out = songs.copy()
    out["duration_ms"] = out["duration_ms"] * rng.uniform(1.25, 1.6, len(out))
    out["loudness"] = out["loudness"] - rng.uniform(5, 9, len(out))
    out["is_explicit"] = out["is_explicit"] * (rng.random(len(out)) < 0.1)
    out["liveness"] = _towards(out["liveness"], rng.uniform(0.3, 0.7, len(out)), 0.6)
    return out


SHIFTS: dict[str, Shift] = {
    s.name: s
    for s in (
        Shift(
            "acoustic",
            "Unplugged: far more acoustic, calmer and quieter songs",
            ("acousticness", "energy", "loudness"),
            _acoustic,
        ),
        Shift("slow", "Ballads: slower and a little longer songs", ("tempo", "duration_ms"), _slow),
        Shift(
            "seventies",
            "A 1970s sound: longer, quieter, live-sounding songs, rarely explicit",
            ("duration_ms", "loudness", "is_explicit", "liveness"),
            _seventies,
        ),
    )
}
"""The shifts a demo can stream, by name."""


def shifted_songs(songs: pd.DataFrame, shift: str, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` songs drawn from ``songs`` (with replacement) and moved by the shift named
    ``shift``; only the features in :data:`FEATURES`, clipped to real songs' ranges and rounded
    to the features' own types (a key stays a whole number)."""
    if shift not in SHIFTS:
        raise ValueError(f"Unknown shift {shift!r}: use one of {', '.join(SHIFTS)}.")
    if songs.empty:
        raise ValueError("There are no songs to shift: load the song data first.")
    rng = np.random.default_rng(seed)
    drawn = songs.loc[:, list(FEATURES)].sample(n, replace=True, random_state=rng)
    moved = SHIFTS[shift].apply(drawn.reset_index(drop=True).astype(float), rng)
    return _within_ranges(moved)


def unshifted_songs(songs: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` songs drawn from ``songs`` as they are: the stream's baseline, no drift."""
    rng = np.random.default_rng(seed)
    drawn = songs.loc[:, list(FEATURES)].sample(n, replace=True, random_state=rng)
    return _within_ranges(drawn.reset_index(drop=True).astype(float))


def _within_ranges(songs: pd.DataFrame) -> pd.DataFrame:
    out = songs.copy()
    for feature in FEATURES:
        spec = FEATURE_SPECS[feature]
        column = out[feature].clip(spec.low, spec.high)
        out[feature] = column.round() if spec.dtype in ("int64", "bool") else column
    return out
