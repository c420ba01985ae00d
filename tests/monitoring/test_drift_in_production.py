"""A model's life after deployment, end to end with real processes: a trained and registered
version is served, its server logs every request, the monitoring service gets the training
reference and schedules meanshift by itself; a stream of shifted songs is flagged on exactly the
shifted features, an alert is raised, and with retraining on drift switched on the alert starts a
training pipeline run whose gated version records the alert."""

from __future__ import annotations

import time

import pytest

from jukebox.config import load_settings
from jukebox.data.schema import CHART_COUNTRIES, FEATURES
from jukebox.data.store import save_current
from jukebox.data.synthetic import generate
from jukebox.model.network import TrainingParams
from jukebox.model.runs import read_reference
from jukebox.model.workflow import run_training
from jukebox.monitoring import client
from jukebox.monitoring.demo import stream_demo
from jukebox.monitoring.history import alerts, drift_history
from jukebox.monitoring.overview import monitor_overview
from jukebox.monitoring.process import monitoring_url, stop_service
from jukebox.monitoring.shifted_songs import SHIFTS, shifted_songs
from jukebox.pipelines import automation, local
from jukebox.pipelines.records import list_runs
from jukebox.registry.register import register_bundle
from jukebox.registry.server.process import stop_server
from jukebox.registry.versions import get_version
from jukebox.serving import deploy

SMALL = TrainingParams(epochs=2, width=8, depth=2)


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path))
    for name in ("TRUSTYAI_URL", "MODEL_REGISTRY_URL", "KFP_HOST", "JUKEBOX_SERVING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    yield settings
    for run in list_runs(settings):
        if not local.refresh(settings, run).finished:
            local.stop(settings, run)
    for deployment in deploy.list_deployments(settings):
        deploy.stop_deployment(settings, deployment.name)
    stop_service(settings)
    stop_server(settings)


def wait_until(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g} s"
        time.sleep(0.5)
    return found


@pytest.mark.slow
def test_shifted_songs_are_flagged_alerted_and_retrain_a_gated_version(settings):
    data = generate(400, 1, n_days=20, countries=CHART_COUNTRIES[:6])
    save_current(data, settings)
    record = run_training(settings, data, SMALL)
    register_bundle(record.path, "jukebox", "1", settings=settings)
    automation.retrain_on_drift(settings, True, start=False)  # the loop is ticked by hand

    deployment, _ = deploy.deploy_and_record(settings, "jukebox", model="jukebox", version="1")
    url = monitoring_url(settings)
    # The deployment gave the service its training reference and scheduled meanshift by itself.
    tags = wait_until(
        lambda: client.tags(url).get("jukebox", {}).get("TRAINING"), 60, "the reference upload"
    )
    assert tags == len(read_reference(record.path))
    (scheduled,) = wait_until(lambda: client.scheduled(url), 30, "scheduling meanshift")
    assert scheduled["request"]["modelId"] == "jukebox"
    assert scheduled["request"]["fitColumns"] == list(FEATURES)

    shift = SHIFTS["acoustic"]
    songs = shifted_songs(read_reference(record.path), "acoustic", 300, seed=11)
    assert stream_demo(settings, deployment.endpoint, "jukebox", songs) == 300

    history = drift_history(settings, "jukebox")
    last = history[history["time"] == history["time"].max()]
    assert set(last.loc[last["drifted"], "column"]) == set(shift.features)
    undrifted = last.loc[~last["drifted"], "value"]
    assert len(undrifted) == len(FEATURES) - len(shift.features)
    assert undrifted.min() > 0.06  # not a borderline call that rounding could flip
    (alert,) = alerts(settings, "jukebox")
    assert set(alert.columns) == set(shift.features) and alert.evaluations == 3

    overview = monitor_overview(settings, "jukebox")
    assert len(overview.live) == 300 and set(overview.drifted) == set(shift.features)
    assert "more acoustic" in overview.sentence and "calmer" in overview.sentence

    (started,) = automation.tick(settings)
    assert automation.tick(settings) == []  # one run per alert
    trigger = started.arguments["trigger"]
    assert "drift alert on deployment jukebox" in trigger
    assert all(feature in trigger for feature in shift.features)
    run = wait_until(
        lambda: (r := local.refresh(settings, started)).finished and r, 600, "the training run"
    )
    assert run.state == "succeeded", run.error
    registered = get_version("jukebox", run.registered_version, settings)
    assert registered.trigger == trigger
    assert registered.pipeline_run_id == run.id
