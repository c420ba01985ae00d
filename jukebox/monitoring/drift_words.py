"""Drift in a stakeholder's words: "the songs sent lately are far more acoustic than the songs
the model learned from".

A p-value says *whether* a feature moved; a person wants to know *which way* and *how much*.
The size is the shift of the mean in units of the reference's spread (Cohen's d): beyond 0.8
"far", beyond 0.3 plain, below that "slightly", the usual reading of an effect size.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from jukebox.data.feature_words import DIRECTIONS

FAR, PLAIN = 0.8, 0.3


def effect_size(reference: pd.Series, current: pd.Series) -> float:
    """The shift of the mean, in the reference's standard deviations (0 when it has none)."""
    spread = float(np.std(reference.to_numpy(dtype=float)))
    shift = float(np.mean(current.to_numpy(dtype=float)) - np.mean(reference.to_numpy(dtype=float)))
    return shift / spread if spread > 0 else 0.0


def phrase(feature: str, size: float) -> str:
    """``"far more acoustic"`` for a shift of ``size`` standard deviations of ``feature``."""
    lower, higher = DIRECTIONS.get(feature, (f"lower in {feature}", f"higher in {feature}"))
    words = higher if size > 0 else lower
    if abs(size) >= FAR:
        return f"far {words}" if words.startswith("more ") else f"much {words}"
    if abs(size) >= PLAIN:
        return words
    return f"slightly {words}"


def drift_sentence(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    drifted: Iterable[str],
    *,
    period: str = "lately",
) -> str:
    """One sentence for a stakeholder about the features found drifted, the biggest change
    first; a reassuring one when none is."""
    drifted = [f for f in drifted if f in reference and f in current]
    if not drifted:
        return (
            f"The songs sent {period} sound like the songs the model learned from: "
            "its answers can be trusted as much as on the day it was trained."
        )
    sizes = {f: effect_size(reference[f], current[f]) for f in drifted}
    ordered = sorted(sizes, key=lambda f: -abs(sizes[f]))
    words = [phrase(f, sizes[f]) for f in ordered]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return (
        f"The songs sent {period} are {listed} than the songs the model learned from, so its "
        "answers may be less reliable until it is retrained on newer songs."
    )
