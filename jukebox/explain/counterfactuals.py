"""What if: the smallest change to a song that makes a country's probability reach a target.

The workshop answers this with TrustyAI's counterfactual explainer; ``dice-ml`` would pull in
xgboost and NCCL (hundreds of MB) and wants scikit-learn or TensorFlow models. A bounded search
of our own fits better: the model answers thousands of songs in one batched run, and the search
space is small (13 features, each within the data's own range).

**Realistic ranges.** Each feature may move only within what training songs do: its 1 % to 99 %
quantiles in the bundle's reference (:func:`realistic_ranges`), so a proposal never asks for a
tempo of 0 or a 40-minute song. Integer features (explicit, key, mode, duration in ms) stay
integers.

**Smallest.** Fewest features changed first, then the least distance. The distance of moving
one feature from ``a`` to ``b`` is the mean of two shares, each between 0 and 1: the share of
training songs passed on the way (the difference of their quantiles: moving instrumentalness
from 0 to 0.5 passes almost every song, since most have none) and the share of the realistic
range crossed (so that moves among many equal values still cost something).

**Search** (deterministic: the same song, model and ranges give the same proposal):

1. every allowed feature alone, over a grid of its quantiles (2 % apart; every value for key,
   mode and explicit), in one batch;
2. if none reaches the target: every pair of allowed features over a coarser grid (10 % apart),
   in one batch; then every three over a grid 20 % apart;
3. if none reaches it: greedy steps from the song, each trying every single-feature move over
   the full grids in one batch and keeping the one that reaches the target at least distance,
   or else raises the probability most;
4. then the proposal is shrunk back toward the song, one feature at a time, over a fine line
   of values between the song's value and the proposal's, as long as the target still holds
   (a feature moved back all the way counts as unchanged).

The target must be met with a margin of :data:`MARGIN` in the search, so that another runtime's
rounding (the served model, a batch of another size) cannot take a proposal back below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd

from jukebox.data.schema import FEATURE_SPECS, FEATURES
from jukebox.explain.predictor import ExplainError, Predictor, song_row

DEFAULT_ALLOWED: tuple[str, ...] = tuple(f for f in FEATURES if f != "is_explicit")
"""Features a proposal may change unless the user says otherwise: all but explicit lyrics,
which are a matter of what the song says rather than how it sounds, and which an artist does
not change to please a chart. The user can allow it."""

QUANTILE_LOW, QUANTILE_HIGH = 0.01, 0.99
FINE_STEP, COARSE_STEP, TRIPLE_STEP = 0.02, 0.10, 0.20
"""Quantile spacing of the grids of the one-, two- and three-feature searches."""
SHRINK_POINTS = 24
MAX_GREEDY_STEPS = 13
MARGIN = 1e-4


@dataclass(frozen=True)
class FeatureRange:
    """Where one feature may go: ``low``..``high`` (the data's 1 %–99 % quantiles), integers
    only when ``integer``, and the sorted reference values that give each value its quantile."""

    feature: str
    low: float
    high: float
    integer: bool
    values: np.ndarray = field(repr=False, compare=False)

    def quantile_of(self, x: np.ndarray | float) -> np.ndarray:
        """The share of reference values below ``x`` (ties count half): 0 to 1."""
        x = np.asarray(x, dtype=np.float64)
        below = np.searchsorted(self.values, x, side="left")
        upto = np.searchsorted(self.values, x, side="right")
        return (below + upto) / (2.0 * len(self.values))

    def grid(self, step: float) -> np.ndarray:
        """Values of this feature to try: its quantiles ``step`` apart within the range
        (every value in the range for an integer feature with at most 13 of them)."""
        if self.integer and self.high - self.low <= 12:
            return np.arange(self.low, self.high + 1.0)
        levels = np.arange(QUANTILE_LOW, QUANTILE_HIGH + 1e-9, step)
        points = np.quantile(self.values, levels)
        points = np.concatenate([[self.low], points, [self.high]])
        return np.unique(self.fit(points))

    def fit(self, x: np.ndarray) -> np.ndarray:
        """``x`` within the range, rounded when the feature is an integer."""
        x = np.clip(np.asarray(x, dtype=np.float64), self.low, self.high)
        return np.round(x) if self.integer else x

    def distance(self, a: np.ndarray | float, b: np.ndarray | float) -> np.ndarray:
        """How far ``a`` is from ``b`` for this feature, 0 to 1 (see the module docstring)."""
        span = self.high - self.low
        crossed = np.abs(np.asarray(b, float) - np.asarray(a, float)) / span if span > 0 else 0.0
        passed = np.abs(self.quantile_of(b) - self.quantile_of(a))
        return 0.5 * (np.minimum(crossed, 1.0) + passed)


def realistic_ranges(
    reference: pd.DataFrame, low: float = QUANTILE_LOW, high: float = QUANTILE_HIGH
) -> dict[str, FeatureRange]:
    """Each feature's realistic range: the ``low`` to ``high`` quantiles of ``reference`` (raw
    training songs, a bundle's ``reference.parquet``). Integer features (explicit, key, mode,
    duration in ms) get integer bounds."""
    ranges = {}
    for feature in FEATURES:
        if feature not in reference.columns:
            raise ExplainError(f"the reference songs lack the feature {feature!r}")
        values = np.sort(reference[feature].dropna().to_numpy(np.float64))
        if len(values) == 0:
            raise ExplainError(f"the reference songs have no value of {feature!r}")
        integer = FEATURE_SPECS[feature].dtype in ("int64", "bool")
        lo, hi = np.quantile(values, [low, high])
        if integer:
            lo, hi = float(np.floor(lo)), float(np.ceil(hi))
        lo, hi = _inward_float32(lo, hi)
        ranges[feature] = FeatureRange(feature, float(lo), float(hi), integer, values)
    return ranges


def _inward_float32(low: float, high: float) -> tuple[float, float]:
    """The bounds as the nearest float32 values inside them: the model reads float32, so a
    proposal at a bound must not round to just outside it."""
    lo, hi = np.float32(low), np.float32(high)
    if float(lo) < low:
        lo = np.nextafter(lo, np.float32(np.inf))
    if float(hi) > high:
        hi = np.nextafter(hi, np.float32(-np.inf))
    return float(lo), float(hi)


@dataclass(frozen=True)
class Counterfactual:
    """The answer to "what would it take for ``country`` to reach ``target``?".

    ``proposal`` is the song with ``changes`` applied (``{feature: (before, after)}``, raw
    values); ``probability_after`` its probability for ``country``. When ``reached`` is False no
    change within the realistic ranges of the ``allowed`` features reached the target, and the
    proposal is the closest the search came (the highest probability found). Values are as
    the model reads them (float32, so 0.898 may read 0.89800000190...)."""

    country: str
    target: float
    reached: bool
    song: dict[str, float]
    proposal: dict[str, float]
    probability_before: float
    probability_after: float
    changes: dict[str, tuple[float, float]]
    allowed: tuple[str, ...] = DEFAULT_ALLOWED

    @property
    def already(self) -> bool:
        """True when the song reaches the target as it is (no change needed)."""
        return self.probability_before >= self.target


class _Search:
    """The state of one search: the song, the allowed features, their ranges and the model."""

    def __init__(self, predict, column, x0, allowed, ranges, target):
        self.predict, self.column, self.x0 = predict, column, x0
        self.allowed, self.ranges, self.goal = allowed, ranges, target + MARGIN
        self.index = {f: i for i, f in enumerate(predict.features)}

    def p(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.float32)  # what the model reads, exactly
        return self.predict.probabilities(rows)[:, self.column].astype(np.float64)

    def cost(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(features changed, distance) of each row from the song."""
        rows = np.atleast_2d(rows)
        changed = np.zeros(len(rows), dtype=int)
        distance = np.zeros(len(rows))
        for f in self.allowed:
            j = self.index[f]
            moved = rows[:, j] != self.x0[j]
            changed += moved
            distance += np.where(moved, self.ranges[f].distance(self.x0[j], rows[:, j]), 0.0)
        return changed, distance

    def best_reaching(self, rows: np.ndarray, p: np.ndarray) -> np.ndarray | None:
        ok = p >= self.goal
        if not ok.any():
            return None
        changed, distance = self.cost(rows[ok])
        order = np.lexsort((distance, changed))
        return rows[ok][order[0]]

    def singles(self, x: np.ndarray, step: float) -> np.ndarray:
        """Every move of one allowed feature of ``x`` to a grid value."""
        rows = []
        for f in self.allowed:
            grid = self.ranges[f].grid(step)
            block = np.repeat(x[None, :], len(grid), axis=0)
            block[:, self.index[f]] = grid
            rows.append(block)
        return np.concatenate(rows)

    def groups(self, size: int, step: float) -> np.ndarray:
        """The song with every ``size`` allowed features set to every combination of their
        grid values (``step`` apart)."""
        rows = []
        for group in combinations(self.allowed, size):
            grids = [self.ranges[f].grid(step) for f in group]
            mesh = np.stack([g.ravel() for g in np.meshgrid(*grids, indexing="ij")], axis=1)
            block = np.repeat(self.x0[None, :], len(mesh), axis=0)
            block[:, [self.index[f] for f in group]] = mesh
            rows.append(block)
        return np.concatenate(rows) if rows else np.empty((0, len(self.x0)))

    def greedy(self) -> tuple[np.ndarray | None, np.ndarray]:
        """Greedy steps from the song; (a row reaching the goal or None, the best row seen)."""
        x, px = self.x0.copy(), float(self.p(self.x0[None])[0])
        for _ in range(MAX_GREEDY_STEPS):
            rows = self.singles(x, FINE_STEP)
            p = self.p(rows)
            reaching = self.best_reaching(rows, p)
            if reaching is not None:
                return reaching, reaching
            best = int(np.argmax(p))
            if p[best] <= px:
                break
            x, px = rows[best], float(p[best])
        return None, x

    def shrink(self, x: np.ndarray) -> np.ndarray:
        """Move features of ``x`` back toward the song while the goal still holds."""
        t = np.linspace(0.0, 1.0, SHRINK_POINTS + 1)  # 0 = the song's value
        while True:
            moved = [f for f in self.allowed if x[self.index[f]] != self.x0[self.index[f]]]
            if not moved:
                return x
            rows, owners = [], []
            for f in moved:
                j = self.index[f]
                values = self.x0[j] + t * (x[j] - self.x0[j])
                fitted = self.ranges[f].fit(values)
                fitted[0] = self.x0[j]  # all the way back may lie outside the range
                block = np.repeat(x[None, :], len(t), axis=0)
                block[:, j] = fitted
                rows.append(block)
                owners += [f] * len(t)
            rows = np.concatenate(rows)
            p = self.p(rows)
            ok = p >= self.goal
            changed, distance = self.cost(rows)
            now_changed, now_distance = self.cost(x[None])
            better = ok & (
                (changed < now_changed[0])
                | ((changed == now_changed[0]) & (distance < now_distance[0] - 1e-12))
            )
            if not better.any():
                return x
            candidates = np.flatnonzero(better)
            order = np.lexsort((distance[candidates], changed[candidates]))
            x = rows[candidates[order[0]]]


def find_counterfactual(
    predict: Predictor,
    song: Mapping[str, float],
    country: str,
    target: float,
    reference: pd.DataFrame,
    allowed: Iterable[str] | None = None,
    *,
    ranges: Mapping[str, FeatureRange] | None = None,
) -> Counterfactual:
    """The smallest change to ``song`` that makes ``country``'s probability at least ``target``,
    changing only ``allowed`` features (default :data:`DEFAULT_ALLOWED`) within
    ``realistic_ranges(reference)`` (or ``ranges`` when given, e.g. computed once and cached).

    Raises ExplainError for a target outside (0, 1), an unknown feature or country, or no
    allowed feature; an unreachable target is not an error but ``reached=False``.
    """
    if not 0.0 < float(target) < 1.0:
        raise ExplainError(
            f"the target is a probability between 0 and 1 (0.3 = 30 %), not {target}"
        )
    allowed = tuple(DEFAULT_ALLOWED if allowed is None else allowed)
    unknown = [f for f in allowed if f not in predict.features]
    if unknown:
        raise ExplainError(
            f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a feature; "
            f"the features are {', '.join(predict.features)}"
        )
    if not allowed:
        raise ExplainError("allow at least one feature to change")
    allowed = tuple(f for f in predict.features if f in allowed)  # the model's order, once each
    column = predict.country_index(country)
    ranges = dict(ranges) if ranges is not None else realistic_ranges(reference)
    x0 = song_row(song, predict.features).astype(np.float32).astype(np.float64)
    search = _Search(predict, column, x0, allowed, ranges, float(target))
    before = float(search.p(x0[None])[0])

    found: np.ndarray | None = x0 if before >= target else None
    closest = x0
    if found is None:
        for size, step in ((1, FINE_STEP), (2, COARSE_STEP), (3, TRIPLE_STEP)):
            rows = search.groups(size, step)
            if len(rows):
                p = search.p(rows)
                found = search.best_reaching(rows, p)
                if found is not None:
                    break
    if found is None:
        found, closest = search.greedy()
    if found is not None and before < target:
        found = search.shrink(found)
    proposal_row = found if found is not None else closest
    proposal_row = proposal_row.astype(np.float32).astype(np.float64)
    after = float(search.p(proposal_row[None])[0])
    features = predict.features
    proposal = {f: float(v) for f, v in zip(features, proposal_row, strict=True)}
    original = {f: float(v) for f, v in zip(features, x0, strict=True)}
    changes = {f: (original[f], proposal[f]) for f in features if proposal[f] != original[f]}
    return Counterfactual(
        country=predict.labels[column],
        target=float(target),
        reached=found is not None,
        song=original,
        proposal=proposal,
        probability_before=before,
        probability_after=after,
        changes=changes,
        allowed=allowed,
    )
