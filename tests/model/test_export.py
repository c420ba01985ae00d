"""ONNX export follows the contract, matches Keras in both runtimes, and detects broken files."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from jukebox.data.schema import FEATURES
from jukebox.model.export import contract_problems, describe_onnx, export_onnx, verify
from tests.bundles import make_tiny_bundle


@pytest.fixture(scope="module")
def exported(trained, prepared, tmp_path_factory):
    result, _ = trained
    path = tmp_path_factory.mktemp("onnx") / "model.onnx"
    export_onnx(result.model, prepared.features, prepared.labels, path)
    expected = result.model.predict(prepared.inputs(prepared.x_test), verbose=0)
    return path, expected


@pytest.mark.slow  # needs the trained model
def test_graph_follows_the_onnx_contract(exported, prepared):
    path, _ = exported
    description = describe_onnx(path)
    assert [t["name"] for t in description["inputs"]] == list(FEATURES)
    assert all(t["type"] == "FLOAT" and t["shape"] == ["N", 1] for t in description["inputs"])
    assert description["outputs"] == [
        {"name": "output", "type": "FLOAT", "shape": ["N", prepared.n_classes]}
    ]
    assert contract_problems(description, FEATURES, prepared.n_classes) == []
    assert description["metadata"]["labels"] == '["' + '", "'.join(prepared.labels) + '"]'


@pytest.mark.slow  # needs the trained model
def test_verification_passes_on_the_whole_test_split(exported, prepared):
    path, expected = exported
    result = verify(path, expected, FEATURES, prepared.x_test)
    assert result.passed, result.problems
    assert result.rows == len(prepared.y_test)
    assert 0 <= result.onnxruntime_max_abs_diff <= 1e-5
    assert 0 <= result.openvino_max_abs_diff <= 1e-5


@pytest.mark.slow  # needs the trained model
def test_onnx_takes_raw_features(exported, prepared):
    """Raw values in, the Keras model's probabilities out: no scaling outside the graph."""
    import onnxruntime as ort

    path, expected = exported
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    raw = prepared.x_test[:5]
    feeds = {name: raw[:, i : i + 1] for i, name in enumerate(FEATURES)}
    assert raw[:, FEATURES.index("duration_ms")].min() > 1000  # really raw milliseconds
    np.testing.assert_allclose(session.run(["output"], feeds)[0], expected[:5], atol=1e-5)


@pytest.mark.slow  # needs the trained model
def test_a_different_model_fails_verification(exported, prepared):
    path, expected = exported
    shifted = np.roll(expected, 1, axis=1)
    result = verify(path, shifted, FEATURES, prepared.x_test)
    assert not result.passed
    assert any("onnxruntime differs from Keras" in p for p in result.problems)
    assert result.onnxruntime_max_abs_diff > 1e-5


@pytest.mark.slow  # needs the trained model
def test_a_corrupted_onnx_file_is_detected(exported, prepared, tmp_path):
    path, expected = exported
    broken = tmp_path / "broken.onnx"
    data = path.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    result = verify(broken, expected, FEATURES, prepared.x_test)
    assert not result.passed
    assert "not a valid ONNX model" in result.problems[0]


def test_contract_problems_name_what_is_wrong(tmp_path):
    bundle = make_tiny_bundle(tmp_path / "tiny")
    good = describe_onnx(bundle.onnx_path)
    assert contract_problems(good, FEATURES, 4) == []
    model = onnx.load(bundle.onnx_path)
    model.graph.output[0].name = "probabilities"
    model.graph.node[-1].output[0] = "probabilities"
    renamed = tmp_path / "renamed.onnx"
    onnx.save(model, renamed)
    problems = contract_problems(describe_onnx(renamed), FEATURES, 4)
    assert problems == ["outputs are ['probabilities'], expected ['output']"]
    assert contract_problems(good, FEATURES, 5) == [
        "output is FLOAT ['N', 4], expected FLOAT [N, 5]"
    ]
