"""The Monitor page in AppTest: nothing deployed, and a deployment whose log, reference and drift
history were written as the server and the monitoring service write them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from jukebox.config import load_settings
from jukebox.data.schema import FEATURES
from jukebox.data.synthetic import generate
from jukebox.model.runs import reference_sample
from jukebox.monitoring.client import training_payload
from jukebox.monitoring.paths import monitoring_dir
from jukebox.monitoring.payload_log import PayloadLog
from jukebox.monitoring.service import MonitoringService
from jukebox.monitoring.shifted_songs import shifted_songs
from jukebox.pipelines import automation
from jukebox.serving import deploy
from jukebox.serving.inference_log import InferenceRecord
from tests.bundles import LABELS, make_tiny_bundle

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TRUSTYAI_URL", raising=False)
    settings = load_settings()
    yield settings
    automation.switch_off(settings)
    automation.retrain_on_drift(settings, False)
    for deployment in deploy.list_deployments(settings):
        deploy.stop_deployment(settings, deployment.name)


def page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("app_pages/monitor.py")
    return at.run()


def test_with_nothing_deployed_the_page_says_what_to_do(settings):
    at = page()
    assert not at.exception
    assert "Nothing is deployed yet" in at.info[0].value


def test_with_a_real_trustyai_the_page_says_where_drift_is_charted(settings, monkeypatch):
    monkeypatch.setenv("TRUSTYAI_URL", "https://user:secret@trustyai.example")
    at = page()
    assert not at.exception
    said = at.info[0].value
    assert "https://trustyai.example" in said and "secret" not in said


def _watched(settings, bundle_dir: Path) -> None:
    """The deployment ``tiny``'s reference, 200 slower songs logged, three evaluations."""
    songs = generate(1_500, 2, n_days=2).properties
    reference = reference_sample(songs[list(FEATURES)].to_numpy(np.float32), FEATURES)
    root = monitoring_dir(settings)
    service = MonitoringService(root)
    outputs = np.tile(np.eye(len(LABELS), dtype=np.float32)[:1], (len(reference), 1))
    inputs = {f: reference[f].to_numpy() for f in FEATURES}
    service.upload(training_payload("tiny", inputs, outputs))
    service.schedule("MEANSHIFT", {"modelId": "tiny", "referenceTag": "TRAINING"})
    log = PayloadLog(root)
    shifted = shifted_songs(reference, "slow", 300, seed=3)
    for batch in range(3):
        for i, (_, song) in enumerate(shifted.iloc[batch * 100 : (batch + 1) * 100].iterrows()):
            inputs = {f: np.array([[song[f]]], dtype=np.float32) for f in FEATURES}
            output = np.eye(len(LABELS), dtype=np.float32)[[1]]
            when = 1e9 + batch
            log(InferenceRecord(f"{batch}-{i}", "tiny", "1", when, inputs, {"output": output}))
        log.flush()
        service.evaluate()
    log.close()
    service.close()


def test_a_watched_deployment_shows_its_drift_in_words_and_charts(settings, tmp_path):
    bundle = make_tiny_bundle(tmp_path / "tiny")
    deploy.deploy_local(settings, "tiny", bundle_dir=bundle.path, log=False)
    _watched(settings, bundle.path)

    at = page()
    assert not at.exception
    (warning,) = at.warning
    assert "slower" in warning.value and "longer" in warning.value
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Songs logged"] == "300"
    assert metrics["Drift alerts"] == "1"
    assert metrics["Drifted features now"].startswith(("2 of", "3 of", "4 of"))
    charts = at.get("plotly_chart")
    assert len(charts) == 4  # requests, drift over time, one feature, top countries
    # The distribution shown first is that of the first drifted feature.
    assert at.selectbox[1].label == "Feature" and at.selectbox[1].value == "duration_ms"
    (alerts,) = at.dataframe
    assert "How fast?" in alerts.value["drifted features"].iloc[0]

    at.toggle[0].set_value(True).run()
    assert automation.read_state(settings).retrain_on_drift
    assert automation.running_job(settings) is not None  # the loop runs in the background
    at.toggle[0].set_value(False).run()
    assert not automation.read_state(settings).retrain_on_drift
