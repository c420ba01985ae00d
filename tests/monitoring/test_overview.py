"""What the Monitor page reads of a deployment, from a payload log written as a server writes it
(no service running), and a deployment whose bundle has no reference starting no service."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from jukebox.config import load_settings
from jukebox.data.schema import FEATURES
from jukebox.data.synthetic import generate
from jukebox.model.runs import reference_sample
from jukebox.monitoring.attach import watch_deployment
from jukebox.monitoring.client import training_payload
from jukebox.monitoring.overview import monitor_overview, top_countries
from jukebox.monitoring.paths import monitoring_dir
from jukebox.monitoring.payload_log import PayloadLog
from jukebox.monitoring.process import running_services
from jukebox.monitoring.service import MonitoringService
from jukebox.monitoring.shifted_songs import shifted_songs
from jukebox.serving.inference_log import InferenceRecord
from tests.bundles import make_tiny_bundle

LABELS = ("BR", "TR")


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path))
    monkeypatch.delenv("TRUSTYAI_URL", raising=False)
    return load_settings()


def _log(log: PayloadLog, songs: pd.DataFrame, top: str) -> None:
    for i, (_, song) in enumerate(songs.iterrows()):
        output = np.array([[0.8, 0.2]] if top == "BR" else [[0.3, 0.7]], dtype=np.float32)
        log(
            InferenceRecord(
                f"r{i}",
                "jukebox",
                "1",
                1_000.0 + i,
                {f: np.array([[song[f]]], dtype=np.float32) for f in FEATURES},
                {"output": output},
            )
        )


def test_the_overview_says_how_the_newest_songs_differ_and_what_the_model_answers(settings):
    songs = generate(1_500, 2, n_days=2).properties
    reference = reference_sample(songs[list(FEATURES)].to_numpy(np.float32), FEATURES)
    outputs = np.tile(np.array([[0.9, 0.1]], dtype=np.float32), (len(reference), 1))
    inputs = {f: reference[f].to_numpy() for f in FEATURES}
    service = MonitoringService(monitoring_dir(settings))
    service.upload(training_payload("jukebox", inputs, outputs))
    service.close()
    log = PayloadLog(monitoring_dir(settings))
    _log(log, shifted_songs(reference, "slow", 200, seed=3), top="TR")
    log.close()

    overview = monitor_overview(settings, "jukebox")
    assert len(overview.live) == 200 and len(overview.reference) == len(reference)
    assert {"tempo", "duration_ms"} <= set(overview.drifted)
    assert "slower" in overview.sentence and "longer" in overview.sentence
    assert top_countries(overview.reference, LABELS).to_dict() == {"BR": 1.0}
    assert top_countries(overview.live, LABELS).to_dict() == {"TR": 1.0}


def test_a_deployment_with_nothing_logged_says_so(settings):
    overview = monitor_overview(settings, "jukebox")
    assert overview.live.empty and overview.drifted == []
    assert "no training reference" in overview.sentence


def test_a_bundle_without_a_reference_starts_no_service(settings, tmp_path):
    bundle = make_tiny_bundle(tmp_path / "tiny")
    said = watch_deployment(settings, "tiny", bundle.path)
    assert "holds no training reference" in said
    assert running_services(settings) == []
