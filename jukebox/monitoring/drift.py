"""Drift metrics as pure functions over DataFrames: meanshift as TrustyAI defines it, a KS test
beside it, and the identity metric.

Meanshift follows ``org.kie.trustyai.metrics.drift.meanshift.Meanshift`` (explainability-core):
per column, Apache Commons Math's ``TTest.t(reference, current)``, the *unequal-variance* (Welch)
statistic ``t = (mean_ref - mean_cur) / sqrt(var_ref/n_ref + var_cur/n_cur)`` with sample
variances, but its p-value from a Student t distribution of ``n_ref + n_cur - 2`` degrees of
freedom (the pooled test's, not Welch's), two-sided: ``p = 2 (1 - F(|t|))``. A column has drifted
when ``p <= threshold_delta`` (the request's ``thresholdDelta``, default 0.05 as the service's
``metrics.drift.threshold-delta``). With fewer than two current rows TrustyAI answers ``t = 0,
p = 1``, not drifted; so does this.

The KS test is ``scipy.stats.ks_2samp`` per column, drifted under the same cut, as TrustyAI's
KSTest endpoint reads its p-values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

DEFAULT_THRESHOLD_DELTA = 0.05


@dataclass(frozen=True)
class ColumnDrift:
    """One column's test: its statistic, p-value, and whether ``p <= threshold``."""

    statistic: float
    p_value: float
    drifted: bool

    def as_dict(self) -> dict:
        return asdict(self)


def _values(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        raise KeyError(column)
    return frame[column].to_numpy(dtype=np.float64, na_value=np.nan)


def meanshift_column(
    reference: np.ndarray, current: np.ndarray, threshold_delta: float
) -> ColumnDrift:
    """TrustyAI's meanshift of one column (see the module's docstring)."""
    reference = reference[~np.isnan(reference)]
    current = current[~np.isnan(current)]
    n_ref, n_cur = len(reference), len(current)
    if n_cur < 2 or n_ref < 2:
        return ColumnDrift(0.0, 1.0, False)
    m_ref, m_cur = reference.mean(), current.mean()
    se = np.sqrt(reference.var(ddof=1) / n_ref + current.var(ddof=1) / n_cur)
    if se == 0:  # both constant: the same constant has not moved, another one has
        t = 0.0 if m_ref == m_cur else float(np.copysign(np.inf, m_ref - m_cur))
    else:
        t = float((m_ref - m_cur) / se)
    p = float(2 * stats.t.sf(abs(t), n_ref + n_cur - 2))
    return ColumnDrift(t, p, p <= threshold_delta)


def meanshift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str],
    threshold_delta: float = DEFAULT_THRESHOLD_DELTA,
) -> dict[str, ColumnDrift]:
    """Per column of ``columns``: has ``current``'s mean moved away from ``reference``'s?"""
    return {
        c: meanshift_column(_values(reference, c), _values(current, c), threshold_delta)
        for c in columns
    }


def kstest(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: Sequence[str],
    threshold_delta: float = DEFAULT_THRESHOLD_DELTA,
) -> dict[str, ColumnDrift]:
    """Per column: the two-sample Kolmogorov-Smirnov test of ``current`` against ``reference``."""
    result = {}
    for c in columns:
        ref, cur = _values(reference, c), _values(current, c)
        ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
        if len(ref) < 1 or len(cur) < 1:
            result[c] = ColumnDrift(0.0, 1.0, False)
            continue
        test = stats.ks_2samp(ref, cur)
        p = float(test.pvalue)
        result[c] = ColumnDrift(float(test.statistic), p, p <= threshold_delta)
    return result


def identity(frame: pd.DataFrame, column: str) -> float:
    """The mean of ``column`` over ``frame`` (the caller gives the last ``batchSize`` rows)."""
    values = _values(frame, column)
    return float(np.nanmean(values)) if len(values) else float("nan")
