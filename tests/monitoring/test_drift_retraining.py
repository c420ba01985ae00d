"""Retraining on drift without training anything: which alerts start a run, once each, and on a
cluster the run submitted to Kubeflow Pipelines (a stand-in API server checks the request)."""

from __future__ import annotations

import time

import pytest

from jukebox.config import load_settings
from jukebox.monitoring.history import DriftAlert, append_alert
from jukebox.monitoring.paths import monitoring_dir
from jukebox.pipelines import automation
from tests.pipelines.kfp_standin import StandIn


def alert(when: float, source: str = "", evaluations: int = 3) -> DriftAlert:
    return DriftAlert(
        time=when,
        model="jukebox",
        request_id="r1",
        metric="MEANSHIFT",
        columns=("acousticness", "tempo"),
        p_values={"acousticness": 1e-9, "tempo": 1e-4},
        evaluations=evaluations,
        threshold=0.05,
        source=source,
    )


def test_the_trigger_says_which_alert_and_why():
    said = automation.drift_trigger(alert(0.0))
    assert said.startswith("drift alert on deployment jukebox at 1970-01-01 00:00 UTC")
    assert "acousticness, tempo drifted in 3 evaluations in a row" in said
    relayed = automation.drift_trigger(alert(0.0, "alertmanager f1 2026", evaluations=1))
    assert relayed.endswith("drifted by the Prometheus alert rule")


@pytest.mark.slow  # makes the data repository and talks to a KFP API server
def test_on_a_cluster_an_alert_submits_one_training_run_naming_it(tmp_path, monkeypatch):
    server = StandIn(token="t", polls_until_done=2)
    server.start()
    try:
        monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path))
        monkeypatch.setenv("KFP_HOST", server.url)
        monkeypatch.setenv("KFP_TOKEN", "t")
        monkeypatch.setenv("MODEL_REGISTRY_URL", "https://registry.example")
        for name in ("JUKEBOX_DATA_GIT_URL", "TRUSTYAI_URL"):
            monkeypatch.delenv(name, raising=False)
        settings = load_settings()
        append_alert(monitoring_dir(settings), alert(time.time() - 60))  # before the switch
        automation.retrain_on_drift(settings, True, start=False)
        assert automation.tick(settings) == [] and server.received("POST", "/runs") == []

        raised = alert(time.time() + 1)
        append_alert(monitoring_dir(settings), raised)
        automation.tick(settings)
        automation.tick(settings)  # one run per alert, however often the loop looks
        assert server.problems == []
        (created,) = server.received("POST", "/runs")
        parameters = created.body["runtime_config"]["parameters"]
        assert parameters["trigger"] == automation.drift_trigger(raised)
        assert parameters["registry_url"] == "https://registry.example"
        (claim,) = automation.read_state(settings).drift_runs.values()
        assert claim.run_id in server.runs and claim.started is not None
        assert claim.alert == automation.alert_key(raised)
    finally:
        server.stop()
