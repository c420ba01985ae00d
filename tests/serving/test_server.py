"""The local server against the Open Inference Protocol v2, with plain `requests` as a user
would write it: every endpoint, several rows, every malformed request, tokens, concurrency."""

from __future__ import annotations

import copy
import json
import socket
import threading
import time

import numpy as np
import pytest
import requests

from jukebox.data.schema import FEATURES
from jukebox.serving.runtime import ModelLoadError, load_bundle_model
from jukebox.serving.server import start_in_thread
from tests.serving.conftest import (
    LABELS,
    MODEL,
    expected_probabilities,
    song_rows,
    workshop_request,
)

INFER = f"/v2/models/{MODEL}/infer"


def test_health_endpoints_answer_200_with_a_json_body(url):
    """The KServe SDK's ``InferenceRESTClient(protocol="v2")`` reads these answers with
    ``.json()`` (``["live"]``, ``["ready"]``). The SDK cannot be installed beside the pinned
    requirements, so this plain HTTP test does what it does."""
    for path, key in (("/v2/health/live", "live"), ("/v2/health/ready", "ready")):
        response = requests.get(url + path, timeout=5)
        assert response.status_code == 200, path
        assert response.headers["Content-Type"] == "application/json"
        assert response.json() == {key: True}


def test_server_metadata(url):
    body = requests.get(url + "/v2", timeout=5).json()
    assert body["name"] and body["version"]
    assert body["extensions"] == []


@pytest.mark.parametrize("path", [f"/v2/models/{MODEL}", f"/v2/models/{MODEL}/versions/1"])
def test_model_metadata_lists_inputs_outputs_and_labels(url, path):
    body = requests.get(url + path, timeout=5).json()
    assert body["name"] == MODEL
    assert body["versions"] == ["1"]
    assert body["platform"] == "onnxruntime_onnx"
    assert [i["name"] for i in body["inputs"]] == list(FEATURES)
    assert all(i["datatype"] == "FP32" and i["shape"] == [-1, 1] for i in body["inputs"])
    assert body["outputs"] == [{"name": "output", "datatype": "FP32", "shape": [-1, len(LABELS)]}]
    assert body["parameters"]["labels"] == list(LABELS)


@pytest.mark.parametrize(
    "path", [f"/v2/models/{MODEL}/ready", f"/v2/models/{MODEL}/versions/1/ready"]
)
def test_model_ready(url, path):
    response = requests.get(url + path, timeout=5)
    assert response.status_code == 200
    assert response.json() == {"name": MODEL, "ready": True}


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v2/models/nosuchmodel"),
        ("POST", "/v2/models/nosuchmodel/infer"),
        ("GET", f"/v2/models/{MODEL}/versions/7"),
        ("POST", f"/v2/models/{MODEL}/versions/7/infer"),
        ("GET", "/v2/repository/index"),
        ("GET", "/v1/models/jukebox"),
        ("GET", "/"),
    ],
)
def test_unknown_model_version_or_path_is_404_json(url, method, path):
    body = json.dumps(workshop_request(song_rows(1))) if method == "POST" else None
    response = requests.request(method, url + path, data=body, timeout=5)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json"
    assert isinstance(response.json()["error"], str) and response.json()["error"]


def test_wrong_method_is_405_json(url):
    response = requests.get(url + INFER, timeout=5)
    assert response.status_code == 405
    assert "POST" in response.json()["error"]
    assert response.headers["Allow"] == "POST"
    assert requests.post(url + "/v2/health/ready", timeout=5).headers["Allow"] == "GET"


@pytest.mark.parametrize("path", [INFER, f"/v2/models/{MODEL}/versions/1/infer"])
def test_infer_several_rows_answers_the_protocol_json(url, bundle, path):
    rows = song_rows(3)
    request = workshop_request(rows, id="req-42", parameters={"trace": "abc"})
    response = requests.post(url + path, json=request, timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["model_name", "model_version", "id", "parameters", "outputs"]
    assert body["model_name"] == MODEL
    assert body["model_version"] == "1"
    assert body["id"] == "req-42"
    assert body["parameters"] == {"trace": "abc"}
    [output] = body["outputs"]
    assert output["name"] == "output"
    assert output["datatype"] == "FP32"
    assert output["shape"] == [3, len(LABELS)]
    data = np.asarray(output["data"]).reshape(3, len(LABELS))
    np.testing.assert_allclose(data, expected_probabilities(bundle, rows), rtol=1e-6)
    np.testing.assert_allclose(data.sum(axis=1), 1.0, atol=1e-5)


def test_infer_without_id_or_parameters_echoes_neither(url):
    body = requests.post(url + INFER, json=workshop_request(song_rows(1)), timeout=5).json()
    assert "id" not in body and "parameters" not in body
    assert body["outputs"][0]["shape"] == [1, len(LABELS)]


def test_nested_data_gives_the_same_answer_as_flat(url):
    rows = song_rows(4, seed=3)
    flat = workshop_request(rows)
    nested = copy.deepcopy(flat)
    for entry in nested["inputs"]:
        entry["data"] = [[value] for value in entry["data"]]
    a = requests.post(url + INFER, json=flat, timeout=5).json()
    b = requests.post(url + INFER, json=nested, timeout=5).json()
    assert a["outputs"] == b["outputs"]


def test_json_booleans_are_read_as_one_and_zero(url, bundle):
    """The workshop's request code sends is_explicit as true/false straight from the parquet."""
    rows = song_rows(2)
    as_numbers = workshop_request(rows)
    as_booleans = workshop_request(rows)
    as_booleans["inputs"][0]["data"] = [bool(v) for v in as_booleans["inputs"][0]["data"]]
    assert any(v is True for v in as_booleans["inputs"][0]["data"])
    answers = [
        requests.post(url + INFER, json=body, timeout=5).json()["outputs"][0]["data"]
        for body in (as_numbers, as_booleans)
    ]
    assert answers[0] == answers[1]


def test_the_rest_api_is_described_by_an_openapi_document(url):
    import schemathesis

    document = requests.get(url + "/v2/openapi.json", timeout=5).json()
    assert document["openapi"].startswith("3.")
    assert "/v2/models/{model_name}/infer" in document["paths"]
    operations = [op.ok() for op in schemathesis.openapi.from_dict(document).get_all_operations()]
    # Every route, read as OpenAPI by schemathesis: 3 server ones, 3 per model and per version.
    assert len(operations) == 9
    assert {(op.method.upper(), op.path) for op in operations} >= {
        ("GET", "/v2/health/ready"),
        ("POST", "/v2/models/{model_name}/versions/{model_version}/infer"),
    }


def test_integers_are_accepted_for_fp32(url):
    rows = [{f: 1 for f in FEATURES}]
    response = requests.post(url + INFER, json=workshop_request(rows), timeout=5)
    assert response.status_code == 200


def test_input_parameters_are_accepted(url):
    request = workshop_request(song_rows(2))
    request["inputs"][5]["parameters"] = {"content_type": "np"}
    assert requests.post(url + INFER, json=request, timeout=5).status_code == 200


def test_requested_output_by_name(url):
    request = workshop_request(song_rows(2), outputs=[{"name": "output"}])
    body = requests.post(url + INFER, json=request, timeout=5).json()
    assert [o["name"] for o in body["outputs"]] == ["output"]


def _mutate(change):
    request = workshop_request(song_rows(2))
    change(request)
    return json.dumps(request).encode()


def _set(index, key, value):
    def change(request):
        request["inputs"][index][key] = value

    return change


BAD_REQUESTS = {
    "unknown input name": (_mutate(_set(0, "name", "bpm")), "unknown input"),
    "missing input": (_mutate(lambda r: r["inputs"].pop(4)), "missing input"),
    "duplicate input": (_mutate(lambda r: r["inputs"].append(r["inputs"][0])), "twice"),
    "wrong shape": (_mutate(_set(0, "shape", [1, 2])), "invalid shape"),
    "wrong rank": (_mutate(_set(0, "shape", [2])), "invalid shape"),
    "shape not integers": (_mutate(_set(0, "shape", ["2", 1])), "shape"),
    "negative shape": (_mutate(_set(0, "shape", [-2, 1])), "shape"),
    "wrong datatype": (_mutate(_set(0, "datatype", "FP64")), "datatype"),
    "missing datatype": (_mutate(lambda r: r["inputs"][0].pop("datatype")), "datatype"),
    "string where a number belongs": (_mutate(_set(2, "data", ["high", 0.5])), "numbers"),
    "numeric string": (_mutate(_set(2, "data", ["0.5", 0.5])), "numbers"),
    "null value": (_mutate(_set(2, "data", [None, 0.5])), "numbers"),
    "data not a list": (_mutate(_set(0, "data", 0.5)), "data"),
    "too few values": (_mutate(_set(0, "data", [0.5])), "needs 2"),
    "uneven nesting": (_mutate(_set(0, "data", [[0.5], [0.5, 0.1]])), "data"),
    "rows disagree": (
        _mutate(lambda r: r["inputs"][0].update(shape=[3, 1], data=[0, 1, 0])),
        "rows",
    ),
    "zero rows": (
        _mutate(lambda r: [i.update(shape=[0, 1], data=[]) for i in r["inputs"]]),
        "no rows",
    ),
    "number out of FP32 range": (_mutate(_set(1, "data", [1e300, 1.0])), "finite"),
    "id not a string": (_mutate(lambda r: r.update(id=7)), "id"),
    "parameters not an object": (_mutate(lambda r: r.update(parameters=[1])), "parameters"),
    "unknown output": (_mutate(lambda r: r.update(outputs=[{"name": "probs"}])), "unknown output"),
    "inputs missing": (b'{"id": "x"}', "inputs"),
    "inputs empty": (b'{"inputs": []}', "inputs"),
    "input not an object": (b'{"inputs": [1, 2]}', "object"),
    "body not an object": (b"[1, 2, 3]", "object"),
    "empty body": (b"", "empty"),
    "whitespace body": (b"   \n", "empty"),
    "invalid JSON": (b'{"inputs": [', "not valid JSON"),
    "NaN literal": (b'{"inputs": [{"name": "key", "data": [NaN]}]}', "not valid JSON"),
    "input parameters not an object": (
        _mutate(lambda r: r["inputs"][3].update(parameters=["x"])),
        "parameters",
    ),
    "binary data": (
        _mutate(lambda r: r["inputs"][0].update(parameters={"binary_data_size": 8})),
        "binary",
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_malformed_request_is_400_with_a_json_error(url, case):
    body, words = BAD_REQUESTS[case]
    response = requests.post(
        url + INFER, data=body, headers={"Content-Type": "application/json"}, timeout=5
    )
    assert response.status_code == 400, response.text
    assert response.headers["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert words.lower() in error.lower(), error


def test_huge_body_is_refused_unread_with_413(bundle):
    running = start_in_thread(load_bundle_model(bundle, name=MODEL), max_body=10_000)
    try:
        big = json.dumps(workshop_request(song_rows(200))).encode()
        assert len(big) > 10_000
        response = requests.post(running.url + INFER, data=big, timeout=5)
        assert response.status_code == 413
        assert "limit" in response.json()["error"]
        # Gzipped, it fits: accepted; inflating past the limit is refused all the same.
        import gzip

        small_json = json.dumps(workshop_request(song_rows(3))).encode()
        zipped = requests.post(
            running.url + INFER,
            data=gzip.compress(small_json),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            timeout=5,
        )
        assert zipped.status_code == 200 and zipped.json()["outputs"][0]["shape"][0] == 3
        bomb = requests.post(
            running.url + INFER,
            data=gzip.compress(b" " * 1_000_000),
            headers={"Content-Encoding": "gzip"},
            timeout=5,
        )
        assert bomb.status_code == 413
        other = requests.post(
            running.url + INFER, data=small_json, headers={"Content-Encoding": "br"}, timeout=5
        )
        assert other.status_code == 400 and "not supported" in other.json()["error"]
        small = requests.post(running.url + INFER, json=workshop_request(song_rows(1)), timeout=5)
        assert small.status_code == 200
    finally:
        running.stop()


def test_post_without_content_length_is_400(url):
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(f"POST {INFER} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        answer = sock.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 400")
    assert '"error"' in answer


def test_expect_100_continue_as_curl_sends_big_bodies(url):
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(workshop_request(song_rows(2))).encode()
    head = (
        f"POST {INFER} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        answer = sock.recv(65536).decode()
    assert answer.startswith("HTTP/1.1 200")
    assert '"model_name":"jukebox"' in answer


def test_a_client_hanging_up_mid_body_leaves_the_server_serving(url):
    host, port = url.removeprefix("http://").split(":")
    for _ in range(5):
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(f"POST {INFER} HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{{".encode())
    response = requests.post(url + INFER, json=workshop_request(song_rows(1)), timeout=5)
    assert response.status_code == 200


def test_garbage_instead_of_http_gets_a_json_400_and_the_server_lives_on(url):
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"\x00\x01 this is not http\r\n\r\n")
        answer = sock.recv(4096).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 400")
    assert '"error"' in answer
    assert requests.get(url + "/v2/health/live", timeout=5).status_code == 200


@pytest.fixture(scope="module")
def token_url(bundle):
    running = start_in_thread(load_bundle_model(bundle, name=MODEL), token="s3cret")
    yield running.url
    running.stop()


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}]
)
def test_token_protected_server_answers_401_json(token_url, headers):
    for method, path in (("POST", INFER), ("GET", f"/v2/models/{MODEL}"), ("GET", "/v2")):
        data = json.dumps(workshop_request(song_rows(1))) if method == "POST" else None
        response = requests.request(method, token_url + path, data=data, headers=headers, timeout=5)
        assert response.status_code == 401, path
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "token" in response.json()["error"]


def test_token_protected_server_serves_with_the_token_and_health_without(token_url):
    ok = requests.post(
        token_url + INFER,
        json=workshop_request(song_rows(2)),
        headers={"Authorization": "Bearer s3cret"},
        timeout=5,
    )
    assert ok.status_code == 200
    assert requests.get(token_url + "/v2/health/ready", timeout=5).status_code == 200


@pytest.mark.slow  # many requests from many threads
def test_concurrent_requests_each_get_their_own_answer(url, bundle):
    """Twelve clients at once, each with its own rows: every answer matches its own request."""
    failures: list[str] = []

    def client(seed: int) -> None:
        session = requests.Session()
        for i in range(15):
            rows = song_rows(1 + (seed + i) % 5, seed=seed * 100 + i)
            response = session.post(url + INFER, json=workshop_request(rows), timeout=10)
            if response.status_code != 200:
                failures.append(response.text)
                continue
            got = np.asarray(response.json()["outputs"][0]["data"]).reshape(len(rows), -1)
            if not np.allclose(got, expected_probabilities(bundle, rows), rtol=1e-5):
                failures.append(f"wrong answer for seed {seed} request {i}")

    threads = [threading.Thread(target=client, args=(seed,)) for seed in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []


def test_a_slow_big_request_does_not_block_small_ones(url):
    """While one client sends 20,000 rows, another's one-row requests keep being answered."""
    big = json.dumps(workshop_request(song_rows(20_000))).encode()
    done = threading.Event()
    small_answers = []

    def small() -> None:
        session = requests.Session()
        while not done.is_set() and len(small_answers) < 500:
            small_answers.append(
                session.post(url + INFER, json=workshop_request(song_rows(1)), timeout=5)
            )

    thread = threading.Thread(target=small)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not small_answers and time.monotonic() < deadline:
            time.sleep(0.01)
        before = len(small_answers)
        for _ in range(3):
            response = requests.post(url + INFER, data=big, timeout=30)
            assert response.status_code == 200
            assert response.json()["outputs"][0]["shape"] == [20_000, len(LABELS)]
        during = len(small_answers) - before
    finally:
        done.set()
        thread.join(10)
    assert during > 0, "no small request was answered while the big ones ran"
    assert all(r.status_code == 200 for r in small_answers)


def test_sha256_mismatch_refuses_to_load(bundle):
    with pytest.raises(ModelLoadError, match="sha256"):
        load_bundle_model(bundle, name=MODEL, expected_sha256="0" * 64)
    model = load_bundle_model(bundle, name=MODEL, expected_sha256=bundle.sha256()["model.onnx"])
    assert model.sha256 == bundle.sha256()["model.onnx"]


def test_a_directory_that_is_not_a_bundle_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="missing model.onnx"):
        load_bundle_model(tmp_path, name=MODEL)
