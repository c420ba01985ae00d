"""Evaluation against cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jukebox.model.evaluation import chance_accuracy, evaluate

LABELS = ("BR", "DE", "US")
# Four rows; predicted (argmax) = BR, DE, DE, US; true = BR, DE, US, US.
PROBABILITIES = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.1, 0.8, 0.1],
        [0.2, 0.5, 0.3],
        [0.1, 0.1, 0.8],
    ]
)
TRUE = np.array([0, 1, 2, 2])


def test_headline_metrics_match_hand_computation():
    result = evaluate(PROBABILITIES, TRUE, LABELS, bayes_accuracy=0.9)
    assert result.accuracy == pytest.approx(0.75)
    # precision: BR 1/1, DE 1/2, US 1/1 -> 5/6; recall: BR 1, DE 1, US 1/2 -> 5/6
    assert result.precision_macro == pytest.approx(5 / 6)
    assert result.recall_macro == pytest.approx(5 / 6)
    # F1: BR 1, DE 2/3, US 2/3 -> 7/9
    assert result.f1_macro == pytest.approx(7 / 9)
    expected_log_loss = -(math.log(0.7) + math.log(0.8) + math.log(0.3) + math.log(0.8)) / 4
    assert result.log_loss == pytest.approx(expected_log_loss)
    assert result.top5_accuracy == 1.0  # three countries: always among the top five
    assert result.confusion_matrix == ((1, 0, 0), (0, 1, 0), (0, 1, 1))
    assert result.accuracy_to_bayes == pytest.approx(0.75 / 0.9)
    assert result.n_test == 4


def test_per_country_scores_in_label_order():
    result = evaluate(PROBABILITIES, TRUE, LABELS)
    rows = {row.country: row for row in result.per_country}
    assert [row.country for row in result.per_country] == list(LABELS)
    assert rows["DE"].precision == pytest.approx(0.5)
    assert rows["US"].recall == pytest.approx(0.5)
    assert rows["US"].support == 2
    assert result.bayes_accuracy is None and result.accuracy_to_bayes is None


def test_top5_accuracy_with_many_countries():
    labels = tuple(f"C{i}" for i in range(7))
    probabilities = np.tile(np.arange(7, 0, -1, dtype=float), (2, 1))  # class 0 best, 6 worst
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    # True classes 4 (rank 5: in the top five) and 6 (rank 7: not).
    result = evaluate(probabilities, np.array([4, 6]), labels)
    assert result.top5_accuracy == pytest.approx(0.5)
    assert result.accuracy == 0.0


def test_result_round_trips_through_plain_json():
    import json

    from jukebox.model.report import Evaluation

    result = evaluate(PROBABILITIES, TRUE, LABELS, bayes_accuracy=0.9)
    assert Evaluation.from_dict(json.loads(json.dumps(result.to_dict()))) == result


def test_wrong_shapes_are_refused():
    with pytest.raises(ValueError, match=r"shape \[N, 2\]"):
        evaluate(PROBABILITIES, TRUE, ("A", "B"))


def test_chance_is_the_most_frequent_training_country():
    assert chance_accuracy(np.array([1, 1, 0]), np.array([1, 0, 1, 1])) == pytest.approx(0.75)
