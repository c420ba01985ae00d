"""A tiny, real ModelBundle for tests that need a model but not a training.

The ONNX graph follows the contract of the design (one ``[N, 1]`` FP32 input per feature, min-max
scaling inside the graph, ``output`` ``[N, n_countries]`` softmax) and is built with onnx.helper,
so tests of storage, registry and serving stay fast and never import TensorFlow.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, helper, numpy_helper

from jukebox.data.preprocessing import Preprocessing
from jukebox.data.schema import FEATURES
from jukebox.model.bundle import REFERENCE_FILE, ModelBundle, write_bundle
from jukebox.model.report import (
    DataFacts,
    Evaluation,
    FitFacts,
    ModelReport,
    SplitFacts,
    Verification,
)

LABELS = ("DE", "US", "JP", "BR")


def tiny_preprocessing(labels: tuple[str, ...] = LABELS) -> Preprocessing:
    minima = [0, 60_000, 0, 0, -1, -40, 0, 0, 0, 0, 0, 0, 50]
    maxima = [1, 400_000, 1, 1, 11, 2, 1, 1, 1, 1, 1, 1, 200]
    return Preprocessing(FEATURES, tuple(map(float, minima)), tuple(map(float, maxima)), labels)


def tiny_weights(preprocessing: Preprocessing, seed: int = 0, ignored: tuple[str, ...] = ()):
    """The dense layer of :func:`tiny_onnx`: ``(w [features, labels], b [labels])``, random but
    fixed by ``seed``; the rows of the ``ignored`` features are zero, so the model ignores them."""
    rng = np.random.default_rng(seed)
    n_features, n_labels = len(preprocessing.features), len(preprocessing.labels)
    w = rng.normal(size=(n_features, n_labels)).astype(np.float32)
    b = rng.normal(size=n_labels).astype(np.float32)
    for name in ignored:
        w[preprocessing.features.index(name)] = 0.0
    return w, b


def tiny_onnx(
    preprocessing: Preprocessing, seed: int = 0, ignored: tuple[str, ...] = ()
) -> onnx.ModelProto:
    """Scale raw features, then one dense layer and softmax, with random but fixed weights
    (:func:`tiny_weights`)."""
    n_labels = len(preprocessing.labels)
    w, b = tiny_weights(preprocessing, seed, ignored)
    minima = np.asarray(preprocessing.minima, np.float32)
    ranges = np.asarray(preprocessing.maxima, np.float32) - minima
    initializers = [
        numpy_helper.from_array(minima, "minima"),
        numpy_helper.from_array(1.0 / ranges, "inverse_ranges"),
        numpy_helper.from_array(w, "w"),
        numpy_helper.from_array(b, "b"),
    ]
    nodes = [
        helper.make_node("Concat", list(preprocessing.features), ["x"], axis=1),
        helper.make_node("Sub", ["x", "minima"], ["shifted"]),
        helper.make_node("Mul", ["shifted", "inverse_ranges"], ["scaled"]),
        helper.make_node("MatMul", ["scaled", "w"], ["logits0"]),
        helper.make_node("Add", ["logits0", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["output"], axis=1),
    ]
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 1])
        for name in preprocessing.features
    ]
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", n_labels])
    graph = helper.make_graph(nodes, "tiny_jukebox", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def tiny_report(
    labels: tuple[str, ...] = LABELS, *, accuracy: float = 0.5, passed: bool = True
) -> ModelReport:
    """A model report as a training writes it, with made-up but consistent figures."""
    n = len(labels)
    return ModelReport(
        training_id="tiny",
        created="2026-01-01T00:00:00Z",
        params={"epochs": 1, "width": 4},
        fit=FitFacts(epochs_run=1, stopped=False, seconds=0.1, history={"loss": [1.0]}),
        data=DataFacts(
            source="tiny test data",
            songs=10,
            ranking_rows=40,
            split=SplitFacts(20, 10, 10, n, "2024-01-01", "2024-01-02", 0),
            chance_accuracy=1 / n,
        ),
        evaluation=Evaluation(
            accuracy=accuracy,
            top5_accuracy=1.0,
            precision_macro=0.5,
            recall_macro=0.5,
            f1_macro=0.5,
            log_loss=1.0,
            n_test=10,
            labels=labels,
            per_country=(),
            confusion_matrix=(),
        ),
        verification=Verification(
            passed=passed, tolerance=1e-5, rows=10, onnxruntime_max_abs_diff=0.0
        ),
    )


def make_tiny_bundle(
    path: Path,
    labels: tuple[str, ...] = LABELS,
    seed: int = 0,
    *,
    reference: pd.DataFrame | None = None,
    ignored: tuple[str, ...] = (),
) -> ModelBundle:
    """Write a verified tiny bundle to ``path`` and return it; with ``reference``, the bundle
    carries it as ``reference.parquet``; the model ignores the ``ignored`` features."""
    preprocessing = tiny_preprocessing(labels)
    path.mkdir(parents=True, exist_ok=True)
    onnx_path = path.parent / f"{path.name}.tmp.onnx"
    onnx.save(tiny_onnx(preprocessing, seed, ignored), onnx_path)
    bundle = write_bundle(
        path,
        onnx_model=onnx_path,
        preprocessing=preprocessing,
        report=tiny_report(labels),
        model_card="# tiny test model\n",
    )
    onnx_path.unlink()
    if reference is not None:
        reference.to_parquet(path / REFERENCE_FILE, index=False)
    return bundle
