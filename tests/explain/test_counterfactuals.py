"""Counterfactuals: the proposal reaches the target through a served model, changes only what
is allowed, stays within the data's ranges, and says so when the target cannot be reached."""

from __future__ import annotations

import numpy as np
import pytest

from jukebox.data.schema import FEATURES
from jukebox.explain.counterfactuals import (
    DEFAULT_ALLOWED,
    find_counterfactual,
    realistic_ranges,
)
from jukebox.explain.predictor import ExplainError
from jukebox.serving.client import infer
from jukebox.serving.runtime import load_bundle_model
from jukebox.serving.server import start_in_thread


def _probability(predict, song, country) -> float:
    return float(
        predict.probabilities(np.array([[song[f] for f in FEATURES]]))[0][
            predict.country_index(country)
        ]
    )


def _target_above(predict, song, country, points: float) -> float:
    return round(_probability(predict, song, country) + points, 3)


def test_ranges_are_the_datas_quantiles_and_integers_stay_integers(reference):
    ranges = realistic_ranges(reference)
    assert ranges["tempo"].low == pytest.approx(np.quantile(reference["tempo"], 0.01))
    assert ranges["tempo"].high == pytest.approx(np.quantile(reference["tempo"], 0.99))
    assert (ranges["key"].low, ranges["key"].high) == (-1, 11)
    assert (ranges["mode"].low, ranges["mode"].high) == (0, 1)
    for feature in ("duration_ms", "key", "mode", "is_explicit"):
        grid = ranges[feature].grid(0.02)
        assert np.array_equal(grid, np.round(grid))


def test_the_proposal_reaches_the_target_through_the_served_model(
    bundle_dir, predict, song, reference
):
    target = _target_above(predict, song, "JP", 0.08)
    cf = find_counterfactual(predict, song, "JP", target, reference)
    assert cf.reached and cf.changes
    assert cf.probability_after >= target
    server = start_in_thread(load_bundle_model(bundle_dir, name="tiny"))
    try:
        served = infer(server.url, "tiny", [cf.proposal], labels=predict.labels)
    finally:
        server.stop()
    assert served.probabilities["JP"].iloc[0] >= target
    assert served.probabilities["JP"].iloc[0] == pytest.approx(cf.probability_after, abs=1e-5)
    before = {f: b for f, (b, _) in cf.changes.items()}
    assert before == {f: pytest.approx(song[f], rel=1e-6) for f in cf.changes}


def test_only_allowed_features_change_and_stay_in_range(predict, song, reference):
    ranges = realistic_ranges(reference)
    for allowed, country in [(("tempo", "danceability", "energy"), "DE"), (None, "JP")]:
        cf = find_counterfactual(predict, song, country, 0.4, reference, allowed)
        assert set(cf.changes) <= set(allowed or DEFAULT_ALLOWED)
        for feature, (_, after) in cf.changes.items():
            assert ranges[feature].low <= after <= ranges[feature].high
            if ranges[feature].integer:
                assert after == round(after)
        unchanged = set(FEATURES) - set(cf.changes)
        assert all(cf.proposal[f] == pytest.approx(song[f], rel=1e-6) for f in unchanged)


def test_every_change_is_needed(predict, song, reference):
    target = _target_above(predict, song, "DE", 0.3)
    cf = find_counterfactual(predict, song, "DE", target, reference)
    assert cf.reached
    for feature, (before, _) in cf.changes.items():
        undone = {**cf.proposal, feature: before}
        assert _probability(predict, undone, "DE") < target


def test_a_small_step_takes_one_feature(predict, song, reference):
    target = _target_above(predict, song, "BR", 0.02)
    cf = find_counterfactual(predict, song, "BR", target, reference)
    assert cf.reached and len(cf.changes) == 1


def test_an_unreachable_target_is_reported_with_the_closest_found(predict, song, reference):
    cf = find_counterfactual(predict, song, "DE", 0.95, reference, allowed=["mode"])
    assert not cf.reached
    # the only choices: as it is, or the other mode
    other = {**song, "mode": 1 - song["mode"]}
    best = max(_probability(predict, song, "DE"), _probability(predict, other, "DE"))
    assert cf.probability_after == pytest.approx(best, abs=1e-6)
    assert cf.probability_after < 0.95


def test_a_song_already_there_needs_no_change(predict, song, reference):
    target = _target_above(predict, song, "BR", -0.05)
    cf = find_counterfactual(predict, song, "BR", target, reference)
    assert cf.reached and cf.already and cf.changes == {}


def test_the_search_is_deterministic(predict, song, reference):
    first = find_counterfactual(predict, song, "US", 0.6, reference)
    second = find_counterfactual(predict, song, "US", 0.6, reference)
    assert first == second


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"target": 30}, "between 0 and 1"),
        ({"allowed": ["bpm"]}, "bpm is not a feature"),
        ({"allowed": []}, "at least one"),
        ({"country": "TR"}, "does not predict"),
    ],
)
def test_requests_that_cannot_be_answered_say_why(predict, song, reference, kwargs, message):
    call = {"country": "DE", "target": 0.3, "allowed": None, **kwargs}
    with pytest.raises(ExplainError, match=message):
        find_counterfactual(
            predict, song, call["country"], call["target"], reference, call["allowed"]
        )
