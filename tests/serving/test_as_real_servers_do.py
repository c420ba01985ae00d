"""Where the local inference server now does what the real servers do (Triton, OpenVINO Model
Server), each from a real client or a raw socket: a 413 every client reads, one body limit for
REST and gRPC, routing before framing, ``"data": null`` beside binary data, model readiness as
Triton answers it, and deadlines for a client that trickles its request."""

from __future__ import annotations

import json
import socket
import subprocess
import time

import numpy as np
import pytest
import requests

from jukebox.data.schema import FEATURES
from jukebox.serving.runtime import load_bundle_model
from jukebox.serving.server import start_in_thread
from tests.serving.conftest import MODEL

LIMIT = 200_000  # bytes: a small limit, so a body over it is quick to send


@pytest.fixture(scope="module")
def small(bundle):
    """A server whose body limit is ``LIMIT``, with short deadlines, and its gRPC beside it."""
    from jukebox.serving.grpc_server import make_grpc_server

    model = load_bundle_model(bundle, name=MODEL, version="1")
    running = start_in_thread(model, max_body=LIMIT, header_timeout=1.0, body_timeout=2.0)
    grpc_server, grpc_port = make_grpc_server(model, max_body=LIMIT)
    yield running.url, f"127.0.0.1:{grpc_port}"
    grpc_server.stop(grace=1).wait()
    running.stop()


def rows_request(n: int) -> dict:
    values = np.ones((n, 1), dtype=np.float32)
    return {
        "inputs": [
            {"name": f, "shape": [n, 1], "datatype": "FP32", "data": values.ravel().tolist()}
            for f in FEATURES
        ]
    }


def triton_inputs(module, n: int):
    inputs = []
    for feature in FEATURES:
        tensor = module.InferInput(feature, [n, 1], "FP32")
        tensor.set_data_from_numpy(np.ones((n, 1), dtype=np.float32))
        inputs.append(tensor)
    return inputs


def test_a_body_over_the_limit_is_a_413_every_client_reads(small):
    """40 MB against a limit of 200 kB: far more than the socket buffers hold, so a server that
    closed at once would reset the connection under a client still sending."""
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    url, _ = small
    big = b"x" * 40_000_000
    response = requests.post(f"{url}/v2/models/{MODEL}/infer", data=big, timeout=60)
    assert response.status_code == 413
    said = response.json()["error"]
    assert f"the request body is {len(big)} bytes, over the limit of {LIMIT} bytes" in said
    assert "b'" not in said

    client = httpclient.InferenceServerClient(url.removeprefix("http://"), network_timeout=60)
    with pytest.raises(InferenceServerException) as refused:  # not a connection reset
        client.infer(MODEL, triton_inputs(httpclient, 800_000))  # 41.6 MB of raw FP32
    assert refused.value.status() == "413", refused.value
    assert "over the limit" in refused.value.message()

    curl = subprocess.run(
        ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-H", "Content-Type: application/json",
         "--data-binary", "@-", f"{url}/v2/models/{MODEL}/infer"],
        input=big, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert curl.returncode == 0, curl.stderr
    assert curl.stdout.decode().rsplit("\n", 1)[1] == "413"
    # And the server goes on serving.
    assert requests.get(f"{url}/v2/health/ready", timeout=5).status_code == 200


def test_grpc_takes_what_rest_takes_and_refuses_what_rest_refuses(small):
    import grpc
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    url, grpc_url = small
    client = grpcclient.InferenceServerClient(grpc_url)
    # About 150 kB of raw FP32: under the limit, and over what gRPC's default of 4 MiB would
    # scale to at this limit's ratio; both transports answer it.
    fits = 2_800
    answered = client.infer(MODEL, triton_inputs(grpcclient, fits))
    assert answered.as_numpy("output").shape[0] == fits
    too_many = 8_000  # 416 kB: over the limit on both
    with pytest.raises(InferenceServerException) as refused:
        client.infer(MODEL, triton_inputs(grpcclient, too_many))
    assert refused.value.status() == str(grpc.StatusCode.RESOURCE_EXHAUSTED)
    response = requests.post(
        f"{url}/v2/models/{MODEL}/infer", data=json.dumps(rows_request(too_many)), timeout=30
    )
    assert response.status_code == 413


def test_the_default_limit_is_the_same_on_grpc_as_on_rest(bundle):
    """81,000 rows (4.2 MB of raw FP32, over gRPC's own 4 MiB default) go through both."""
    import tritonclient.grpc as grpcclient

    from jukebox.serving.grpc_server import make_grpc_server

    model = load_bundle_model(bundle, name=MODEL, version="1")
    server, port = make_grpc_server(model)
    try:
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
        answered = client.infer(MODEL, triton_inputs(grpcclient, 81_000))
        assert answered.as_numpy("output").shape == (81_000, 4)
    finally:
        server.stop(grace=1).wait()


def test_an_unknown_path_is_404_before_any_framing(url):
    """tritonclient's repository index is a POST without a body (no Content-Length)."""
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    with pytest.raises(InferenceServerException) as refused:
        client.get_model_repository_index()
    assert refused.value.status() == "404"
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=5) as raw:
        raw.sendall(b"POST /v2/models/jukebox/infer HTTP/1.1\r\nHost: x\r\n\r\n")
        assert raw.recv(4096).startswith(b"HTTP/1.1 400 ")  # the infer route needs a length


def test_data_null_beside_binary_data_is_binary_data(url):
    rows = np.full((2, 1), 0.5, dtype=np.float32)
    inputs, blobs = [], []
    for feature in FEATURES:
        blob = rows.tobytes()
        inputs.append(
            {"name": feature, "shape": [2, 1], "datatype": "FP32", "data": None,
             "parameters": {"binary_data_size": len(blob)}}
        )  # fmt: skip
        blobs.append(blob)
    header = json.dumps({"inputs": inputs}).encode()
    response = requests.post(
        f"{url}/v2/models/{MODEL}/infer",
        data=header + b"".join(blobs),
        headers={"Inference-Header-Content-Length": str(len(header))},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["shape"] == [2, 4]


def test_a_model_not_served_is_not_ready_as_triton_says_it(small):
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    url, grpc_url = small
    http = httpclient.InferenceServerClient(url.removeprefix("http://"))
    grpc_client = grpcclient.InferenceServerClient(grpc_url)
    for client in (http, grpc_client):
        assert client.is_model_ready(MODEL) is True
        assert client.is_model_ready(MODEL, "1") is True
        assert client.is_model_ready("nosuchmodel") is False  # no error: simply not ready
        assert client.is_model_ready(MODEL, "7") is False
    response = requests.get(f"{url}/v2/models/nosuchmodel/ready", timeout=5)
    assert response.status_code == 400 and "not ready" in response.json()["error"]


@pytest.mark.slow  # waits for the deadlines
@pytest.mark.parametrize("part", ["headers", "body"])
def test_a_client_trickling_its_request_is_cut_off_at_the_deadline(small, part):
    url, _ = small
    port = int(url.rsplit(":", 1)[1])
    head = b"POST /v2/models/jukebox/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        started = time.monotonic()
        if part == "body":
            raw.sendall(head)
            trickle = b"{" * 1000
        else:
            trickle = head
        answer = b""
        for byte in trickle:
            try:
                raw.sendall(bytes([byte]))
            except OSError:
                break
            raw.settimeout(0.3)
            try:
                answer += raw.recv(4096)
                break  # the answer, or the end of the connection
            except TimeoutError:
                assert time.monotonic() - started < 8, "never cut off"
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert f"{part} took more than".encode() in answer


@pytest.mark.slow  # a bounded run over every operation: some seconds
def test_the_servers_own_document_leads_a_generated_client_to_answers(bundle):
    """schemathesis from ``/v2/openapi.json`` of a server with a token: its example request
    and generated ones reach 200s (not only 400s), every answer's status is one the document
    names, and none is a server error."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import status_code_conformance

    model = load_bundle_model(bundle, name=MODEL, version="1")
    running = start_in_thread(model, token="own-document-token")
    try:
        document = requests.get(f"{running.url}/v2/openapi.json", timeout=5).json()
        assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        infer = document["paths"]["/v2/models/{model_name}/infer"]["post"]
        assert set(infer["responses"]) >= {"200", "400", "401", "404", "413"}
        items = infer["requestBody"]["content"]["application/json"]["schema"]["properties"]
        named = [i["properties"]["name"]["enum"][0] for i in items["inputs"]["items"]["oneOf"]]
        assert named == list(FEATURES)
        assert "503" in document["paths"]["/v2/health/ready"]["get"]["responses"]

        statuses: dict[str, set[int]] = {}
        auth = {"Authorization": "Bearer own-document-token"}

        def call(case) -> None:
            response = case.call(base_url=running.url, headers=auth, timeout=10)
            case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
            statuses.setdefault(case.operation.label, set()).add(response.status_code)

        def run(strategy, examples: int) -> None:
            @settings(
                max_examples=examples,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(strategy)
            def cases(case) -> None:
                call(case)

            cases()

        for result in schemathesis.openapi.from_dict(document).get_all_operations():
            operation = result.ok()
            for example in operation.get_strategies_from_examples():
                run(example, 1)
            run(operation.as_strategy(), 15)
        assert all(200 in seen for seen in statuses.values()), statuses
        assert len(statuses) == 9
        # Without the token the same client is told why.
        assert requests.get(f"{running.url}/v2", timeout=5).status_code == 401
    finally:
        running.stop()
