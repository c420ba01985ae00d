"""Why: how much each feature of one song adds to or takes from a country's probability.

The numbers are exact interventional Shapley values, what the ``shap`` library computes with
``shap.explainers.Exact`` and ``shap.maskers.Independent`` (SHAP values against a background):
the song is compared with a background of training songs, and each feature gets its fair share
of the difference between the song's probability and the background's mean probability. With 13
features every coalition of features can be tried, so there is no sampling noise.

Computed here with numpy rather than by calling shap, for one reason measured on this project's
2-core machine: shap's Exact explainer compiles its inner loops with numba on first use in
each process (12 s, plus 1.8 s to import shap, while a CI run loaded both cores), so the first
"why?" of a CLI run or of a fresh app would take 14 s instead of 0.2 s. Once warm, shap took
as long as this module's first version, and the two agree to 1e-7
(``tests/explain/test_attributions.py`` checks them against each other). The whole
computation is batched model runs over the 2^13 coalitions × the background rows, all
countries at once, then the Shapley weights.

The properties callers may rely on (and the tests check):

- **they add up**: ``sum(contributions) == probability - base``, where ``base`` is the mean
  probability of the background songs actually used;
- a feature the model ignores gets 0;
- raising a feature that only raises a country's probability raises its contribution.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from math import factorial

import numpy as np
import pandas as pd

from jukebox.explain.predictor import ExplainError, Predictor, sample_rows, song_row

BACKGROUND_ROWS = 100
"""Background songs per explanation. The cost is up to 2^13 coalitions × this many rows through
the model (about a third of them distinct with real songs); measured on the 2-core machine with
the workshop's network, 100 takes one song (all countries) 0.7 s, 50 takes 0.4 s, and the base
they give differs by a tenth of a point (``benchmarks/bench_explain.py``)."""


@dataclass(frozen=True)
class Attribution:
    """One song's probability for one country, taken apart feature by feature.

    ``probability`` is the model's answer for the song; ``base`` the mean answer over the
    background songs; ``contributions`` what each feature adds (positive) or takes away
    (negative), in probability (0.06 = 6 points), summing to ``probability - base``. ``song``
    holds the raw feature values explained."""

    country: str
    probability: float
    base: float
    contributions: dict[str, float]
    song: dict[str, float] = field(default_factory=dict)

    def ranked(self) -> list[tuple[str, float]]:
        """``(feature, contribution)`` pairs, the largest effect (either way) first."""
        return sorted(self.contributions.items(), key=lambda item: (-abs(item[1]), item[0]))


def background_sample(
    reference: pd.DataFrame, size: int = BACKGROUND_ROWS, seed: int = 0
) -> pd.DataFrame:
    """The background for attributions: at most ``size`` training songs, the same ones for the
    same reference and seed."""
    return sample_rows(reference, size, seed)


ROWS_PER_RUN = 51_200
"""Model rows per run (512 coalitions × 100 background songs): large enough that the call costs
nothing, small enough that the probabilities of all countries stay a few MB."""


@lru_cache(maxsize=4)
def _coalitions(n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Every coalition of ``n_features`` as a boolean mask ``[2^F, F]`` (coalition ``s`` holds
    feature ``j`` when bit ``j`` of ``s`` is set), and the Shapley weight of a coalition of
    each size not holding the feature: ``|S|! (F - |S| - 1)! / F!``."""
    ids = np.arange(2**n_features)
    masks = ((ids[:, None] >> np.arange(n_features)) & 1).astype(bool)
    weights = np.array(
        [
            factorial(size) * factorial(n_features - size - 1) / factorial(n_features)
            for size in range(n_features)
        ]
    )
    return masks, weights


def coalition_values(predict: Predictor, song: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``v[S]``: the mean probabilities ``[2^F, countries]`` when the features in coalition
    ``S`` take the song's values and the others each background song's (the interventional,
    independent-features value function).

    A background song that already has the song's value for a feature (the same mode, no
    vocals like the song, the same key) gives the same row whether or not the coalition holds
    that feature, so only the distinct rows are run: for background song ``b``, the
    coalitions restricted to the features where ``b`` differs from the song. With real songs
    that is about a third of the 2^F × B rows, as shap's delta masking also finds.
    """
    n_features = len(song)
    masks, _ = _coalitions(n_features)
    ids = np.arange(len(masks))
    differs = (background != song[None, :]) @ (1 << np.arange(n_features))
    totals = np.zeros((len(masks), len(predict.labels)), dtype=np.float64)
    batch: list[tuple[np.ndarray, np.ndarray]] = []  # (distinct rows, where each coalition is)

    def run() -> None:
        out = predict.probabilities(np.concatenate([rows for rows, _ in batch]))
        start = 0
        for rows, where in batch:
            totals[:] += out[start : start + len(rows)][where]
            start += len(rows)
        batch.clear()

    pending = 0
    for b, differ in enumerate(differs):
        distinct, where = np.unique(ids & differ, return_inverse=True)
        rows = np.where(masks[distinct], song[None, :], background[b][None, :])
        batch.append((rows.astype(np.float32), where))
        pending += len(rows)
        if pending >= ROWS_PER_RUN:
            run()
            pending = 0
    if batch:
        run()
    return totals / len(background)


def shapley_values(
    predict: Predictor, songs: np.ndarray, background: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact Shapley values of raw song rows ``[S, F]`` against ``background`` ``[B, F]``.

    Returns ``(values [S, F, countries], base [countries])``, with ``values[s].sum(0) ==
    f(song s) - base`` and ``base`` the mean probability of the background. Every background
    row is used (sample them first: the cost is 2^F × B model rows per song).
    """
    songs = np.atleast_2d(np.asarray(songs, dtype=np.float64))
    background = np.asarray(background, dtype=np.float64)
    if len(background) == 0:
        raise ExplainError("no background songs to compare with")
    n_features = songs.shape[1]
    masks, weights = _coalitions(n_features)
    sizes = masks.sum(axis=1)
    ids = np.arange(len(masks))
    result = np.empty((len(songs), n_features, len(predict.labels)), dtype=np.float64)
    base = np.zeros(len(predict.labels))
    for s, song in enumerate(songs):
        v = coalition_values(predict, song, background)
        base = v[0]
        for j in range(n_features):
            without = ids[~masks[:, j]]
            result[s, j] = weights[sizes[without]] @ (v[without | (1 << j)] - v[without])
    return result, base


def explain_song(
    predict: Predictor,
    song: Mapping[str, float],
    background: pd.DataFrame,
    countries: Sequence[str] | None = None,
    top: int = 5,
    *,
    max_background: int = BACKGROUND_ROWS,
) -> list[Attribution]:
    """Why ``song`` gets its probabilities: one :class:`Attribution` per country.

    ``countries`` are ISO codes the model predicts; by default the song's ``top`` most likely
    countries, most likely first. ``background`` is a frame of raw training songs (a bundle's
    reference); more than ``max_background`` rows are sampled down (seeded, so the same call
    gives the same numbers). All countries come from one Shapley computation, so asking for
    five costs the same as asking for one.
    """
    features = list(predict.features)
    row = song_row(song, features)
    used = background_sample(background.loc[:, features], max_background)
    probabilities = predict.probabilities(row[None, :])[0].astype(np.float64)
    if countries is None:
        indexes = [int(i) for i in np.argsort(-probabilities, kind="stable")[:top]]
    else:
        indexes = [predict.country_index(c) for c in countries]
    values, base = shapley_values(predict, row[None, :], used.to_numpy(np.float64))
    shown_song = {f: float(v) for f, v in zip(features, row, strict=True)}
    return [
        Attribution(
            country=predict.labels[i],
            probability=float(probabilities[i]),
            base=float(base[i]),
            contributions={f: float(values[0, j, i]) for j, f in enumerate(features)},
            song=shown_song,
        )
        for i in indexes
    ]
