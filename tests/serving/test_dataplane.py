"""The data plane's logger hook, as the payload log will rely on it: one record per answered
inference, REST or gRPC alike, with the request's id (or a new one), the served version and the
arrays that went in and came out; nothing for a refused request; and a logger that raises never
costs a client its answer."""

from __future__ import annotations

import numpy as np
import pytest
import requests
import tritonclient.grpc as grpcclient

from jukebox.data.schema import FEATURES
from jukebox.serving.dataplane import DataPlane
from jukebox.serving.grpc_server import make_grpc_server
from jukebox.serving.inference_log import InferenceRecord
from jukebox.serving.runtime import load_bundle_model
from jukebox.serving.server import start_in_thread
from tests.serving.conftest import (
    LABELS,
    MODEL,
    expected_probabilities,
    song_rows,
    workshop_request,
)


@pytest.fixture
def model(bundle):
    return load_bundle_model(bundle, name=MODEL, version="3")


def test_each_answered_rest_inference_is_handed_to_the_logger(model, bundle):
    records: list[InferenceRecord] = []
    running = start_in_thread(model, inference_logger=records.append)
    try:
        rows = song_rows(3, seed=4)
        url = f"{running.url}/v2/models/{MODEL}/infer"
        first = requests.post(url, json=workshop_request(rows, id="client-7"), timeout=10)
        second = requests.post(url, json=workshop_request(rows[:1]), timeout=10)
        refused = requests.post(url, json={"inputs": []}, timeout=10)
    finally:
        running.stop()
    assert (first.status_code, second.status_code, refused.status_code) == (200, 200, 400)
    assert len(records) == 2  # the refused request is not a record
    record = records[0]
    assert record.request_id == "client-7"
    assert (record.model, record.version, record.protocol) == (MODEL, "3", "REST")
    assert list(record.inputs) == list(FEATURES)
    assert record.inputs["tempo"].shape == (3, 1)
    np.testing.assert_allclose(record.inputs["tempo"][:, 0], [r["tempo"] for r in rows], rtol=1e-6)
    assert record.outputs["output"].shape == (3, len(LABELS))
    np.testing.assert_allclose(
        record.outputs["output"], expected_probabilities(bundle, rows), atol=1e-5
    )
    assert records[1].request_id and records[1].request_id != "client-7"  # made up when none
    assert record.time > 0


def test_grpc_inferences_reach_the_same_logger_through_the_shared_plane(model):
    records: list[InferenceRecord] = []
    plane = DataPlane(model, inference_logger=records.append)
    rest = start_in_thread(model, plane=plane)
    server, port = make_grpc_server(model, plane=plane)
    try:
        client = grpcclient.InferenceServerClient(f"127.0.0.1:{port}")
        inputs = []
        for feature in FEATURES:
            tensor = grpcclient.InferInput(feature, [2, 1], "FP32")
            tensor.set_data_from_numpy(np.full((2, 1), 0.5, np.float32))
            inputs.append(tensor)
        client.infer(MODEL, inputs, request_id="g-1")
        client.infer(MODEL, inputs)
        client.close()
        requests.post(
            f"{rest.url}/v2/models/{MODEL}/infer", json=workshop_request(song_rows(1)), timeout=10
        ).raise_for_status()
    finally:
        server.stop(grace=1).wait()
        rest.stop()
    assert [r.protocol for r in records] == ["gRPC", "gRPC", "REST"]
    assert records[0].request_id == "g-1" and records[1].request_id
    assert records[0].outputs["output"].shape == (2, len(LABELS))
    assert records[0].version == "3"


def test_a_logger_that_raises_costs_no_answer(model, capsys):
    calls = []

    def broken(record: InferenceRecord) -> None:
        calls.append(record)
        raise OSError("disk full")

    running = start_in_thread(model, inference_logger=broken)
    try:
        url = f"{running.url}/v2/models/{MODEL}/infer"
        answers = [
            requests.post(url, json=workshop_request(song_rows(1, seed=i)), timeout=10)
            for i in range(3)
        ]
    finally:
        running.stop()
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len(answers[0].json()["outputs"][0]["data"]) == len(LABELS)
    assert len(calls) == 3 and running.plane.logger_failures == 3
    said = capsys.readouterr().err
    assert said.count("inference logger failed") == 1 and "disk full" in said
