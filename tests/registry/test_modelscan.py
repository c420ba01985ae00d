"""Registration scans the bundle with modelscan before anything is stored: the workshop's Lambda
model is refused in modelscan's words, and a registered version records its scan."""

from __future__ import annotations

import uuid

import pytest

from jukebox.errors import JukeboxError
from jukebox.model.scan import UnsafeModelError
from jukebox.registry.bundles import stored_versions
from jukebox.registry.properties import MODELSCAN_ISSUES, MODELSCAN_RESULT, MODELSCAN_VERSION
from jukebox.registry.register import register_bundle
from jukebox.registry.versions import get_version
from jukebox.storage import open_store
from tests.bundles import make_tiny_bundle
from tests.registry.conftest import model_names
from tests.unsafe_models import make_keras_bundle


@pytest.fixture
def name() -> str:
    return f"scanned-{uuid.uuid4().hex[:8]}"


def test_a_registered_version_records_its_scan(registry_env, tmp_path, name):
    bundle = make_tiny_bundle(tmp_path / "bundle")
    register_bundle(bundle.path, name, "1")
    version = get_version(name, "1")
    assert version.properties[MODELSCAN_RESULT] == "passed"
    assert version.properties[MODELSCAN_ISSUES] == 0
    assert version.properties[MODELSCAN_VERSION] == "0.8.8"
    # What a reader of the registry needs: the verdict, and that the ONNX model was not scanned.
    assert version.modelscan.startswith("passed")
    assert "no issues found" in version.modelscan
    assert "not scanned: model.onnx (modelscan has no ONNX scanner)" in version.modelscan


@pytest.mark.slow  # builds a Keras model; modelscan's scanners import TensorFlow
def test_the_totally_safe_model_is_refused_before_anything_is_stored(registry_env, tmp_path, name):
    marker = tmp_path / "lambda-ran"
    bundle = make_keras_bundle(tmp_path / "totally-safe", lambda_marker=marker)
    with pytest.raises(UnsafeModelError) as refused:
        register_bundle(bundle.path, name, "1")
    assert isinstance(refused.value, JukeboxError)  # the pages show it as a sentence
    said = str(refused.value)
    assert "Refused to register" in said
    assert "MEDIUM: Use of unsafe operator 'Lambda' from module 'Keras'" in said
    assert name not in model_names()
    assert stored_versions(open_store(registry_env), name) == []
    assert not marker.exists()
