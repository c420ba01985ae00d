"""The binary tensor extension (Triton's and OVMS's), driven by tritonclient's own HTTP client
and by a request built by hand, against a server started on 127.0.0.1."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest
import requests
import tritonclient.http as httpclient

from jukebox.data.schema import FEATURES
from tests.serving.conftest import (
    LABELS,
    MODEL,
    expected_probabilities,
    song_rows,
    workshop_request,
)

INFER = f"/v2/models/{MODEL}/infer"


@pytest.fixture
def triton(url):
    client = httpclient.InferenceServerClient(url.removeprefix("http://"))
    yield client
    client.close()


def _inputs(rows: list[dict], binary: bool) -> list[httpclient.InferInput]:
    inputs = []
    for feature in FEATURES:
        tensor = httpclient.InferInput(feature, [len(rows), 1], "FP32")
        tensor.set_data_from_numpy(
            np.asarray([[r[feature]] for r in rows], np.float32), binary_data=binary
        )
        inputs.append(tensor)
    return inputs


def test_tritonclient_health_and_metadata(triton):
    assert triton.is_server_live()
    assert triton.is_server_ready()
    assert triton.is_model_ready(MODEL)
    metadata = triton.get_model_metadata(MODEL)
    assert [i["name"] for i in metadata["inputs"]] == list(FEATURES)


@pytest.mark.parametrize("binary_in", [True, False])
@pytest.mark.parametrize("binary_out", [True, False])
def test_tritonclient_infer_binary_and_json(triton, bundle, binary_in, binary_out):
    rows = song_rows(5, seed=3)
    outputs = [httpclient.InferRequestedOutput("output", binary_data=binary_out)]
    result = triton.infer(MODEL, _inputs(rows, binary_in), outputs=outputs, request_id="r1")
    probabilities = result.as_numpy("output")
    assert probabilities.dtype == np.float32
    assert probabilities.shape == (5, len(LABELS))
    np.testing.assert_allclose(probabilities, expected_probabilities(bundle, rows), atol=1e-5)
    output = result.get_output("output")
    assert ("binary_data_size" in output.get("parameters", {})) is binary_out
    assert result.get_response()["id"] == "r1"


def test_tritonclient_without_outputs_gets_every_output_in_binary(triton, bundle):
    """With no outputs named, tritonclient asks for ``binary_data_output``: all of them."""
    rows = song_rows(2, seed=4)
    result = triton.infer(MODEL, _inputs(rows, True))
    np.testing.assert_allclose(
        result.as_numpy("output"), expected_probabilities(bundle, rows), atol=1e-5
    )


def _hand_built(rows: list[dict]) -> tuple[bytes, int]:
    """A JSON header, then each input's little-endian FP32 bytes in the order of "inputs"."""
    header = {
        "inputs": [
            {
                "name": f,
                "shape": [len(rows), 1],
                "datatype": "FP32",
                "parameters": {"binary_data_size": 4 * len(rows)},
            }
            for f in FEATURES
        ],
        "outputs": [{"name": "output", "parameters": {"binary_data": True}}],
    }
    head = orjson.dumps(header)
    data = b"".join(struct.pack(f"<{len(rows)}f", *[r[f] for r in rows]) for f in FEATURES)
    return head + data, len(head)


def test_a_binary_request_built_by_hand(url, bundle):
    rows = song_rows(3, seed=5)
    body, length = _hand_built(rows)
    response = requests.post(
        url + INFER,
        data=body,
        headers={"Inference-Header-Content-Length": str(length)},
        timeout=5,
    )
    assert response.status_code == 200, response.text
    json_length = int(response.headers["Inference-Header-Content-Length"])
    head = orjson.loads(response.content[:json_length])
    (output,) = head["outputs"]
    assert output["parameters"]["binary_data_size"] == 4 * 3 * len(LABELS)
    assert "data" not in output
    values = np.frombuffer(response.content[json_length:], "<f4").reshape(output["shape"])
    np.testing.assert_allclose(values, expected_probabilities(bundle, rows), atol=1e-5)


def test_json_request_asking_binary_output_by_request_parameter(url, bundle):
    rows = song_rows(1, seed=6)
    request = workshop_request(rows, parameters={"binary_data_output": True})
    response = requests.post(url + INFER, json=request, timeout=5)
    assert response.status_code == 200, response.text
    json_length = int(response.headers["Inference-Header-Content-Length"])
    values = np.frombuffer(response.content[json_length:], "<f4")
    np.testing.assert_allclose(values, expected_probabilities(bundle, rows)[0], atol=1e-5)


BAD = {
    "no header": lambda b, n: (b, None, "Inference-Header-Content-Length"),
    "header not a size": lambda b, n: (b, "abc", "not a size"),
    "header beyond body": lambda b, n: (b, str(len(b) + 1), "only"),
    "bytes missing": lambda b, n: (b[:-4], str(n), "add up to"),
    "bytes left over": lambda b, n: (b + b"\0\0\0\0", str(n), "no input claims"),
    "size not matching shape": lambda b, n: (
        b.replace(b'"binary_data_size":8', b'"binary_data_size":4', 1),
        str(n),
        "needs",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_malformed_binary_request_is_400_with_a_sentence(url, case):
    rows = song_rows(2, seed=7)
    body, length = _hand_built(rows)
    data, header, words = BAD[case](body, length)
    headers = {"Inference-Header-Content-Length": header} if header is not None else {}
    response = requests.post(url + INFER, data=data, headers=headers, timeout=5)
    assert response.status_code == 400, response.text
    assert words.lower() in response.json()["error"].lower()
