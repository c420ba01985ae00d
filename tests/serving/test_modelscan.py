"""Deployment scans a bundle with modelscan before anything loads: the workshop's Lambda model is
refused by ``deploy_local`` before any server starts, and by ``python -m jukebox serve --bundle``
before it loads a file; a clean bundle is served as before (tests/serving/test_deploy.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jukebox.config import load_settings
from jukebox.errors import JukeboxError
from jukebox.jobs import list_jobs
from jukebox.serving.deploy import JOB_KIND, deploy_local, list_deployments
from tests.unsafe_models import make_keras_bundle

LAMBDA_FINDING = "MEDIUM: Use of unsafe operator 'Lambda' from module 'Keras'"


@pytest.fixture(scope="module")
def lambda_bundle(tmp_path_factory):
    root = tmp_path_factory.mktemp("lambda")
    marker = root / "lambda-ran"
    return make_keras_bundle(root / "totally-safe", lambda_marker=marker), marker


@pytest.mark.slow  # builds a Keras model; modelscan's scanners import TensorFlow
def test_deploy_refuses_the_totally_safe_model_before_a_server_starts(tmp_path, lambda_bundle):
    bundle, marker = lambda_bundle
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path / "home")})
    with pytest.raises(JukeboxError) as refused:
        deploy_local(settings, "unsafe", bundle_dir=bundle.path)
    assert "Refused to deploy" in str(refused.value)
    assert LAMBDA_FINDING in str(refused.value)
    assert list_jobs(settings, JOB_KIND) == []
    assert list_deployments(settings) == []
    assert not marker.exists()


@pytest.mark.slow  # a server process that imports TensorFlow for modelscan's scanners
def test_serve_bundle_refuses_the_totally_safe_model_before_loading_it(tmp_path, lambda_bundle):
    bundle, marker = lambda_bundle
    job_dir = tmp_path / "job"
    result = subprocess.run(
        [sys.executable, "-m", "jukebox", "serve", "--bundle", str(bundle.path)]
        + ["--port", "0", "--no-log", "--job-dir", str(job_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "JUKEBOX_HOME": str(tmp_path / "home")},
    )
    assert result.returncode == 2
    assert "Refused to serve" in result.stderr and LAMBDA_FINDING in result.stderr
    assert "Serving" not in result.stdout
    status = json.loads((job_dir / "status.json").read_text())
    assert status["state"] == "failed" and LAMBDA_FINDING in status["error"]
    assert not marker.exists()
