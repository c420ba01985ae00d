"""The gRPC form of the protocol (``inference.GRPCInferenceService``), driven by tritonclient's
gRPC client against a server started on 127.0.0.1 beside the REST one."""

from __future__ import annotations

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from jukebox.data.schema import FEATURES
from jukebox.serving.grpc_server import make_grpc_server
from jukebox.serving.runtime import load_bundle_model
from tests.serving.conftest import LABELS, MODEL, expected_probabilities, song_rows


@pytest.fixture(scope="module")
def grpc_url(bundle):
    server, port = make_grpc_server(load_bundle_model(bundle, name=MODEL, version="1"))
    yield f"127.0.0.1:{port}"
    server.stop(grace=1).wait()


@pytest.fixture
def client(grpc_url):
    client = grpcclient.InferenceServerClient(grpc_url)
    yield client
    client.close()


def _inputs(rows: list[dict]) -> list[grpcclient.InferInput]:
    inputs = []
    for feature in FEATURES:
        tensor = grpcclient.InferInput(feature, [len(rows), 1], "FP32")
        tensor.set_data_from_numpy(np.asarray([[r[feature]] for r in rows], np.float32))
        inputs.append(tensor)
    return inputs


def test_server_live_ready_and_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(MODEL)
    assert client.is_model_ready(MODEL, "1")
    metadata = client.get_model_metadata(MODEL, as_json=True)
    assert metadata["name"] == MODEL and metadata["versions"] == ["1"]
    assert [i["name"] for i in metadata["inputs"]] == list(FEATURES)
    assert metadata["outputs"][0]["shape"] == ["-1", str(len(LABELS))]


def test_infer_gives_what_onnxruntime_gives(client, bundle):
    rows = song_rows(4, seed=8)
    outputs = [grpcclient.InferRequestedOutput("output")]
    result = client.infer(MODEL, _inputs(rows), outputs=outputs, request_id="g1")
    probabilities = result.as_numpy("output")
    assert probabilities.shape == (4, len(LABELS))
    np.testing.assert_allclose(probabilities, expected_probabilities(bundle, rows), atol=1e-5)
    assert result.get_response().id == "g1"


def test_another_model_is_not_found_and_a_bad_request_is_invalid(client):
    with pytest.raises(InferenceServerException, match="not served here") as error:
        client.get_model_metadata("other")
    assert "NOT_FOUND" in str(error.value.status())
    inputs = _inputs(song_rows(1))[:-1]
    with pytest.raises(InferenceServerException, match="missing input") as error:
        client.infer(MODEL, inputs)
    assert "INVALID_ARGUMENT" in str(error.value.status())


def test_with_a_token_only_the_health_checks_are_open(bundle):
    """A server started with a token asks gRPC calls for it as REST does, so ``--grpc-port`` is
    no way around ``--token``."""
    server, port = make_grpc_server(load_bundle_model(bundle, name=MODEL), token="s3cret")
    client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
    try:
        assert client.is_server_live() and client.is_server_ready()
        for headers, said in [
            (None, "needs a bearer token"),
            ({"authorization": "Bearer no"}, "token is wrong"),
        ]:
            with pytest.raises(InferenceServerException, match=said) as error:
                client.infer(MODEL, _inputs(song_rows(1)), headers=headers)
            assert "UNAUTHENTICATED" in str(error.value.status())
            with pytest.raises(InferenceServerException, match=said):
                client.get_model_metadata(MODEL, headers=headers)
        result = client.infer(
            MODEL, _inputs(song_rows(2)), headers={"authorization": "Bearer s3cret"}
        )
        assert result.as_numpy("output").shape == (2, len(LABELS))
    finally:
        client.close()
        server.stop(grace=1).wait()


@pytest.mark.slow
def test_the_command_line_serves_rest_and_grpc_from_one_process(bundle, tmp_path):
    """``python -m jukebox serve --bundle DIR --port P --grpc-port G``, as scripts run it."""
    import os
    import subprocess
    import sys

    import requests

    from tests.ports import free_port

    port, grpc_port = free_port(), free_port()
    env = {**os.environ, "JUKEBOX_HOME": str(tmp_path / "home")}
    command = [sys.executable, "-m", "jukebox", "serve", "--bundle", str(bundle.path)]
    command += ["--port", str(port), "--grpc-port", str(grpc_port)]
    command += ["--job-dir", str(tmp_path / "job")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        lines = [process.stdout.readline(), process.stdout.readline()]
        assert f":{grpc_port}" in lines[1], lines
        rest = requests.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=5)
        assert rest.json() == {"ready": True}
        from jukebox.jobs import read_status

        assert read_status(tmp_path / "job")["grpc_port"] == grpc_port  # what the Deploy page reads
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{grpc_port}")
        assert client.is_server_ready()
        result = client.infer(MODEL, _inputs(song_rows(1)))
        assert result.as_numpy("output").shape == (1, len(LABELS))
        client.close()
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
