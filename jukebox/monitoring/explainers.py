"""TrustyAI's local explainers (``/explainers/local/shap`` and ``/explainers/local/cf``) over
the payload log and a served model.

As the TrustyAI service does it: the request names a logged inference (``predictionId``) and
where the model answers (``config.model.target``, ``name``); the explanation asks that model
about many made-up songs over the KServe v2 protocol and answers with TrustyAI's JSON. The
numbers are :mod:`jukebox.explain`'s: exact Shapley values (TrustyAI samples them with its
kernel SHAP, so its ``n_samples``, ``link``, ``regularizer``, ``confidence`` and
``track_counterfactuals`` are accepted and do not apply: scores are in probability, the
IDENTITY link, and ``confidence`` is 0 as nothing was sampled) and the bounded counterfactual
search of :func:`~jukebox.explain.find_counterfactual`.

Choices, where TrustyAI leaves room:

- **target**: ``host:port`` (TrustyAI's form) is reached over gRPC with tritonclient, as
  TrustyAI's ``KServeV2GRPCPredictionProvider`` does; ``http(s)://host:port`` over REST with
  :mod:`jukebox.serving.client`. The host must be a single-label name (a Kubernetes service
  in the namespace, TrustyAI's ``LocalServiceURLValidator``) or the loopback address, which
  is where local deployments listen. Rows go in batches that fit the servers' 64 MiB bodies.
- **outputs** are named as TrustyAI names the columns of an ``[N, k]`` tensor: ``output-0`` …
  ``output-{k-1}``. The country of each is read from the model's REST metadata
  (``parameters.labels``) when the target is ``http(s)://``; gRPC metadata carries no labels,
  so over gRPC only the output names are known. A goal may name a country when it is known.
- **background** (SHAP) and the feature domains (counterfactual): the model's reference rows
  (tag ``TRAINING``, what the workshop uploads) when there are some, else its organic rows
  (untagged) other than the one explained, as TrustyAI takes them; at most ``batch_size``.
- **goals** (counterfactual): TrustyAI searches for outputs *equal* to the goals; a country's
  probability is asked for *at least* a value, so ``{"output-3": "0.3"}`` means "the smallest
  change that makes output 3 reach 0.3" (:func:`find_counterfactual` with that output's
  country and target 0.3). One goal per request. ``valid`` says whether the proposal reaches
  it (TrustyAI's answer carries the field but never sets it), and each outcome carries the
  proposal's ``inputs`` beside TrustyAI's ``outputs``, since a counterfactual without the
  changed song is of little use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from jukebox.explain import ExplainError, Predictor, explain_song, find_counterfactual
from jukebox.monitoring.payload_log import ID, META_COLUMNS, TAG, read_log
from jukebox.monitoring.service import DEFAULT_BATCH_SIZE, ApiError
from jukebox.serving.transport import DEFAULT_MAX_BODY

SHAP_PATH = "/explainers/local/shap"
CF_PATH = "/explainers/local/cf"
REFERENCE_TAG = "TRAINING"
LOOPBACK = ("localhost", "127.0.0.1", "::1")
_TRUSTYAI_TARGET = re.compile(
    r"^(http|https)://[a-zA-Z0-9-]+(:[0-9]{1,5})?$|^[a-zA-Z0-9-]+(:[0-9]{1,5})?$"
)
GRPC_BYTES_PER_BATCH = DEFAULT_MAX_BODY // 2
"""What one gRPC message may hold (request or answer): half the servers' 64 MiB limit."""
REST_ROWS_PER_BATCH = 20_000
"""Rows per JSON request: about 13 × 20 characters a row, some 5 MB, well within 64 MiB."""
TIMEOUT = 120.0


@dataclass(frozen=True)
class ExplainRequest:
    """A TrustyAI explanation request, checked."""

    prediction_id: str
    model: str
    target: str
    version: str | None = None
    goals: dict[str, str] = field(default_factory=dict)


def _object(value: object, where: str) -> dict:
    if not isinstance(value, dict):
        raise ApiError(400, f"`{where}` must be a JSON object.")
    return value


def parse_request(body: object, *, counterfactual: bool = False) -> ExplainRequest:
    """``body`` as TrustyAI's ``SHAPExplanationRequest`` or ``CounterfactualExplanationRequest``;
    ApiError 400 with a sentence for what is missing or malformed."""
    body = _object(body, "the body")
    prediction_id = body.get("predictionId")
    if not isinstance(prediction_id, str) or not prediction_id:
        raise ApiError(400, "The request must name the inference to explain in `predictionId`.")
    config = _object(body.get("config"), "config")
    model = _object(config.get("model"), "config.model")
    name, target, version = model.get("name"), model.get("target"), model.get("version")
    if not isinstance(name, str) or not name:
        raise ApiError(400, "The request must name the model in `config.model.name`.")
    if not isinstance(target, str) or not target:
        raise ApiError(
            400, "The request must say where the model answers in `config.model.target`."
        )
    check_target(target)
    if "explainer" in config and config["explainer"] is not None:
        _object(config["explainer"], "config.explainer")
    goals: dict[str, str] = {}
    if counterfactual:
        raw = body.get("goals")
        if not isinstance(raw, dict) or not raw:
            raise ApiError(
                400,
                "The request must give `goals`, an output and the value it should reach: "
                '{"output-3": "0.3"}.',
            )
        goals = {str(k): str(v) for k, v in raw.items()}
    return ExplainRequest(prediction_id, name, target, str(version) if version else None, goals)


def check_target(target: str) -> None:
    """TrustyAI's rule for ``config.model.target`` (``[http[s]://]service[:port]``, a name
    without dots: a service in the namespace), or the same on the loopback address."""
    parts = urlsplit(target if "://" in target else f"grpc://{target}")
    try:
        host, _ = parts.hostname or "", parts.port
    except ValueError:  # a port that is no number or above 65535
        raise ApiError(400, f"Invalid target URL: {target}") from None
    if _TRUSTYAI_TARGET.match(target) and "." not in host:
        return
    if host in LOOPBACK and parts.scheme in ("grpc", "http", "https") and not parts.path.strip("/"):
        return
    raise ApiError(400, f"Invalid target URL: {target}")


# --- the model, reached at the target ----------------------------------------------------


def rows_per_grpc_call(n_features: int, n_outputs: int) -> int:
    """Rows per gRPC call so that neither the request (4 bytes per feature) nor the answer (4
    bytes per output) passes :data:`GRPC_BYTES_PER_BATCH`."""
    return max(1, GRPC_BYTES_PER_BATCH // (4 * max(n_features, n_outputs, 1)))


def grpc_run(
    address: str, model: str, features: tuple[str, ...], output: str, n_outputs: int, *,
    timeout: float = TIMEOUT,
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[], None]]:  # fmt: skip
    """A ``run`` for :class:`Predictor` that asks ``model`` at ``address`` over KServe v2 gRPC
    (one ``[N, 1]`` FP32 input per feature, as the design's models take them), and its close."""
    import tritonclient.grpc as grpcclient

    limit = DEFAULT_MAX_BODY
    client = grpcclient.InferenceServerClient(
        address,
        channel_args=[
            ("grpc.max_send_message_length", limit),
            ("grpc.max_receive_message_length", limit),
        ],
    )
    per_call = rows_per_grpc_call(len(features), n_outputs)
    wanted = [grpcclient.InferRequestedOutput(output)]

    def call(rows: np.ndarray) -> np.ndarray:
        inputs = []
        for i, name in enumerate(features):
            tensor = grpcclient.InferInput(name, [len(rows), 1], "FP32")
            tensor.set_data_from_numpy(np.ascontiguousarray(rows[:, i : i + 1], dtype=np.float32))
            inputs.append(tensor)
        try:
            answer = client.infer(model, inputs, outputs=wanted, client_timeout=timeout)
        except Exception as error:  # tritonclient's InferenceServerException and gRPC's own
            raise ExplainError(f"the model {model} at {address} did not answer: {error}") from error
        return np.asarray(answer.as_numpy(output), dtype=np.float64).reshape(len(rows), -1)

    def run(rows: np.ndarray) -> np.ndarray:
        return np.concatenate([call(rows[i : i + per_call]) for i in range(0, len(rows), per_call)])

    return run, client.close


def rest_run(
    endpoint: str, model: str, features: tuple[str, ...], labels: tuple[str, ...], *,
    timeout: float = TIMEOUT,
) -> Callable[[np.ndarray], np.ndarray]:  # fmt: skip
    """A ``run`` that asks ``model`` at ``endpoint`` over KServe v2 REST (JSON)."""
    from jukebox.serving.client import ServingError, infer

    def call(rows: np.ndarray) -> np.ndarray:
        frame = pd.DataFrame(rows.astype(np.float32), columns=list(features))
        try:
            result = infer(
                endpoint, model, frame, labels=labels, features=features, timeout=timeout
            )
        except ServingError as error:
            raise ExplainError(
                f"the model {model} at {endpoint} did not answer: {error}"
            ) from error
        return result.probabilities.to_numpy(np.float64)

    def run(rows: np.ndarray) -> np.ndarray:
        step = REST_ROWS_PER_BATCH
        return np.concatenate([call(rows[i : i + step]) for i in range(0, len(rows), step)])

    return run


def rest_labels(endpoint: str, model: str, n_outputs: int) -> tuple[str, ...] | None:
    """The country of each output from the model's REST metadata, when it says them."""
    from jukebox.serving.client import ServingError, model_metadata

    try:
        labels = (model_metadata(endpoint, model).get("parameters") or {}).get("labels")
    except ServingError:
        return None
    if (
        isinstance(labels, list)
        and len(labels) == n_outputs
        and all(isinstance(x, str) for x in labels)
    ):
        return tuple(labels)
    return None


@dataclass
class TargetModel:
    """The predictor over the target, the names of its outputs in the log, and the close."""

    predict: Predictor
    outputs: tuple[str, ...]
    close: Callable[[], None] = lambda: None


def target_model(
    request: ExplainRequest, features: tuple[str, ...], outputs: tuple[str, ...]
) -> TargetModel:
    """The model at ``request.target`` as a :class:`Predictor`. Its labels are the countries
    when the REST metadata says them, else the output indices ("0", "1", …: what the serving
    client shows when it knows no labels)."""
    tensor = output_tensor(outputs)
    if request.target.startswith(("http://", "https://")):
        labels = rest_labels(request.target, request.model, len(outputs))
        labels = labels or tuple(str(i) for i in range(len(outputs)))
        run = rest_run(request.target, request.model, features, labels)
        return TargetModel(Predictor(run=run, labels=labels, features=features), outputs)
    run, close = grpc_run(request.target, request.model, features, tensor, len(outputs))
    labels = tuple(str(i) for i in range(len(outputs)))
    return TargetModel(Predictor(run=run, labels=labels, features=features), outputs, close)


def output_tensor(outputs: tuple[str, ...]) -> str:
    """The tensor the output columns come from: ``output`` for ``output-0``, ``output-1``…"""
    if len(outputs) == 1:
        return outputs[0]
    return outputs[0].rsplit("-", 1)[0]


# --- the logged inference and its background ------------------------------------------------


@dataclass(frozen=True)
class Logged:
    """The explained inference (features by name) and the rows it is compared with."""

    song: dict[str, float]
    features: tuple[str, ...]
    outputs: tuple[str, ...]
    background: pd.DataFrame


def output_columns(root: Path, model: str, columns: list[str]) -> list[str]:
    """The output columns of ``model``'s log (``outputs.json`` when the service wrote it)."""
    import json

    try:
        known = set(json.loads((Path(root) / model / "outputs.json").read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        known = {c for c in columns if c.startswith("output")}
    found = [c for c in columns if c in known]

    def index(name: str) -> tuple[str, int]:
        head, _, tail = name.rpartition("-")
        return (head, int(tail)) if tail.isdigit() else (name, -1)

    return sorted(found, key=index)


def logged_inference(root: Path, request: ExplainRequest, batch_size: int) -> Logged:
    """The inference ``request.prediction_id`` of ``request.model`` and its background: 404
    "No prediction found with id=…" as TrustyAI answers when the log has no such row."""
    frame = read_log(root, request.model)
    rows = frame[frame[ID] == request.prediction_id] if len(frame) else frame
    if len(rows) == 0:
        raise ApiError(404, f"No prediction found with id={request.prediction_id}")
    if len(rows) > 1:
        raise ApiError(400, f"Found {len(rows)} predictions with id={request.prediction_id}")
    columns = [c for c in frame.columns if c not in META_COLUMNS]
    outputs = tuple(output_columns(root, request.model, columns))
    features = tuple(c for c in columns if c not in outputs)
    if not outputs or not features:
        raise ApiError(400, f"The log of {request.model} holds no inputs and outputs to explain.")
    row = rows.iloc[0]
    values = row[list(features)].astype(float)
    if values.isna().any():
        raise ApiError(400, f"The inference id={request.prediction_id} lacks input values.")
    song = {f: float(values[f]) for f in features}
    reference = frame[frame[TAG] == REFERENCE_TAG]
    if len(reference) == 0:
        organic = frame[(frame[TAG].fillna("") == "") & (frame[ID] != request.prediction_id)]
        reference = organic.iloc[-batch_size:]
    background = reference[list(features)].astype(float).dropna()
    if len(background) == 0:
        raise ApiError(
            400,
            f"There are no other inferences of {request.model} to compare id="
            f"{request.prediction_id} with: upload its training rows tagged {REFERENCE_TAG}.",
        )
    return Logged(song, features, outputs, background.reset_index(drop=True))


# --- the answers ------------------------------------------------------------------------------


def java_timestamp(when: datetime | None = None) -> str:
    """A ``java.util.Date`` as Quarkus's Jackson writes it: ISO 8601, milliseconds, offset."""
    when = when or datetime.now(UTC)
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


def saliency_response(scores: Mapping[str, Mapping[str, float]]) -> dict:
    """TrustyAI's ``SaliencyExplanationResponse``: per output, each feature's score."""
    return {
        "timestamp": java_timestamp(),
        "type": "explanation",
        "saliencies": {
            output: [
                {"name": f, "score": float(s), "confidence": 0.0} for f, s in by_feature.items()
            ]
            for output, by_feature in scores.items()
        },
    }


def shap_explanation(
    root: Path,
    body: object,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    connect: Callable[[ExplainRequest, tuple, tuple], TargetModel] = target_model,
) -> dict:
    """``POST /explainers/local/shap``: the saliencies of every output of one logged inference."""
    request = parse_request(body)
    logged = logged_inference(root, request, batch_size)
    model = connect(request, logged.features, logged.outputs)
    try:
        predict = model.predict
        why = explain_song(
            predict, logged.song, logged.background, list(predict.labels), max_background=batch_size
        )
    except ExplainError as error:
        raise ApiError(500, str(error)) from error
    finally:
        model.close()
    by_label = {a.country: a.contributions for a in why}
    return saliency_response(
        {name: by_label[label] for name, label in zip(model.outputs, predict.labels, strict=True)}
    )


def goal_of(
    goals: Mapping[str, str], outputs: tuple[str, ...], labels: tuple[str, ...]
) -> tuple[int, float]:
    """The output index and the probability a counterfactual's ``goals`` ask for; a goal names
    an output (``output-3``) or, when the model says them, its country (``TR``)."""
    if len(goals) != 1:
        raise ApiError(
            400, f"Give one goal (an output and the probability it should reach), not {len(goals)}."
        )
    ((name, value),) = goals.items()
    if name in outputs:
        index = outputs.index(name)
    elif name.strip().upper() in labels and not name.strip().isdigit():
        index = labels.index(name.strip().upper())
    else:
        raise ApiError(
            400,
            f"The goal names {name!r}, which is not an output of the model: {', '.join(outputs)}.",
        )
    try:
        target = float(value)
    except ValueError:
        target = math.nan
    if not 0.0 < target < 1.0:
        raise ApiError(400, f"The goal of {name} is a probability between 0 and 1, not {value!r}.")
    return index, target


def counterfactual_response(
    outputs: tuple[str, ...], probabilities: np.ndarray, proposal: Mapping[str, float], valid: bool
) -> dict:
    """TrustyAI's ``CounterfactualExplanationResponse``, with the proposal's ``inputs``."""
    return {
        "timestamp": java_timestamp(),
        "type": "explanation",
        "valid": bool(valid),
        "outcomes": [
            {
                "outputs": {o: repr(float(p)) for o, p in zip(outputs, probabilities, strict=True)},
                "inputs": {f: float(v) for f, v in proposal.items()},
            }
        ],
    }


def counterfactual_explanation(
    root: Path,
    body: object,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    connect: Callable[[ExplainRequest, tuple, tuple], TargetModel] = target_model,
) -> dict:
    """``POST /explainers/local/cf``: the smallest change to a logged inference's song that
    makes the goal's output reach the goal's value."""
    request = parse_request(body, counterfactual=True)
    logged = logged_inference(root, request, batch_size)
    model = connect(request, logged.features, logged.outputs)
    try:
        predict = model.predict
        index, target = goal_of(request.goals, model.outputs, predict.labels)
        allowed = [f for f in predict.features if f != "is_explicit"] or list(predict.features)
        cf = find_counterfactual(
            predict, logged.song, predict.labels[index], target, logged.background, allowed
        )
        row = np.array([[cf.proposal[f] for f in predict.features]])
        probabilities = predict.probabilities(row)[0]
    except ExplainError as error:
        raise ApiError(500, str(error)) from error
    finally:
        model.close()
    return counterfactual_response(model.outputs, probabilities, cf.proposal, cf.reached)
