"""The network's shape, its parameters' checks, and the scaling inside it."""

from __future__ import annotations

import numpy as np
import pytest

from jukebox.data.preprocessing import Preprocessing
from jukebox.data.schema import FEATURES
from jukebox.model.network import (
    ParamsError,
    TrainingParams,
    build_model,
    quantile_scaling,
    validation_problems,
)

LABELS5 = ("A", "B", "C", "D", "E")


def test_defaults_are_the_workshop_architecture():
    assert TrainingParams().hidden_units == (512,)
    assert TrainingParams(width=32, depth=4).hidden_units == (32, 64, 128, 256)
    assert TrainingParams(width=16, depth=2).hidden_units == (16, 32)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("learning_rate", -0.1, "learning rate must be between 1e-06 and 1"),
        ("epochs", 0, "epochs must be between 1 and 1000"),
        ("dropout", 0.95, "dropout must be between 0 and 0.9"),
        ("depth", 9, "depth must be between 1 and 8"),
        ("batch_size", 2.5, "batch size must be a whole number"),
        ("width", "wide", "width must be a number"),
        ("learning_rate", float("nan"), "learning rate must be between"),
    ],
)
def test_bad_parameters_say_what_to_change(field, value, message):
    with pytest.raises(ParamsError, match=message):
        TrainingParams(**{field: value})


def test_every_problem_is_reported_at_once():
    problems = validation_problems({"epochs": 0, "dropout": 2.0, "width": 64})
    assert len(problems) == 2
    assert all("Choose a value in that range" in p for p in problems)


def test_params_round_trip_through_a_dict():
    params = TrainingParams(epochs=3, dropout=0.2, seed=7)
    assert TrainingParams.from_dict({**params.to_dict(), "unknown": 1}) == params


@pytest.mark.slow  # builds a Keras model (TensorFlow)
def test_model_takes_one_raw_input_per_feature_and_gives_softmax():
    minima = [0.0] * len(FEATURES)
    maxima = [float(i + 1) for i in range(len(FEATURES))]
    model = build_model(
        Preprocessing(FEATURES, minima, maxima, LABELS5),
        TrainingParams(width=8, depth=2, scaling="min-max"),
    )
    assert [i.name for i in model.inputs] == list(FEATURES)
    assert all(tuple(i.shape) == (None, 1) for i in model.inputs)
    assert tuple(model.outputs[0].shape) == (None, 5)
    dense = [layer.units for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert dense == [8, 16, 5]
    x = {name: np.full((3, 1), 0.5, np.float32) for name in FEATURES}
    out = model.predict(x, verbose=0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


@pytest.mark.slow  # builds a Keras model (TensorFlow)
def test_scaling_inside_the_model_maps_training_range_to_unit_interval():
    import keras

    minima = [float(-i) for i in range(len(FEATURES))]
    maxima = [float(10 * (i + 1)) for i in range(len(FEATURES))]
    maxima[3] = minima[3]  # a constant feature: range 1, like scikit-learn's MinMaxScaler
    model = build_model(
        Preprocessing(FEATURES, minima, maxima, ("A", "B", "C")),
        TrainingParams(width=4, depth=1, scaling="min-max"),
    )
    scaling = keras.Model(model.inputs, model.get_layer("min_max_scaling").output)

    def scaled(values):
        x = {name: np.array([[v]], np.float32) for name, v in zip(FEATURES, values, strict=True)}
        return scaling.predict(x, verbose=0)[0]

    np.testing.assert_allclose(scaled(minima), 0.0, atol=1e-6)
    expected = np.ones(len(FEATURES))
    expected[3] = 0.0
    np.testing.assert_allclose(scaled(maxima), expected, atol=1e-6)
    # The network and Preprocessing.scale (what the Predict page sends a model from elsewhere)
    # are one definition: the same numbers for the same rows, a constant feature included.
    import pandas as pd

    rows = pd.DataFrame([maxima, minima, [v / 2 for v in maxima]], columns=list(FEATURES))
    prep = Preprocessing(FEATURES, tuple(minima), tuple(maxima))
    for i in range(len(rows)):
        np.testing.assert_allclose(
            scaled(rows.iloc[i].tolist()), prep.scale(rows).iloc[i].to_numpy(), atol=1e-5
        )


@pytest.mark.slow  # builds a Keras model (TensorFlow)
def test_quantile_scaling_inside_the_model_is_the_interpolated_quantile_map():
    """The default scaling: each raw feature through its training quantiles onto a normal score,
    flat beyond the training range; a spike (half the songs at 0) is one knot; a constant
    feature maps to 0. The graph computes exactly ``np.interp`` over the knots."""
    import keras

    rng = np.random.default_rng(0)
    x = rng.lognormal(size=(2000, len(FEATURES)))
    x[:1000, 1] = 0.0  # a spike, like instrumentalness
    x[:, 2] = 7.0  # a constant feature
    quantiles = quantile_scaling(x)
    assert len(quantiles.knots[1]) < len(quantiles.knots[0]) == 101
    assert quantiles.scores[2] == (0.0, 0.0)
    assert max(map(max, quantiles.scores)) < 3.1 and min(map(min, quantiles.scores)) > -3.1
    preprocessing = Preprocessing(FEATURES, tuple(x.min(0)), tuple(x.max(0)), ("A", "B"))
    model = build_model(preprocessing, TrainingParams(width=4, depth=1), quantiles)
    scaling = keras.Model(model.inputs, model.get_layer("quantile_scaling").output)
    assert not any(w.trainable for w in scaling.weights)
    probe = np.vstack([x[:50], x.min(0) - 1, x.max(0) * 2]).astype(np.float32)
    got = scaling.predict([probe[:, i : i + 1] for i in range(len(FEATURES))], verbose=0)
    for f, (knots, scores) in enumerate(zip(quantiles.knots, quantiles.scores, strict=True)):
        expected = np.interp(probe[:, f], knots, scores) if knots[0] < knots[-1] else 0.0
        np.testing.assert_allclose(got[:, f], expected, atol=2e-4)
    with pytest.raises(ValueError, match="training quantiles"):
        build_model(preprocessing, TrainingParams(width=4, depth=1))


def test_fewer_than_two_countries_is_refused():
    with pytest.raises(ValueError, match="at least two countries"):
        build_model(Preprocessing(FEATURES, (0.0,) * 13, (1.0,) * 13, ("A",)))


def test_rows_and_early_stopping_are_checked_and_parsed():
    assert TrainingParams().rows == "songs" and TrainingParams().early_stopping
    with pytest.raises(ParamsError, match="rows must be one of 'songs', 'chart rows'"):
        TrainingParams(rows="days")
    with pytest.raises(ParamsError, match="patience must be between 1 and 100"):
        TrainingParams(patience=0)
    # As a KFP or JSON parameter arrives: text and floats.
    params = TrainingParams.from_dict({"early_stopping": "false", "patience": 4.0})
    assert params.early_stopping is False and params.patience == 4
