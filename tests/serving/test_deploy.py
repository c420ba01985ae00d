"""Local deployments through the library and the CLI: real server processes started as jobs,
found again from files, asked for predictions, replaced under load without a dropped request,
and stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
import requests

from jukebox.config import load_settings
from jukebox.jobs import list_jobs, load_job, read_status
from jukebox.serving.client import infer
from jukebox.serving.deploy import (
    DeploymentError,
    check_deployment_name,
    deploy_local,
    deploy_or_replace,
    endpoint_of,
    get_deployment,
    health,
    list_deployments,
    replace_deployment,
    stop_deployment,
    suggest_name,
)
from jukebox.ui.deploy import EXAMPLE_SONG, grpc_example
from tests.bundles import make_tiny_bundle
from tests.serving.conftest import LABELS, song_rows, workshop_request


@pytest.fixture
def settings(tmp_path):
    return load_settings({"JUKEBOX_HOME": str(tmp_path / "home")})


@pytest.fixture
def other_bundle(tmp_path):
    """A second version: same contract, other weights, so its answers differ."""
    return make_tiny_bundle(tmp_path / "v2", seed=1)


@pytest.mark.slow
def test_deploy_predict_list_health_and_stop(settings, bundle):
    deployment = deploy_local(settings, "songs", bundle_dir=bundle.path, version="1")
    try:
        assert deployment.ready and deployment.endpoint.startswith("http://127.0.0.1:")
        assert deployment.sha256 == bundle.sha256()["model.onnx"]
        # Found again from files alone, as after a page reload.
        [listed] = list_deployments(settings)
        assert (listed.name, listed.state, listed.endpoint) == (
            "songs",
            "ready",
            deployment.endpoint,
        )
        assert listed.version == "1" and listed.bundle == str(bundle.path.resolve())
        assert health(settings, "songs")["healthy"]

        result = infer(endpoint_of(settings, "songs"), "songs", song_rows(2))
        assert list(result.probabilities.columns) == list(LABELS)
        assert result.model_version == "1"

        with pytest.raises(DeploymentError, match="already runs"):
            deploy_local(settings, "songs", bundle_dir=bundle.path)
    finally:
        stop_deployment(settings, "songs")
    assert list_deployments(settings) == []
    job = list_jobs(settings, "serve")[0]
    assert not job.is_alive() and read_status(job.dir)["state"] == "stopped"
    with pytest.raises(requests.ConnectionError):
        requests.get(deployment.endpoint + "/v2/health/live", timeout=2)


@pytest.mark.slow
def test_the_grpc_example_the_page_shows_runs_as_shown(settings, bundle):
    """A deployment serves gRPC beside REST and asks gRPC callers for its token too; the Python
    the Deploy page shows under "Call it from code" prints what REST answers for the same song."""
    deployment = deploy_local(settings, "songs", bundle_dir=bundle.path, token="t0k")
    try:
        assert deployment.grpc_address.startswith("127.0.0.1:")
        assert get_deployment(settings, "songs").grpc_address == deployment.grpc_address

        def run_example(token: str) -> subprocess.CompletedProcess:
            return subprocess.run(
                [sys.executable, "-c", grpc_example(deployment)],
                env={**os.environ, "TOKEN": token},
                capture_output=True,
                text=True,
                timeout=120,
            )

        shown = run_example("t0k")
        assert shown.returncode == 0, shown.stderr
        rest = infer(deployment.endpoint, "songs", [EXAMPLE_SONG], token="t0k")
        np.testing.assert_allclose(
            json.loads(shown.stdout), rest.probabilities.iloc[0].to_numpy(), atol=1e-6
        )
        refused = run_example("wrong")
        assert refused.returncode != 0 and "the bearer token is wrong" in refused.stderr
    finally:
        stop_deployment(settings, "songs")


@pytest.mark.slow
def test_replace_under_load_drops_no_request(settings, bundle, other_bundle):
    """Four clients hammer the deployment (resolving its name at each request) while version 1
    is replaced by version 2: every request succeeds, and answers switch to version 2."""
    deploy_local(settings, "songs", bundle_dir=bundle.path, version="1")
    body = json.dumps(workshop_request(song_rows(2))).encode()
    stop = threading.Event()
    answers: list[str] = []
    failures: list[str] = []

    def hammer() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                endpoint = endpoint_of(settings, "songs")
                response = session.post(endpoint + "/v2/models/songs/infer", data=body, timeout=5)
                if response.status_code != 200:
                    failures.append(f"{response.status_code} {response.text}")
                else:
                    answers.append(response.json()["model_version"])
            except Exception as error:  # noqa: BLE001 - every failure counts
                failures.append(repr(error))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        old = get_deployment(settings, "songs")
        new = replace_deployment(
            settings, "songs", bundle_dir=other_bundle.path, version="2", grace_seconds=0.5
        )
        deadline = time.monotonic() + 10
        while answers.count("2") < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    try:
        assert failures == []
        assert new.version == "2" and new.endpoint != old.endpoint
        assert "1" in answers and answers[-1] == "2"
        assert answers.count("2") >= 20
        assert not load_job(settings.runs_dir / "serve" / old.job_id).is_alive()
        assert [d.name for d in list_deployments(settings)] == ["songs"]
    finally:
        stop_deployment(settings, "songs")


@pytest.mark.slow
def test_failed_replacement_keeps_the_old_version_serving(settings, bundle, tmp_path):
    deployment = deploy_local(settings, "songs", bundle_dir=bundle.path)
    try:
        broken = tmp_path / "broken"
        broken.mkdir()
        (broken / "model.onnx").write_bytes(b"not an onnx model")
        (broken / "preprocessing.json").write_text(bundle.preprocessing.to_json())
        with pytest.raises(DeploymentError, match="did not start: onnxruntime cannot load"):
            replace_deployment(settings, "songs", bundle_dir=broken, version="2")
        assert endpoint_of(settings, "songs") == deployment.endpoint
        assert infer(deployment.endpoint, "songs", song_rows(1)).model_version == "1"
    finally:
        stop_deployment(settings, "songs")


@pytest.mark.slow
def test_a_crashed_deployment_shows_failed_and_replacing_restarts_it(settings, bundle):
    deployment = deploy_local(settings, "songs", bundle_dir=bundle.path)
    try:
        job = load_job(settings.runs_dir / "serve" / deployment.job_id)
        os.kill(job.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while job.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        crashed = get_deployment(settings, "songs")
        assert crashed.state == "failed" and crashed.endpoint is None
        with pytest.raises(DeploymentError, match="is failed"):
            endpoint_of(settings, "songs")
        restarted = deploy_or_replace(settings, "songs", bundle_dir=bundle.path, version="1")
        assert restarted.ready
        assert infer(restarted.endpoint, "songs", song_rows(1)).model_version == "1"
    finally:
        stop_deployment(settings, "songs")


def test_deploy_errors_are_sentences(settings, tmp_path):
    with pytest.raises(DeploymentError, match="holds no model.onnx"):
        deploy_local(settings, "songs", bundle_dir=tmp_path)
    with pytest.raises(DeploymentError, match="lowercase letters"):
        deploy_local(settings, "Songs/../x", bundle_dir=tmp_path)
    with pytest.raises(DeploymentError, match="no deployment named"):
        endpoint_of(settings, "nothing")
    with pytest.raises(DeploymentError, match="no deployment named"):
        stop_deployment(settings, "nothing")
    assert list_deployments(settings) == []


def test_names():
    assert suggest_name("Song Charts_v2") == "song-charts-v2"
    assert check_deployment_name("song-charts") == "song-charts"
    for bad in ("", "-x", "x-", "A", "a_b", "a" * 64):
        with pytest.raises(DeploymentError):
            check_deployment_name(bad)


def _wait_status(job_dir: Path, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = json.loads((job_dir / "status.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            status = {}
        if status.get("state") in ("ready", "failed"):
            return status
        time.sleep(0.1)
    raise AssertionError("the server never reported")


@pytest.mark.slow
def test_cli_serve_bundle_on_a_free_port(tmp_path, bundle):
    job_dir = tmp_path / "job"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jukebox",
            "serve",
            "--bundle",
            str(bundle.path),
            "--port",
            "0",
            "--name",
            "cli",
            "--version",
            "4",
            "--job-dir",
            str(job_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status = _wait_status(job_dir)
        assert status["state"] == "ready", status
        assert status["host"] == "127.0.0.1" and status["port"] > 0
        assert (status["model"], status["version"]) == ("cli", "4")
        assert status["endpoint"] == f"http://127.0.0.1:{status['port']}"
        response = requests.post(
            status["endpoint"] + "/v2/models/cli/versions/4/infer",
            json=workshop_request(song_rows(3)),
            timeout=5,
        )
        assert response.status_code == 200
        assert response.json()["outputs"][0]["shape"] == [3, len(LABELS)]
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert f"at http://127.0.0.1:{status['port']}" in output
    assert json.loads((job_dir / "status.json").read_text())["state"] == "stopped"


@pytest.mark.slow
def test_cli_serve_refuses_a_wrong_sha256(tmp_path, bundle):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "jukebox",
            "serve",
            "--bundle",
            str(bundle.path),
            "--sha256",
            "0" * 64,
            "--job-dir",
            str(tmp_path / "job"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "not the expected" in result.stderr
    status = json.loads((tmp_path / "job" / "status.json").read_text())
    assert status["state"] == "failed" and "sha256" in status["error"]


@pytest.mark.slow
def test_cli_serve_needs_a_version_with_model(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "jukebox", "serve", "--model", "songs"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--model needs --version" in result.stderr


@pytest.mark.slow
def test_deploy_and_record_a_registered_version(registry_settings, bundle, monkeypatch):
    """From the registry: the version is fetched (sha256 checked), served, and recorded as an
    inference service of that version in the serving environment."""
    from jukebox.registry.versions import get_version
    from jukebox.serving.deploy import record_deployment, unrecord_deployment
    from jukebox.serving.kserve import KServeOptions, record_in_registry
    from jukebox.serving.registry_records import registry_record

    settings = registry_settings
    monkeypatch.setenv("JUKEBOX_HOME", str(settings.home))
    deployment = deploy_local(settings, "recorded", model="songs", version="2")
    try:
        assert deployment.model == "songs" and deployment.version == "2"
        assert deployment.sha256 == get_version("songs", "2", settings).onnx_sha256
        probabilities = infer(deployment.endpoint, "recorded", song_rows(1)).probabilities
        assert np.isclose(probabilities.to_numpy().sum(), 1.0, atol=1e-5)

        service_id = record_deployment(settings, deployment)
        service = registry_record(settings, service_id)
        assert service["modelVersionId"] == get_version("songs", "2", settings).id
        assert service["desiredState"] == "DEPLOYED"
        assert get_deployment(settings, "recorded").registry_id == service_id
        assert record_deployment(settings, deployment) == service_id  # updated, not doubled
        unrecord_deployment(settings, get_deployment(settings, "recorded"))
        assert registry_record(settings, service_id)["desiredState"] == "UNDEPLOYED"

        # A KServe deployment is recorded in the environment named after its namespace.
        options = KServeOptions("song-charts", "music", storage_uri="s3://b/models/songs")
        kserve_id = record_in_registry(settings, options, "songs", "1", "https://x")
        assert kserve_id != service_id
        assert registry_record(settings, kserve_id)["runtime"] == "kserve-ovms"
    finally:
        stop_deployment(settings, "recorded")


@pytest.mark.slow
def test_a_registered_version_with_a_tampered_file_is_refused(registry_settings, monkeypatch):
    """A stored model.onnx that no longer matches the registry's sha256 is never served."""
    from jukebox.registry.versions import get_version

    settings = registry_settings
    monkeypatch.setenv("JUKEBOX_HOME", str(settings.home))
    info = get_version("songs", "1", settings)
    stored = Path(unquote(urlparse(info.uri).path)) / "model.onnx"
    original = stored.read_bytes()
    stored.write_bytes(original + b"tampered")
    try:
        with pytest.raises(DeploymentError, match="did not start: .*sha256"):
            deploy_local(settings, "tampered", model="songs", version="1")
    finally:
        stored.write_bytes(original)
    assert "tampered" not in [d.name for d in list_deployments(settings)]


def test_a_deployment_made_without_logging_serves_with_no_log(tmp_path):
    from jukebox.__main__ import build_parser
    from jukebox.cli.serve import _inference_logger
    from jukebox.config import load_settings
    from jukebox.serving.deploy import _serve_args
    from tests.bundles import make_tiny_bundle

    bundle = make_tiny_bundle(tmp_path / "b").path
    assert "--no-log" not in _serve_args("songs", None, "1", bundle, 0)
    quiet = _serve_args("songs", None, "1", bundle, 0, log=False)
    assert "--no-log" in quiet
    # The command line those arguments make parses, and asks for no payload logger.
    args = build_parser().parse_args(quiet[2 : quiet.index("--job-dir")])
    assert args.no_log
    assert _inference_logger(args, load_settings({})) is None
