"""``GET /metrics``, scraped as Prometheus scrapes it: OpenVINO Model Server's names and labels
(and Triton's), REST and gRPC counted apart in one exposition, open without the token."""

from __future__ import annotations

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient
from prometheus_client.parser import text_string_to_metric_families

from jukebox.data.schema import FEATURES
from jukebox.serving.dataplane import DataPlane
from jukebox.serving.grpc_server import make_grpc_server
from jukebox.serving.runtime import load_bundle_model
from jukebox.serving.server import start_in_thread
from tests.serving.conftest import MODEL, song_rows, workshop_request

TOKEN = "s3cret"


def scrape(url: str) -> dict[str, dict[tuple, float]]:
    """``{metric family: {labels as sorted tuples (with the sample's name): value}}``."""
    answer = requests.get(f"{url}/metrics", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    # The names as OVMS writes them, which dashboards query: no "_total" suffix.
    assert 'ovms_requests_success{api="KServe",interface="REST",method="ModelInfer"' in answer.text
    families = {}
    for family in text_string_to_metric_families(answer.text):
        families[family.name] = {
            (s.name, *sorted(s.labels.items())): s.value for s in family.samples
        }
    return families


def value(families, family: str, sample: str | None = None, **labels) -> float:
    wanted, sample = set(labels.items()), sample or family
    # The parser names a counter's samples "<name>_total", whatever the text says.
    names = (sample, f"{sample}_total")
    found = [
        v
        for (name, *pairs), v in families[family].items()
        if name in names and wanted <= set(pairs)
    ]
    assert len(found) == 1, (family, labels, families[family])
    return found[0]


@pytest.fixture(scope="module")
def servers(bundle):
    model = load_bundle_model(bundle, name=MODEL, version="2")
    plane = DataPlane(model)
    rest = start_in_thread(model, token=TOKEN, plane=plane)
    grpc_server, port = make_grpc_server(model, token=TOKEN, plane=plane)
    yield rest.url, f"127.0.0.1:{port}"
    grpc_server.stop(grace=1).wait()
    rest.stop()


def test_a_scrape_counts_successes_and_failures_per_interface_as_ovms_does(servers):
    url, grpc_address = servers
    auth = {"Authorization": f"Bearer {TOKEN}"}
    before = scrape(url)  # open: no token
    infer = f"{url}/v2/models/{MODEL}/infer"
    ok, bad = 5, 3
    for i in range(ok):
        answer = requests.post(
            infer, json=workshop_request(song_rows(2, seed=i)), headers=auth, timeout=10
        )
        assert answer.status_code == 200
    for _ in range(bad):
        answer = requests.post(infer, json={"inputs": "no"}, headers=auth, timeout=10)
        assert answer.status_code == 400
    # Not counted anywhere, as OVMS has no series for them: another model, no token.
    requests.post(f"{url}/v2/models/other/infer", json={}, headers=auth, timeout=10)
    requests.post(infer, json=workshop_request(song_rows(1)), timeout=10)
    assert requests.get(f"{url}/v2/models/{MODEL}/ready", headers=auth, timeout=10).ok
    assert requests.get(f"{url}/v2/models/{MODEL}", headers=auth, timeout=10).ok

    client = grpcclient.InferenceServerClient(grpc_address)
    headers = {"authorization": f"Bearer {TOKEN}"}
    inputs = []
    for feature in FEATURES:
        tensor = grpcclient.InferInput(feature, [1, 1], "FP32")
        tensor.set_data_from_numpy(np.full((1, 1), 0.5, np.float32))
        inputs.append(tensor)
    client.infer(MODEL, inputs, headers=headers)
    client.infer(MODEL, inputs, headers=headers)
    with pytest.raises(Exception, match="missing input"):
        client.infer(MODEL, inputs[:-1], headers=headers)
    assert client.is_model_ready(MODEL, headers=headers)
    client.close()

    after = scrape(url)

    def grew(family, sample=None, **labels):
        return value(after, family, sample, **labels) - value(before, family, sample, **labels)

    common = {"api": "KServe", "name": MODEL, "version": "2"}
    assert grew("ovms_requests_success", interface="REST", method="ModelInfer", **common) == ok
    assert grew("ovms_requests_fail", interface="REST", method="ModelInfer", **common) == bad
    assert grew("ovms_requests_success", interface="REST", method="ModelReady", **common) == 1
    assert grew("ovms_requests_success", interface="REST", method="ModelMetadata", **common) == 1
    assert grew("ovms_requests_success", interface="gRPC", method="ModelInfer", **common) == 2
    assert grew("ovms_requests_fail", interface="gRPC", method="ModelInfer", **common) == 1
    assert grew("ovms_requests_success", interface="gRPC", method="ModelReady", **common) == 1

    model = {"name": MODEL, "version": "2"}
    count = "ovms_request_time_us_count"
    assert grew("ovms_request_time_us", count, interface="REST", **model) == ok + bad
    assert grew("ovms_request_time_us", count, interface="gRPC", **model) == 3
    # The model ran for every request it answered, and only for them.
    assert grew("ovms_inference_time_us", "ovms_inference_time_us_count", **model) == ok + 2
    inf = value(after, "ovms_inference_time_us", "ovms_inference_time_us_bucket", le="+Inf")
    assert inf == value(after, "ovms_inference_time_us", "ovms_inference_time_us_count")
    assert value(after, "ovms_current_requests", **model) == 0

    triton = {"model": MODEL, "version": "2"}
    assert grew("nv_inference_request_success", **triton) == ok + 2
    assert grew("nv_inference_request_failure", **triton) == bad + 1
    assert grew("nv_inference_count", **triton) == 2 * ok + 2  # rows
    assert grew("nv_inference_exec_count", **triton) == ok + 2
    assert grew("nv_inference_request_duration_us", **triton) > 0


def test_metrics_take_only_get(servers):
    url, _ = servers
    answer = requests.post(f"{url}/metrics", data=b"", timeout=10)
    assert answer.status_code == 405 and answer.headers["Allow"] == "GET"
