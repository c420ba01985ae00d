"""Meanshift as TrustyAI computes it, checked against the formula written out by hand."""

import math

import numpy as np
import pandas as pd
from scipy import stats

from jukebox.monitoring.drift import identity, kstest, meanshift


def test_meanshift_is_welchs_t_with_pooled_degrees_of_freedom():
    rng = np.random.default_rng(2024)
    reference = pd.DataFrame({"a": rng.normal(0, 1, 400), "b": rng.normal(5, 2, 400)})
    current = pd.DataFrame({"a": rng.normal(1.0, 1.5, 60), "b": rng.normal(5, 2, 60)})

    result = meanshift(reference, current, ["a", "b"], threshold_delta=0.05)

    for column in ("a", "b"):
        x, y = reference[column].to_numpy(), current[column].to_numpy()
        n1, n2 = len(x), len(y)
        t = (x.mean() - y.mean()) / math.sqrt(x.var(ddof=1) / n1 + y.var(ddof=1) / n2)
        p = 2 * (1 - stats.t.cdf(abs(t), n1 + n2 - 2))
        assert result[column].statistic == pytest_approx(t)
        assert result[column].p_value == pytest_approx(p)
        assert result[column].drifted == (p <= 0.05)
    assert result["a"].drifted and not result["b"].drifted
    # Neither scipy's Welch test (other degrees of freedom) nor the pooled one (other t).
    x, y = reference["b"], current["b"]
    assert result["b"].p_value != pytest_approx(stats.ttest_ind(x, y, equal_var=False).pvalue)
    assert result["b"].p_value != pytest_approx(stats.ttest_ind(x, y, equal_var=True).pvalue)


def pytest_approx(value):
    import pytest

    return pytest.approx(value, rel=1e-9, abs=1e-12)


def test_meanshift_of_fewer_than_two_rows_is_not_drift_as_in_trustyai():
    reference = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    result = meanshift(reference, pd.DataFrame({"a": [100.0]}), ["a"])
    assert (result["a"].statistic, result["a"].p_value, result["a"].drifted) == (0.0, 1.0, False)


def test_the_threshold_is_inclusive():
    rng = np.random.default_rng(1)
    reference = pd.DataFrame({"a": rng.normal(0, 1, 100)})
    current = pd.DataFrame({"a": rng.normal(0.3, 1, 100)})
    p = meanshift(reference, current, ["a"])["a"].p_value
    assert meanshift(reference, current, ["a"], threshold_delta=p)["a"].drifted
    assert not meanshift(reference, current, ["a"], threshold_delta=p * 0.999)["a"].drifted


def test_kstest_is_scipys_two_sample_test_and_identity_the_mean():
    rng = np.random.default_rng(3)
    reference = pd.DataFrame({"a": rng.uniform(0, 1, 300)})
    current = pd.DataFrame({"a": rng.uniform(0.2, 1.2, 80)})
    expected = stats.ks_2samp(reference["a"], current["a"])
    result = kstest(reference, current, ["a"])["a"]
    assert result.p_value == expected.pvalue and result.statistic == expected.statistic
    assert result.drifted
    assert identity(current, "a") == current["a"].mean()
