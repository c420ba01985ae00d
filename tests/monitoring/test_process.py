"""Finding the monitoring service: started on demand and reused, the real one when TRUSTYAI_URL
is set, none in a pipeline pod; and the two ways Jukebox talks to it, the CloudEvents forwarder
(as KServe's logger) and the client (the workshop's calls)."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
import requests

from jukebox.config import EmbeddedRefusedError, load_settings
from jukebox.jobs import list_jobs
from jukebox.monitoring import client
from jukebox.monitoring.forwarder import CloudEventForwarder
from jukebox.monitoring.paths import monitoring_dir
from jukebox.monitoring.payload_log import read_log
from jukebox.monitoring.process import (
    JOB_KIND,
    ensure_service,
    is_healthy,
    monitoring_url,
    running_services,
    stop_service,
)
from jukebox.serving.inference_log import InferenceRecord
from tests.monitoring.live import running_monitor

TOKEN = "process-test-token-not-secret"
FEATURES = ["danceability", "energy", "tempo"]


@pytest.fixture
def clean_env(monkeypatch):
    """The jobs inherit this process's environment: no real service, no pod."""
    for name in ("TRUSTYAI_URL", "TRUSTYAI_TOKEN", "JUKEBOX_POD_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def settings(tmp_path, clean_env):
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path), "TRUSTYAI_TOKEN": TOKEN})
    yield settings
    stop_service(settings)


def test_ensure_service_starts_one_service_reuses_it_and_stop_service_stops_it(settings):
    url = ensure_service(settings)
    assert url.startswith("http://127.0.0.1:")
    assert is_healthy(url, monitoring_dir(settings))
    assert ensure_service(settings) == url
    (job,) = running_services(settings)
    # The token reaches the service through its environment only, never a file it writes.
    for path in job.dir.iterdir():
        assert TOKEN not in path.read_text(errors="replace"), path.name
    assert requests.get(url + "/info", timeout=10).status_code == 401
    answer = requests.get(url + "/info", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 200

    assert stop_service(settings) == 1
    assert running_services(settings) == []
    assert not is_healthy(url)
    again = monitoring_url(settings)  # the next call starts a new one on demand
    assert is_healthy(again, monitoring_dir(settings)) and len(running_services(settings)) == 1


def test_monitoring_url_is_trustyai_url_when_set_and_refuses_the_embedded_one_in_a_pod(
    tmp_path, clean_env
):
    real = load_settings(
        {"JUKEBOX_HOME": str(tmp_path), "TRUSTYAI_URL": "https://trustyai.example:8443/"}
    )
    assert monitoring_url(real) == "https://trustyai.example:8443"
    pod_env = {"JUKEBOX_HOME": str(tmp_path), "JUKEBOX_POD_NAMESPACE": "jukebox-ns"}
    in_pod = load_settings(pod_env, service_account=tmp_path / "no-account")
    with pytest.raises(EmbeddedRefusedError) as refused:
        monitoring_url(in_pod)
    assert "monitoring service" in str(refused.value) and "jukebox-ns" in str(refused.value)
    in_pod_real = load_settings(
        {**pod_env, "TRUSTYAI_URL": "https://trustyai.jukebox-ns.svc"},
        service_account=tmp_path / "no-account",
    )
    assert monitoring_url(in_pod_real) == "https://trustyai.jukebox-ns.svc"
    assert list_jobs(real, JOB_KIND) == []  # nothing was started for any of them


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with running_monitor(home, TOKEN) as url:
        yield url, home


def test_the_cloudevent_forwarder_logs_each_inference_in_the_service(live):
    url, home = live
    forwarder = CloudEventForwarder(url, TOKEN)
    sent = [
        InferenceRecord(
            f"fwd-{i}",
            "forwarded",
            "2",
            time.time(),
            {f: np.array([[i + 0.5]], dtype=np.float32) for f in FEATURES},
            {"output": np.array([[0.2, 0.8]], dtype=np.float32)},
        )  # fmt: skip
        for i in range(5)
    ]
    for record in sent:
        forwarder(record)
    forwarder.close()
    assert (forwarder.sent, forwarder.failed, forwarder.dropped) == (5, 0, 0)

    root = monitoring_dir(load_settings({"JUKEBOX_HOME": str(home)}))
    deadline = time.monotonic() + 20  # the service writes its log in the background
    while len(frame := read_log(root, "forwarded")) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(frame["_request_id"]) == [f"fwd-{i}" for i in range(5)]
    assert sorted(frame["tempo"]) == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert set(frame["_version"]) == {"2"} and list(frame["output-1"]) == pytest.approx([0.8] * 5)


def test_the_client_uploads_training_data_schedules_meanshift_and_reads_info(live):
    url, _ = live
    rng = np.random.default_rng(5)
    x_train = rng.random((300, len(FEATURES)), dtype=np.float32)

    def predict(inputs):
        assert all(v.shape == (300, 1) for v in inputs.values())
        return np.tile([[0.3, 0.7]], (300, 1))

    said = client.upload_training(url, "clientmodel", x_train, FEATURES, predict, token=TOKEN)
    assert said == "300 datapoints successfully added to clientmodel data."
    request_id = client.schedule_meanshift(url, "clientmodel", FEATURES, token=TOKEN)
    assert uuid.UUID(request_id)
    info = client.info(url, token=TOKEN)["clientmodel"]
    assert info["metrics"]["scheduledMetadata"]["metricCounts"] == {"MEANSHIFT": 1}
    assert info["data"]["observations"] == 300
    assert set(info["data"]["inputSchema"]["items"]) == set(FEATURES)

    with pytest.raises(client.MonitoringError) as refused:
        client.schedule_meanshift(url, "nosuchmodel", FEATURES, token=TOKEN)
    assert "400" in str(refused.value) and "nosuchmodel" in str(refused.value)
    with pytest.raises(client.MonitoringError) as unauthorised:
        client.info(url, token="wrong")
    assert "401" in str(unauthorised.value)
