"""Canary rollouts: a second version beside the serving one, with a share of the traffic,
answers that name their version, and promotion and rollback under a running load test."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from jukebox.config import load_settings
from jukebox.jobs import load_job, read_status
from jukebox.serving.canary import (
    VERSION_HEADER,
    check_percent,
    get_canary,
    promote_canary,
    rollback_canary,
    start_canary,
)
from jukebox.serving.deploy import (
    DeploymentError,
    deploy_local,
    endpoint_of,
    get_deployment,
    list_deployments,
    replace_deployment,
    stop_deployment,
)
from jukebox.serving.loadtest import run_load
from tests.bundles import make_tiny_bundle
from tests.serving.conftest import song_rows, workshop_request


@pytest.fixture
def settings(tmp_path):
    return load_settings({"JUKEBOX_HOME": str(tmp_path / "home")})


@pytest.fixture
def other_bundle(tmp_path):
    """A second version: same contract, other weights, so its answers differ."""
    return make_tiny_bundle(tmp_path / "v2", seed=1)


def _jobs(settings, name):
    record = json.loads((settings.deployments_dir / f"{name}.json").read_text())
    canary = record["canary"]
    return (
        load_job(settings.jobs_dir("serve") / canary["primary_job_id"]),
        load_job(settings.jobs_dir("serve") / canary["canary_job_id"]),
    )


def test_a_share_is_a_percentage():
    assert check_percent("20") == 20.0
    for wrong in (-1, 101, "a lot", None):
        with pytest.raises(DeploymentError, match="0 to 100"):
            check_percent(wrong)


@pytest.mark.slow
def test_a_canary_at_20_percent_answers_a_fifth_and_names_itself(settings, bundle, other_bundle):
    deploy_local(settings, "songs", bundle_dir=bundle.path, version="1")
    try:
        with pytest.raises(DeploymentError, match="already serves version 1"):
            start_canary(settings, "songs", percent=20, bundle_dir=other_bundle.path, version="1")
        canary = start_canary(
            settings, "songs", percent=20, bundle_dir=other_bundle.path, version="2"
        )
        assert (canary.primary_version, canary.canary_version) == ("1", "2")
        primary, canary_job = _jobs(settings, "songs")
        endpoint = endpoint_of(settings, "songs")
        body = json.dumps(workshop_request(song_rows(1))).encode()
        session = requests.Session()
        versions = []
        for _ in range(1000):
            answer = session.post(endpoint + "/v2/models/songs/infer", data=body, timeout=10)
            assert answer.status_code == 200
            # The header and the OIP body name the same version.
            assert answer.headers[VERSION_HEADER] == answer.json()["model_version"]
            versions.append(answer.json()["model_version"])
        pinned = {"1": 10, "2": 10}  # the version-named requests below count in the figures
        # A path that names a version is answered by that version, never drawn.
        for asked in ("1", "2"):
            for _ in range(10):
                answer = session.post(
                    f"{endpoint}/v2/models/songs/versions/{asked}/infer", data=body, timeout=10
                )
                assert answer.status_code == 200 and answer.json()["model_version"] == asked
        # Binomial(1000, 0.2): 200 ± 4σ (σ ≈ 12.6).
        assert 150 <= versions.count("2") <= 250
        assert versions.count("1") + versions.count("2") == 1000

        # The router's figures (written a few times a second) count every answer; readiness
        # probes made while the router started count too.
        status = _figures_once_counted(settings, versions, pinned)
        assert status.canary.requests >= versions.count("2") + pinned["2"]
        assert status.primary.requests >= versions.count("1") + pinned["1"]
        assert status.primary.errors == status.canary.errors == 0
        assert status.canary.p50_ms is not None and status.canary.p99_ms >= status.canary.p50_ms
        # A sample of the requests went to both versions; for this song their top countries
        # differ (index 1 against 2), so every comparison disagrees.
        assert status.compared > 0 and status.disagreement == 1.0
        # The deployment reads as any other, still serving version 1 through the router.
        deployment = get_deployment(settings, "songs")
        assert deployment.ready and deployment.version == "1"
        assert deployment.served_bundle == str(bundle.path.resolve())  # what Predict reads
        with pytest.raises(DeploymentError, match="already runs a canary"):
            start_canary(settings, "songs", percent=5, bundle_dir=other_bundle.path, version="3")
    finally:
        stop_deployment(settings, "songs")
    # Stopping the deployment stops the router and both versions' servers.
    assert list_deployments(settings) == []
    assert not primary.is_alive() and not canary_job.is_alive()


def _figures_once_counted(settings, versions: list[str], pinned: dict):
    deadline = time.monotonic() + 10
    while True:
        status = get_canary(settings, "songs").status
        counted = status.primary.requests >= versions.count("1") + pinned["1"] and (
            status.canary.requests >= versions.count("2") + pinned["2"]
        )
        if counted or time.monotonic() > deadline:
            return status
        time.sleep(0.1)


def _load_while(settings, action) -> tuple:
    """Run a load test of 3 users against the deployment's endpoint while ``action`` runs."""
    infer_url = endpoint_of(settings, "songs") + "/v2/models/songs/infer"
    result = {}

    def load() -> None:
        result["report"] = run_load(
            infer_url, [workshop_request(song_rows(2))], users=3, duration=5
        )

    thread = threading.Thread(target=load)
    thread.start()
    threading.Event().wait(1.5)
    action()
    thread.join(timeout=60)
    return result["report"], infer_url


@pytest.mark.slow
@pytest.mark.parametrize("promote", [True, False], ids=["promote", "rollback"])
def test_promotion_and_rollback_lose_no_request_under_load(settings, bundle, other_bundle, promote):
    deploy_local(settings, "songs", bundle_dir=bundle.path, version="1")
    try:
        start_canary(settings, "songs", percent=50, bundle_dir=other_bundle.path, version="2")
        primary, canary_job = _jobs(settings, "songs")
        finish = promote_canary if promote else rollback_canary
        report, infer_url = _load_while(settings, lambda: finish(settings, "songs"))
        assert report.requests > 0 and report.errors == 0, report.first_errors
        winner, loser = ("2", primary) if promote else ("1", canary_job)
        # The losing version's server is gone; every answer now comes from the winner.
        assert not loser.is_alive()
        body = json.dumps(workshop_request(song_rows(1))).encode()
        for _ in range(50):
            answer = requests.post(infer_url, data=body, timeout=10)
            assert answer.status_code == 200
            assert answer.headers[VERSION_HEADER] == answer.json()["model_version"] == winner
        deployment = get_deployment(settings, "songs")
        assert deployment.ready and deployment.version == winner
        served = other_bundle if promote else bundle
        assert deployment.served_bundle == str(served.path.resolve())
        # gRPC is not split: it is the serving version's own server, now the winner's.
        winner_job = canary_job if promote else primary
        assert deployment.grpc_address.endswith(f":{read_status(winner_job.dir)['grpc_port']}")
        assert get_canary(settings, "songs") is None
        with pytest.raises(DeploymentError, match="no canary"):
            promote_canary(settings, "songs")
    finally:
        stop_deployment(settings, "songs")
    assert not primary.is_alive() and not canary_job.is_alive()


@pytest.mark.slow
def test_replacing_a_deployment_during_a_canary_replaces_both_versions(
    settings, bundle, other_bundle
):
    deploy_local(settings, "songs", bundle_dir=bundle.path, version="1")
    try:
        start_canary(settings, "songs", percent=20, bundle_dir=other_bundle.path, version="2")
        primary, canary_job = _jobs(settings, "songs")
        replaced = replace_deployment(settings, "songs", bundle_dir=other_bundle.path, version="3")
        assert replaced.ready and replaced.version == "3"
        assert get_canary(settings, "songs") is None
        assert not primary.is_alive() and not canary_job.is_alive()
        answer = requests.post(
            endpoint_of(settings, "songs") + "/v2/models/songs/infer",
            json=workshop_request(song_rows(1)),
            timeout=10,
        )
        assert answer.json()["model_version"] == "3"
    finally:
        stop_deployment(settings, "songs")
