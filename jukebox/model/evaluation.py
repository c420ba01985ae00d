"""Evaluation on the test split: the figures a person judges a model by, all from scikit-learn.

Works on predicted probabilities (not on a model), so it needs no TensorFlow and is checked against
hand-computed cases. The result is a typed :class:`~jukebox.model.report.Evaluation`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

from jukebox.model.report import CountryScore, Evaluation


def evaluate(
    probabilities: np.ndarray,
    y_true: np.ndarray,
    labels: Sequence[str],
    *,
    bayes_accuracy: float | None = None,
) -> Evaluation:
    """Score predicted probabilities ``[N, n_classes]`` against encoded true labels.

    - ``accuracy``: share of rows whose most likely country is the true one;
    - ``top5_accuracy``: share whose true country is among the five most likely;
    - ``precision_macro``/``recall_macro``/``f1_macro``: unweighted means over the countries that
      occur in the test split (a country absent from it has no recall to speak of);
    - ``log_loss``: cross-entropy of the probabilities (lower is better);
    - ``per_country``: precision, recall, F1 and support of every country, in label order;
    - ``confusion_matrix``: rows are true countries, columns predicted ones, both in label order;
    - ``accuracy_to_bayes``: accuracy divided by the best accuracy any classifier can reach on
      the data, when the data set knows it (synthetic data does).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.int64)
    n_classes = len(labels)
    if probabilities.ndim != 2 or probabilities.shape[1] != n_classes:
        raise ValueError(
            f"Expected probabilities of shape [N, {n_classes}], got {probabilities.shape}."
        )
    if len(y_true) != len(probabilities) or len(y_true) == 0:
        raise ValueError("Need as many true labels as predictions, and at least one.")
    all_classes = np.arange(n_classes)
    y_pred = probabilities.argmax(axis=1)
    present = np.unique(y_true)

    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=present, average="macro", zero_division=0
    )
    per_p, per_r, per_f, per_support = precision_recall_fscore_support(
        y_true, y_pred, labels=all_classes, average=None, zero_division=0
    )
    # log_loss wants rows that sum to 1; softmax output does up to float rounding.
    normalised = np.clip(probabilities, 1e-15, 1.0)
    normalised /= normalised.sum(axis=1, keepdims=True)
    accuracy = float(accuracy_score(y_true, y_pred))
    bayes = float(bayes_accuracy) if bayes_accuracy else None
    return Evaluation(
        accuracy=accuracy,
        # With five countries or fewer the true one is always among the five most likely.
        top5_accuracy=float(top_k_accuracy_score(y_true, probabilities, k=5, labels=all_classes))
        if n_classes > 5
        else 1.0,
        precision_macro=float(precision),
        recall_macro=float(recall),
        f1_macro=float(f1),
        log_loss=float(log_loss(y_true, normalised, labels=all_classes)),
        n_test=int(len(y_true)),
        labels=tuple(str(label) for label in labels),
        per_country=tuple(
            CountryScore(
                country=str(labels[i]),
                precision=float(per_p[i]),
                recall=float(per_r[i]),
                f1=float(per_f[i]),
                support=int(per_support[i]),
            )
            for i in all_classes
        ),
        confusion_matrix=tuple(
            tuple(int(v) for v in row)
            for row in confusion_matrix(y_true, y_pred, labels=all_classes)
        ),
        bayes_accuracy=bayes,
        accuracy_to_bayes=accuracy / bayes if bayes else None,
    )


def chance_accuracy(y_train: np.ndarray, y_test: np.ndarray) -> float:
    """Accuracy of always answering the training split's most frequent country: the bar to beat."""
    most_frequent = np.bincount(np.asarray(y_train, dtype=np.int64)).argmax()
    return float(np.mean(np.asarray(y_test) == most_frequent))
