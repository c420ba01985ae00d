"""Attributions have the defining properties of Shapley values, and agree with shap's."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jukebox.data.schema import FEATURES
from jukebox.explain.attributions import background_sample, explain_song, shapley_values
from jukebox.explain.predictor import ExplainError, bundle_reference
from tests.bundles import make_tiny_bundle, tiny_preprocessing, tiny_weights
from tests.explain.conftest import IGNORED


def test_the_bundle_carries_its_reference(bundle_dir, reference):
    pd.testing.assert_frame_equal(bundle_reference(bundle_dir), reference)


def test_a_bundle_without_reference_is_refused_in_a_sentence(tmp_path):
    make_tiny_bundle(tmp_path / "old")
    with pytest.raises(ExplainError, match="has no reference.parquet.*train it again"):
        bundle_reference(tmp_path / "old")


def test_the_top_countries_are_explained_most_likely_first(predict, song, reference):
    attributions = explain_song(predict, song, reference, top=3)
    probabilities = predict(reference.iloc[[3]]).iloc[0]
    assert [a.country for a in attributions] == list(probabilities.nlargest(3).index)
    for a in attributions:
        assert a.probability == pytest.approx(probabilities[a.country], abs=1e-6)
        assert set(a.contributions) == set(FEATURES)
        assert a.song == pytest.approx(song)


def test_contributions_add_up_to_the_probability_minus_the_background_mean(
    predict, song, reference
):
    background = reference.iloc[:40]  # fewer rows than are sampled: all of them are used
    attributions = explain_song(predict, song, background, countries=predict.labels)
    mean = predict(background).mean()
    for a in attributions:
        assert a.base == pytest.approx(mean[a.country], abs=1e-6)
        assert sum(a.contributions.values()) == pytest.approx(a.probability - a.base, abs=1e-6)


def test_a_large_background_is_sampled_the_same_way_each_time(predict, song, reference):
    first = explain_song(predict, song, reference, countries=["BR"], max_background=30)
    second = explain_song(predict, song, reference, countries=["BR"], max_background=30)
    assert first == second
    used = background_sample(reference, 30)
    assert len(used) == 30
    assert first[0].base == pytest.approx(predict(used)["BR"].mean(), abs=1e-6)


def test_a_feature_the_model_ignores_gets_nothing(ignoring_predict, song, reference):
    labels = ignoring_predict.labels
    for a in explain_song(ignoring_predict, song, reference, countries=labels):
        assert a.contributions[IGNORED] == pytest.approx(0.0, abs=1e-9)
        assert max(abs(v) for v in a.contributions.values()) > 1e-4  # the others do matter


def test_raising_a_feature_that_only_helps_a_country_raises_its_contribution(
    predict, song, reference
):
    # With softmax over one dense layer, a country's probability rises with a feature whose
    # weight for that country is the largest of all countries'.
    w, _ = tiny_weights(tiny_preprocessing())
    feature = "danceability"
    country = predict.labels[int(np.argmax(w[FEATURES.index(feature)]))]
    values = [0.1, 0.3, 0.5, 0.7, 0.9]
    contributions = [
        explain_song(predict, {**song, feature: v}, reference, countries=[country])[
            0
        ].contributions[feature]
        for v in values
    ]
    assert all(b > a for a, b in zip(contributions, contributions[1:], strict=False))


def test_a_country_the_model_does_not_know_is_refused(predict, song, reference):
    with pytest.raises(ExplainError, match="does not predict 'TR'"):
        explain_song(predict, song, reference, countries=["TR"])


@pytest.mark.slow
def test_the_values_are_those_of_shaps_exact_explainer(predict, song, reference):
    shap = pytest.importorskip("shap")
    background = background_sample(reference, 50).to_numpy(np.float64)
    row = np.array([[song[f] for f in FEATURES]])
    ours, base = shapley_values(predict, row, background)
    explainer = shap.explainers.Exact(
        predict.probabilities, shap.maskers.Independent(background, max_samples=50)
    )
    theirs = explainer(row, silent=True)
    np.testing.assert_allclose(ours, theirs.values, atol=1e-6)
    np.testing.assert_allclose(base, theirs.base_values[0], atol=1e-6)
