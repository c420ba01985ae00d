"""The synthetic data set: deterministic, shaped like the workshop's, and learnable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jukebox.data.schema import (
    CHART_COUNTRIES,
    FEATURE_SPECS,
    FEATURES,
    PROPERTIES_COLUMNS,
    RANKINGS_COLUMNS,
)
from jukebox.data.synthetic import generate, taste_model
from tests.data.test_validation import assert_schema_dtypes

# Quantiles (5%, 25%, 50%, 75%, 95%) of the real features, from ../shared/data/README.md.
README_QUANTILES = {
    "duration_ms": (118365, 155151, 181382, 215295, 285197),
    "danceability": (0.422, 0.587, 0.695, 0.779, 0.879),
    "energy": (0.330, 0.540, 0.668, 0.775, 0.902),
    "loudness": (-12.59, -8.42, -6.61, -5.15, -3.28),
    "speechiness": (0.0297, 0.0425, 0.0698, 0.164, 0.355),
    "acousticness": (0.0063, 0.066, 0.197, 0.439, 0.795),
    "instrumentalness": (0, 0, 0, 0.0002, 0.125),
    "liveness": (0.063, 0.098, 0.126, 0.223, 0.452),
    "valence": (0.165, 0.361, 0.536, 0.715, 0.917),
    "tempo": (80.9, 100.0, 121.8, 140.0, 172.1),
}
SPREAD = ("BR", "DE", "JP", "US", "SE", "IN", "PL", "SA")  # one or two per region


def test_same_seed_same_tables_other_seed_other_tables():
    first = generate(300, seed=11, n_days=14)
    again = generate(300, seed=11, n_days=14)
    other = generate(300, seed=12, n_days=14)
    pd.testing.assert_frame_equal(first.properties, again.properties)
    pd.testing.assert_frame_equal(first.rankings, again.rankings)
    assert first.bayes_accuracy == again.bayes_accuracy
    assert not first.properties["spotify_id"].isin(other.properties["spotify_id"]).any()
    assert not np.allclose(first.properties["energy"], other.properties["energy"])


def test_columns_and_dtypes_are_the_workshops(small):
    assert_schema_dtypes(small.properties, PROPERTIES_COLUMNS)
    assert_schema_dtypes(small.rankings, RANKINGS_COLUMNS)
    assert small.source == "synthetic (seed 7, 300 songs)"
    assert small.report.ok


def test_default_size_like_the_workshop(default_set):
    properties, rankings = default_set.properties, default_set.rankings
    assert len(properties) == 14_000 and properties["spotify_id"].is_unique
    assert 1_050_000 <= len(rankings) <= 1_200_000
    assert sorted(rankings["country"].unique()) == sorted(CHART_COUNTRIES)
    assert len(CHART_COUNTRIES) == 72
    assert rankings["snapshot_date"].min() == pd.Timestamp("2023-10-18")
    assert rankings["snapshot_date"].max() == pd.Timestamp("2024-08-26")
    # Every ranking row's song has properties, and most songs chart somewhere.
    assert rankings["spotify_id"].isin(properties["spotify_id"]).all()
    assert rankings["spotify_id"].nunique() > 0.85 * len(properties)


def test_charts_are_real_charts(default_set):
    rankings = default_set.rankings
    day = rankings.groupby(["country", "snapshot_date"])
    assert day.size().max() == 50
    assert day.size().min() >= 45
    # Ranks run 1..n within a chart day, and no song appears twice in one.
    assert (day["daily_rank"].max() == day.size()).all()
    assert not rankings.duplicated(["spotify_id", "country", "snapshot_date"]).any()
    assert rankings["popularity"].between(0, 100).all()
    assert default_set.report.count("unknown_country") == 0


def test_marginals_match_the_real_quantiles(default_set):
    properties = default_set.properties
    for feature, expected in README_QUANTILES.items():
        spec = FEATURE_SPECS[feature]
        got = np.quantile(properties[feature], [0.05, 0.25, 0.5, 0.75, 0.95])
        error = np.abs(got - np.asarray(expected)) / (spec.high - spec.low)
        assert (error <= 0.15).all(), (feature, got, expected)
        assert (error <= 0.05).all(), (feature, got, expected)  # far closer than required
    assert properties["is_explicit"].mean() == pytest.approx(1 / 3, abs=0.03)
    assert properties["mode"].mean() == pytest.approx(0.51, abs=0.03)
    assert (properties["time_signature"] == 4).mean() == pytest.approx(0.91, abs=0.02)


def test_marginals_match_the_real_file(default_set, real_properties):
    for feature in FEATURES:
        spec = FEATURE_SPECS[feature]
        probabilities = [0.05, 0.25, 0.5, 0.75, 0.95]
        real = np.quantile(real_properties[feature].astype(float), probabilities)
        got = np.quantile(default_set.properties[feature].astype(float), probabilities)
        assert (np.abs(got - real) / (spec.high - spec.low) <= 0.15).all(), feature


def test_features_are_correlated_like_real_songs(default_set):
    correlation = default_set.properties[["energy", "loudness", "acousticness"]].corr("spearman")
    assert correlation.loc["energy", "loudness"] > 0.6
    assert correlation.loc["energy", "acousticness"] < -0.35


@pytest.mark.slow  # generates a large set twice
def test_bayes_ceiling_is_what_the_generators_classifier_scores():
    """The ceiling is honest: the generator's own classifier scores it on the rows it made."""
    from jukebox.data.merge import merge_tables

    options = dict(n_days=90, chart_size=30)
    data = generate(3000, seed=3, **options)
    rows = merge_tables(data.properties, data.rankings)
    model = taste_model(3000, seed=3, **options)
    probabilities = model.probabilities(rows)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    truth = rows["country"].astype(str).to_numpy()
    assert np.mean(model.predict(rows) == truth) == pytest.approx(data.bayes_accuracy, abs=0.015)
    # Calibrated: the probability given to the true country averages what the model expects.
    given = probabilities[np.arange(len(rows)), pd.Index(model.countries).get_indexer(truth)]
    assert given.mean() == pytest.approx((probabilities**2).sum(axis=1).mean(), rel=0.1)
    assert 5 / 72 < data.bayes_accuracy < 0.6


def test_default_ceiling_is_well_above_chance(default_set):
    assert 5 / 72 < default_set.bayes_accuracy < 0.6


def test_country_is_learnable_but_not_beyond_the_ceiling():
    """A quick classifier on songs it never saw beats chance clearly, and stays under Bayes."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupShuffleSplit
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import QuantileTransformer

    data = generate(1500, seed=4, n_days=60, chart_size=20, countries=SPREAD)
    rows = data.rankings.merge(data.properties.drop(columns=["name", "artists"]))
    train, test = next(
        GroupShuffleSplit(n_splits=1, test_size=0.3, random_state=0).split(
            rows, groups=rows["spotify_id"]
        )
    )
    x = rows[list(FEATURES)].astype(float).to_numpy()
    y = rows["country"].to_numpy()
    classifier = make_pipeline(
        QuantileTransformer(output_distribution="normal", n_quantiles=200),
        LogisticRegression(max_iter=300),
    )
    classifier.fit(x[train], y[train])
    accuracy = classifier.score(x[test], y[test])
    chance = 1 / len(SPREAD)
    assert accuracy > 2 * chance
    assert data.bayes_accuracy > 2 * chance
    assert data.bayes_accuracy > accuracy - 0.03


def test_quirks_are_optional():
    data = generate(3000, seed=2, n_days=7, quirks=False)
    assert not data.report.warnings
    assert data.properties["time_signature"].isin([3, 4, 5]).all()


def test_impossible_requests_say_why():
    with pytest.raises(ValueError, match="songs"):
        generate(10, n_days=5)
    with pytest.raises(ValueError, match="day"):
        generate(300, n_days=0)
