"""The embedded service, started for real (``python -m jukebox monitor serve`` on 127.0.0.1, a
free port), answering the workshop notebook's calls unchanged."""

from __future__ import annotations

import time
from urllib.parse import urljoin

import numpy as np
import pytest
import requests

from jukebox.config import load_settings
from jukebox.monitoring.paths import monitoring_dir
from jukebox.monitoring.payload_log import PayloadLog
from jukebox.serving.inference_log import InferenceRecord
from tests.monitoring.live import running_monitor

FEATURES = ["is_explicit", "duration_ms", "danceability", "energy", "key",
            "loudness", "mode", "speechiness", "acousticness",
            "instrumentalness", "liveness", "valence", "tempo"]  # fmt: skip
SHIFTED = {"acousticness": 0.35, "tempo": 25.0, "danceability": -0.2}
TOKEN = "test-token-not-secret"
MEANS = {f: 10.0 * (i + 1) for i, f in enumerate(FEATURES)}


def songs(rng, n: int, shifted: bool = False) -> dict[str, np.ndarray]:
    return {
        f: rng.normal(MEANS[f] + (SHIFTED.get(f, 0.0) * 4 if shifted else 0.0), 1.0, (n, 1)).astype(
            np.float32
        )
        for f in FEATURES
    }


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with running_monitor(home, TOKEN, alert_after=3) as url:
        yield url, home


def observations(base_url, model):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    return requests.get(urljoin(base_url, "/info"), headers=headers).json()[model]["data"][
        "observations"
    ]


def test_the_workshop_notebook_runs_unchanged_and_meanshift_flags_the_shifted_features(service):
    base_url, home = service
    rng = np.random.default_rng(20)
    token = TOKEN
    model_name = "jukebox"
    # --- the notebook's cells, as written (the model's outputs made up: softmax of noise) ---
    data_dict = songs(rng, 5000)
    output_name = "output"
    logits = rng.normal(size=(5000, 4))
    y_pred_temp = [np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)]
    training_data = {
        "model_name": model_name,
        "data_tag": "TRAINING",
        "request": {
            "inputs": [
               {
                    "name": name,
                    # "shape": np.shape(data_dict[name]),
                    "shape": [len(data_dict[name])],
                    "datatype": "FP32",
                    # "data": data_dict[name].tolist()
                    "data": data_dict[name].flatten().tolist()
                }
                for name in data_dict.keys()  # noqa: SIM118 (the notebook, verbatim)
            ]
        },
        "response": {
            "model_name": model_name,
            "model_version": "1",
            "outputs": [
                {
                    "name": output_name,
                    "datatype": "FP32",
                    "shape": np.shape(y_pred_temp[0]),
                    "data": y_pred_temp[0].tolist()
                }
            ]
        }
    }  # fmt: skip
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json"
    }  # fmt: skip
    endpoint = "data/upload"
    url = urljoin(base_url, endpoint)
    response = requests.post(url, headers=headers, json=training_data)
    print(response.text)
    assert response.status_code == 200, response.text
    assert response.text == "5000 datapoints successfully added to jukebox data."

    endpoint = "/metrics/drift/meanshift/request"
    url = urljoin(base_url, endpoint)
    payload = {
        "modelId": model_name,
        "referenceTag": "TRAINING",
        "fitColumns": ["is_explicit", "duration_ms", "danceability", "energy", "key",
                         "loudness", "mode", "speechiness", "acousticness",
                         "instrumentalness", "liveness", "valence", "tempo"],
    }  # fmt: skip
    response = requests.post(url, headers=headers, json=payload)
    print(response.text)
    assert response.status_code == 200, response.text
    request_id = response.json()["requestId"]

    endpoint = "/info"
    url = urljoin(base_url, endpoint)
    response = requests.get(url, headers=headers)
    print(response.text)
    info = response.json()["jukebox"]
    assert info["metrics"]["scheduledMetadata"]["metricCounts"] == {"MEANSHIFT": 1}
    assert info["data"]["observations"] == 5000
    assert set(info["data"]["inputSchema"]["items"]) == set(FEATURES)
    assert set(info["data"]["outputSchema"]["items"]) == {f"output-{i}" for i in range(4)}

    endpoint = "/metrics/identity/request"
    url = urljoin(base_url, endpoint)
    payload = {
        "modelId": model_name,
        "columnName": "duration_ms",
        "batchSize": 256,
    }
    response = requests.post(url, headers=headers, json=payload)
    print(response.text)
    assert response.status_code == 200, response.text

    # --- the deployment logs shifted songs, as a local inference server's logger does ---
    log = PayloadLog(monitoring_dir(load_settings({"JUKEBOX_HOME": str(home)})))
    for batch in range(3):
        shifted = songs(rng, 100, shifted=True)
        for f in set(FEATURES) - set(SHIFTED):
            # Same distribution, and the batch's mean exactly the training's: a t-test at 0.05
            # flags 1 unshifted column in 20 by chance, and this test must not depend on luck.
            values = shifted[f].astype(np.float64)
            shifted[f] = (values - values.mean() + data_dict[f].astype(np.float64).mean()).astype(
                np.float32
            )
        for i in range(100):
            log(
                InferenceRecord(
                    request_id=f"b{batch}-{i}",
                    model="jukebox",
                    version="1",
                    time=time.time(),
                    inputs={f: v[i : i + 1] for f, v in shifted.items()},
                    outputs={"output": y_pred_temp[0][i : i + 1]},
                )
            )
        log.flush()
        evaluated = requests.post(urljoin(base_url, "/jukebox/evaluate"), headers=headers).json()
        meanshift = next(e for e in evaluated if e["metricName"] == "MEANSHIFT")
        assert meanshift["drifted"] == sorted(SHIFTED)
    log.close()

    one_shot = requests.post(
        urljoin(base_url, "/metrics/drift/meanshift"), headers=headers,
        json={"modelId": "jukebox", "referenceTag": "TRAINING", "fitColumns": FEATURES},
    ).json()  # fmt: skip
    assert sorted(c for c, p in one_shot["namedValues"].items() if p <= 0.05) == sorted(SHIFTED)
    assert one_shot["name"] == "MEANSHIFT" and one_shot["thresholds"]["upperBound"] == 0.05

    # --- the Prometheus exposition, with TrustyAI's names and labels ---
    text = requests.get(urljoin(base_url, "/q/metrics"), headers=headers).text
    samples = parse_prometheus(text)
    meanshift = {
        s["labels"]["subcategory"]: s
        for s in samples
        if s["name"] == "trustyai_meanshift" and s["labels"]["request"] == request_id
    }
    assert set(meanshift) == set(FEATURES)
    assert meanshift["tempo"]["labels"] == {
        "batch_size": "100", "metricName": "MEANSHIFT", "model": "jukebox",
        "request": request_id, "subcategory": "tempo",
    }  # fmt: skip
    assert {f for f, s in meanshift.items() if s["value"] <= 0.05} == set(SHIFTED)
    assert any(s["name"] == "trustyai_identity" for s in samples)

    # --- the history and the alert, through the library ---
    from jukebox.monitoring.history import alerts, drift_history

    settings = load_settings({"JUKEBOX_HOME": str(home)})
    history = drift_history(settings, "jukebox")
    tempo = history[(history.metric == "MEANSHIFT") & (history.column == "tempo")]
    assert len(tempo) == 3 and tempo.drifted.all()
    raised = alerts(settings, "jukebox")
    assert len(raised) == 1 and set(raised[0].columns) == set(SHIFTED)
    assert raised[0].request_id == request_id

    # --- the scheduled requests can be listed and deleted ---
    listed = requests.get(urljoin(base_url, "/metrics/drift/meanshift/requests"), headers=headers)
    assert [r["id"] for r in listed.json()["requests"]] == [request_id]
    gone = requests.delete(urljoin(base_url, "/metrics/drift/meanshift/request"), headers=headers,
                           json={"requestId": request_id})  # fmt: skip
    assert (gone.status_code, gone.text) == (200, "Removed")
    again = requests.delete(urljoin(base_url, "/metrics/drift/meanshift/request"), headers=headers,
                            json={"requestId": request_id})  # fmt: skip
    assert again.status_code == 404 and request_id in again.text


def parse_prometheus(text: str) -> list[dict]:
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        import re

        out = []
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            m = re.match(r"^([a-zA-Z_:][\w:]*)\{(.*)\} (\S+)$", line)
            assert m, line
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
            out.append({"name": m.group(1), "labels": labels, "value": float(m.group(3))})
        return out
    return [
        {"name": s.name, "labels": dict(s.labels), "value": s.value}
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def test_a_missing_token_is_refused(service):
    base_url, _ = service
    assert requests.get(urljoin(base_url, "/info")).status_code == 401
    wrong = requests.get(urljoin(base_url, "/info"), headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "Bearer" in wrong.text


def test_a_bad_upload_is_refused_whole_and_loses_nothing(service):
    base_url, _ = service
    headers = {"Authorization": f"Bearer {TOKEN}"}
    good = {
        "model_name": "badcase", "data_tag": "TRAINING",
        "request": {"inputs": [{"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]}]},
        "response": {"outputs": [{"name": "o", "shape": [2, 1], "datatype": "FP32", "data": [[0], [1]]}]},  # noqa: E501
    }  # fmt: skip
    assert requests.post(urljoin(base_url, "data/upload"), headers=headers, json=good).ok
    before = observations(base_url, "badcase")
    missing = {k: v for k, v in good.items() if k != "response"}
    answer = requests.post(urljoin(base_url, "data/upload"), headers=headers, json=missing)
    assert answer.status_code == 400 and answer.text == "No output payload specified in request"
    wrong_shape = {
        **good,
        "request": {"inputs": [{"name": "a", "shape": [3], "datatype": "FP32", "data": [1, 2]}]},
    }
    answer = requests.post(urljoin(base_url, "data/upload"), headers=headers, json=wrong_shape)
    assert answer.status_code == 400 and "shape [3]" in answer.text and "2 values" in answer.text
    no_field = {**good, "request": {"inputs": [{"name": "a", "shape": [2], "data": [1, 2]}]}}
    answer = requests.post(urljoin(base_url, "data/upload"), headers=headers, json=no_field)
    assert answer.status_code == 400 and "datatype" in answer.text
    assert observations(base_url, "badcase") == before == 2


def test_kserve_cloudevents_are_matched_by_id_and_logged(service):
    from jukebox.monitoring.forwarder import cloudevents

    base_url, _ = service
    before = 0
    record = InferenceRecord(
        request_id="ce-1", model="cemodel", version="2", time=time.time(),
        inputs={"tempo": np.array([[120.0]], dtype=np.float32)},
        outputs={"output": np.array([[0.1, 0.9]], dtype=np.float32)},
    )  # fmt: skip
    (req_headers, req_body), (res_headers, res_body) = cloudevents(record)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    first = requests.post(base_url + "/", headers={**res_headers, **auth}, data=res_body)
    assert first.status_code == 200
    second = requests.post(base_url + "/", headers={**req_headers, **auth}, data=req_body)
    assert second.status_code == 200 and second.text == "Inference logged."
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = requests.get(urljoin(base_url, "/info"), headers=auth).json()
        if "cemodel" in info:
            break
        time.sleep(0.1)
    assert info["cemodel"]["data"]["observations"] == before + 1
    bad = requests.post(
        base_url + "/", headers={**auth, "ce-type": "other", "ce-id": "x"}, data=b"{}"
    )
    assert bad.status_code == 400
