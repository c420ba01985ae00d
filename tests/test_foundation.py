"""Settings, the bundle contract and the tiny test bundle every other test builds on."""

import json

import numpy as np
import onnxruntime as ort
import pytest

from jukebox.config import load_settings, service_statuses
from jukebox.model.bundle import BundleError, read_bundle
from tests.bundles import make_tiny_bundle


def test_settings_default_to_embedded_home(tmp_path):
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    assert settings.home == tmp_path
    assert not settings.storage_is_remote and not settings.registry_is_remote
    assert all(not status.remote for status in service_statuses(settings))


def test_statuses_never_show_a_secret():
    env = {
        "AWS_S3_ENDPOINT": "https://minio.example:9000",
        "AWS_ACCESS_KEY_ID": "AKIAVISIBLE",
        "AWS_SECRET_ACCESS_KEY": "s3cr3t-value",
        "MODEL_REGISTRY_URL": "https://registry.example",
        "MODEL_REGISTRY_TOKEN": "registry-token-value",
    }
    settings = load_settings(env)
    shown = repr(settings) + repr(service_statuses(settings))
    for secret in ("AKIAVISIBLE", "s3cr3t-value", "registry-token-value"):
        assert secret not in shown
    assert "minio.example" in shown


def test_tiny_bundle_round_trips_and_runs(tmp_path):
    bundle = make_tiny_bundle(tmp_path / "b")
    again = read_bundle(bundle.path)
    assert again.preprocessing == bundle.preprocessing
    assert again.verification_passed
    session = ort.InferenceSession(str(again.onnx_path))
    feed = {
        name: np.full((3, 1), (lo + hi) / 2, np.float32)
        for name, lo, hi in zip(
            again.preprocessing.features,
            again.preprocessing.minima,
            again.preprocessing.maxima,
            strict=True,
        )
    }
    (probabilities,) = session.run(["output"], feed)
    assert probabilities.shape == (3, len(again.preprocessing.labels))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert set(again.sha256()) == {
        "model.onnx",
        "preprocessing.json",
        "metrics.json",
        "model_card.md",
    }


def test_malformed_preprocessing_is_reported(tmp_path):
    bundle = make_tiny_bundle(tmp_path / "b")
    (bundle.path / "preprocessing.json").write_text(json.dumps({"features": ["a"]}))
    with pytest.raises(BundleError, match="preprocessing.json"):
        read_bundle(bundle.path)
