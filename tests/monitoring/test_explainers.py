"""TrustyAI's local explainers on the embedded monitoring service, called as a notebook calls
them: a real monitoring service, a real gRPC inference server logging into its payload log,
``requests`` with TrustyAI's request bodies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import requests
import tritonclient.grpc as grpcclient

from jukebox.data.schema import FEATURES
from jukebox.explain import explain_song, predictor_from_bundle
from jukebox.monitoring.client import upload_training
from jukebox.monitoring.explainers import (
    ExplainRequest,
    check_target,
    goal_of,
    parse_request,
    rows_per_grpc_call,
)
from jukebox.monitoring.payload_log import PayloadLog
from jukebox.monitoring.service import ApiError
from jukebox.serving.dataplane import DataPlane
from jukebox.serving.grpc_server import make_grpc_server
from jukebox.serving.runtime import load_bundle_model
from jukebox.serving.server import start_in_thread
from jukebox.serving.transport import DEFAULT_MAX_BODY
from tests.bundles import LABELS, make_tiny_bundle
from tests.monitoring.live import running_monitor

MODEL = "tiny"
TOKEN = "explain-token"
OUTPUTS = [f"output-{i}" for i in range(len(LABELS))]


def songs(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f: rng.uniform(0, 1, n) for f in FEATURES})
    frame["is_explicit"] = rng.integers(0, 2, n)
    frame["duration_ms"] = rng.integers(90_000, 300_000, n)
    frame["key"] = rng.integers(0, 12, n)
    frame["loudness"] = rng.uniform(-20, 0, n)
    frame["mode"] = rng.integers(0, 2, n)
    frame["tempo"] = rng.uniform(70, 180, n)
    return frame.loc[:, list(FEATURES)].astype(np.float32).astype(float)


def grpc_probabilities(address: str, rows: pd.DataFrame, request_id: str = "") -> np.ndarray:
    client = grpcclient.InferenceServerClient(address)
    try:
        inputs = []
        for feature in FEATURES:
            tensor = grpcclient.InferInput(feature, [len(rows), 1], "FP32")
            tensor.set_data_from_numpy(rows[[feature]].to_numpy(np.float32))
            inputs.append(tensor)
        answer = client.infer(MODEL, inputs, request_id=request_id)
        return answer.as_numpy("output").astype(np.float64)
    finally:
        client.close()


def body(prediction_id: str, target: str, **extra) -> dict:
    """A request as TrustyAI's Python client and notebooks write it."""
    return {
        "predictionId": prediction_id,
        "config": {
            "model": {"target": target, "name": MODEL, "version": "v1"},
            "explainer": {"n_samples": 100, "link": "IDENTITY", "timeout": 10},
        },
        **extra,
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A bundle with reference songs, a gRPC server for it logging into a live monitoring
    service's payload log, the reference uploaded as TRAINING and one song inferred."""
    home = tmp_path_factory.mktemp("home")
    reference = songs(60, seed=1)
    bundle = make_tiny_bundle(home / "bundle", reference=reference)
    log = PayloadLog(home / "monitoring")
    model = load_bundle_model(bundle.path, name=MODEL, version="1")
    plane = DataPlane(model, inference_logger=log)
    server, port = make_grpc_server(model, plane=plane)
    rest = start_in_thread(model, plane=plane)
    target = f"127.0.0.1:{port}"
    song = songs(1, seed=2)
    with running_monitor(home, TOKEN) as url:

        def predict(inputs):
            return grpc_probabilities(target, pd.DataFrame({k: v[:, 0] for k, v in inputs.items()}))

        upload_training(url, MODEL, reference.to_numpy(), FEATURES, predict, token=TOKEN)
        grpc_probabilities(target, song, request_id="why-1")
        log.flush()
        yield {
            "url": url,
            "target": target,
            "song": song.iloc[0].to_dict(),
            "reference": reference,
            "bundle": bundle.path,
            "rest": rest.url,
        }
    server.stop(grace=1).wait()
    rest.stop()
    log.close()


def post(world, path: str, payload, **kwargs) -> requests.Response:
    data = payload if isinstance(payload, str) else None
    return requests.post(
        world["url"] + path,
        json=None if data is not None else payload,
        data=data,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=120,
        **kwargs,
    )


@pytest.mark.slow
def test_shap_scores_are_the_exact_shapley_values_of_the_logged_inference(world):
    answer = post(world, "/explainers/local/shap", body("why-1", world["target"]))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["type"] == "explanation" and result["timestamp"]
    assert sorted(result["saliencies"]) == OUTPUTS

    predict = predictor_from_bundle(world["bundle"])
    expected = explain_song(predict, world["song"], world["reference"], list(LABELS))
    probabilities = predict(pd.DataFrame([world["song"]])).iloc[0]
    base = predict(world["reference"]).mean()
    for output, why in zip(OUTPUTS, expected, strict=True):
        saliency = result["saliencies"][output]
        assert [s["name"] for s in saliency] == list(FEATURES)
        scores = {s["name"]: s["score"] for s in saliency}
        for feature in FEATURES:
            assert scores[feature] == pytest.approx(why.contributions[feature], abs=1e-6)
        total = sum(scores.values())
        assert total == pytest.approx(probabilities[why.country] - base[why.country], abs=1e-5)


@pytest.mark.slow
def test_counterfactual_proposal_reaches_the_goal_on_the_served_model(world):
    before = grpc_probabilities(world["target"], pd.DataFrame([world["song"]]))[0]
    output = int(np.argsort(before)[-2])  # the second most likely country
    goal = round(float(before[output]) + 0.05, 3)
    answer = post(
        world,
        "/explainers/local/cf",
        body("why-1", world["target"], goals={f"output-{output}": str(goal)}),
    )
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["type"] == "explanation" and result["valid"] is True
    (outcome,) = result["outcomes"]
    assert sorted(outcome["outputs"]) == OUTPUTS
    assert float(outcome["outputs"][f"output-{output}"]) >= goal
    proposal = pd.DataFrame([outcome["inputs"]])[list(FEATURES)]
    assert (proposal.iloc[0] != pd.Series(world["song"])[list(FEATURES)]).any()
    after = grpc_probabilities(world["target"], proposal)[0]
    assert after[output] >= goal


@pytest.mark.slow
def test_over_rest_a_goal_may_name_the_country(world):
    before = grpc_probabilities(world["target"], pd.DataFrame([world["song"]]))[0]
    output = int(np.argsort(before)[-2])
    goal = round(float(before[output]) + 0.05, 3)
    payload = body("why-1", world["rest"], goals={LABELS[output].lower(): str(goal)})
    answer = post(world, "/explainers/local/cf", payload)
    assert answer.status_code == 200, answer.text
    (outcome,) = answer.json()["outcomes"]
    assert answer.json()["valid"] is True
    proposal = pd.DataFrame([outcome["inputs"]])[list(FEATURES)]
    assert grpc_probabilities(world["target"], proposal)[0][output] >= goal


@pytest.mark.slow
def test_unknown_prediction_and_bad_bodies_are_answered_as_trustyai_does(world):
    for path in ("/explainers/local/shap", "/explainers/local/cf"):
        missing = body("no-such-id", world["target"], goals={"output-0": "0.5"})
        answer = post(world, path, missing)
        assert answer.status_code == 404
        assert answer.text == "No prediction found with id=no-such-id"
        assert post(world, path, "{not json").status_code == 400
        assert post(world, path, {"predictionId": "why-1"}).status_code == 400
        far = body("why-1", "models.example.com:8081", goals={"output-0": "0.5"})
        answer = post(world, path, far)
        assert answer.status_code == 400 and "Invalid target URL" in answer.text
    no_goal = post(world, "/explainers/local/cf", body("why-1", world["target"]))
    assert no_goal.status_code == 400 and "goals" in no_goal.text
    bad_goal = body("why-1", world["target"], goals={"output-9": "0.5"})
    assert post(world, "/explainers/local/cf", bad_goal).status_code == 400


def test_targets_as_trustyai_accepts_them_and_the_loopback():
    for good in ("modelmesh-serving:8033", "http://jukebox:8080", "127.0.0.1:8081",
                 "http://localhost:8080", "my-model"):  # fmt: skip
        check_target(good)
    for bad in ("my-model.ns.svc.cluster.local:8033", "http://10.0.0.1:80", "a:99999", "a/b"):
        with pytest.raises(ApiError) as error:
            check_target(bad)
        assert error.value.status == 400


def test_request_parsing_and_goals():
    parsed = parse_request(body("x", "svc:8033", goals={"output-2": "0.3"}), counterfactual=True)
    assert parsed == ExplainRequest("x", MODEL, "svc:8033", "v1", {"output-2": "0.3"})
    for broken in (None, [], {"predictionId": "x"}, {"predictionId": "x", "config": {}}):
        with pytest.raises(ApiError):
            parse_request(broken)
    outputs, labels = tuple(OUTPUTS), LABELS
    assert goal_of({"output-2": "0.3"}, outputs, labels) == (2, 0.3)
    assert goal_of({"br": "0.4"}, outputs, labels) == (3, 0.4)
    for bad in ({"output-2": "1.5"}, {"output-2": "high"}, {"XX": "0.3"}, {}):
        with pytest.raises(ApiError):
            goal_of(bad, outputs, labels)


def test_grpc_batches_fit_the_servers_message_limit():
    rows = rows_per_grpc_call(13, 72)
    assert rows * 72 * 4 <= DEFAULT_MAX_BODY and rows * 13 * 4 <= DEFAULT_MAX_BODY
    assert rows > 10_000
