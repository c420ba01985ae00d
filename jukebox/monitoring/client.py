"""Talking to a TrustyAI service, the real one or the embedded one, over its REST API.

The calls are the workshop's (``4-metrics/1-trustyai_setup.ipynb``): upload the training data
tagged ``TRAINING``, schedule meanshift on the 13 features, read ``/info``. The training payload
is built from a prepared training split (``jukebox.data.preparation.Prepared.x_train``) and the
model's predictions on it, exactly in the notebook's shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urljoin

import numpy as np
import requests

from jukebox.errors import JukeboxError

TRAINING_TAG = "TRAINING"
TIMEOUT = 60.0


class MonitoringError(JukeboxError, RuntimeError):
    """The monitoring service refused a call; the message carries its answer."""


def headers(token: str | None) -> dict[str, str]:
    out = {"Content-Type": "application/json"}
    if token:
        out["Authorization"] = f"Bearer {token}"
    return out


def training_payload(
    model_name: str,
    inputs: Mapping[str, np.ndarray],
    outputs: np.ndarray,
    *,
    output_name: str = "output",
    model_version: str = "1",
    tag: str = TRAINING_TAG,
) -> dict:
    """The notebook's ``training_data``: one FP32 input of shape ``[N]`` per feature, and the
    ``[N, k]`` output matrix as nested lists."""
    outputs = np.asarray(outputs, dtype=np.float32)
    return {
        "model_name": model_name,
        "data_tag": tag,
        "request": {
            "inputs": [
                {
                    "name": name,
                    "shape": [len(values)],
                    "datatype": "FP32",
                    "data": np.asarray(values, dtype=np.float32).reshape(-1).tolist(),
                }
                for name, values in inputs.items()
            ]
        },
        "response": {
            "model_name": model_name,
            "model_version": model_version,
            "outputs": [
                {
                    "name": output_name,
                    "datatype": "FP32",
                    "shape": list(outputs.shape),
                    "data": outputs.tolist(),
                }
            ],
        },
    }


def features_of(x: np.ndarray, features: Sequence[str]) -> dict[str, np.ndarray]:
    """Columns of a feature matrix (``Prepared.x_train``), named by ``features``."""
    x = np.asarray(x, dtype=np.float32)
    return {name: x[:, i] for i, name in enumerate(features)}


def _call(method: str, base_url: str, path: str, token: str | None, **kwargs) -> requests.Response:
    url = urljoin(base_url.rstrip("/") + "/", path.lstrip("/"))
    try:
        response = requests.request(method, url, headers=headers(token), timeout=TIMEOUT, **kwargs)
    except requests.RequestException as error:
        raise MonitoringError(
            f"The monitoring service at {base_url} cannot be reached: {error}"
        ) from error
    if response.status_code >= 400:
        raise MonitoringError(
            f"The monitoring service answered {response.status_code} to {method} {path}: "
            f"{response.text.strip()[:500]}"
        )
    return response


def upload(base_url: str, payload: dict, token: str | None = None) -> str:
    """``POST /data/upload``; returns the service's message."""
    return _call("POST", base_url, "data/upload", token, json=payload).text


def upload_training(
    base_url: str,
    model_name: str,
    x_train: np.ndarray,
    features: Sequence[str],
    predict,
    *,
    token: str | None = None,
    limit: int = 5000,
) -> str:
    """Upload the first ``limit`` training rows (5000, as the workshop) with ``predict``'s
    outputs for them (``predict(inputs: dict[str, [N,1] array]) -> [N, k] array``)."""
    x = np.asarray(x_train, dtype=np.float32)[:limit]
    columns = features_of(x, features)
    outputs = predict({name: values.reshape(-1, 1) for name, values in columns.items()})
    return upload(base_url, training_payload(model_name, columns, outputs), token)


def schedule_meanshift(
    base_url: str,
    model_name: str,
    fit_columns: Sequence[str],
    *,
    token: str | None = None,
    reference_tag: str = TRAINING_TAG,
    batch_size: int | None = None,
    threshold_delta: float | None = None,
    metric: str = "meanshift",
) -> str:
    """``POST /metrics/drift/<metric>/request``; returns the scheduled request's id."""
    body: dict = {
        "modelId": model_name,
        "referenceTag": reference_tag,
        "fitColumns": list(fit_columns),
    }
    if batch_size is not None:
        body["batchSize"] = batch_size
    if threshold_delta is not None:
        body["thresholdDelta"] = threshold_delta
    return _call("POST", base_url, f"metrics/drift/{metric}/request", token, json=body).json()[
        "requestId"
    ]


def drift_now(
    base_url: str, body: dict, *, token: str | None = None, metric: str = "meanshift"
) -> dict:
    """``POST /metrics/drift/<metric>``: one computation, TrustyAI's metric response."""
    return _call("POST", base_url, f"metrics/drift/{metric}", token, json=body).json()


def info(base_url: str, token: str | None = None) -> dict:
    """``GET /info``: per model, its data schema and scheduled metric counts."""
    return _call("GET", base_url, "info", token).json()


def tags(base_url: str, token: str | None = None) -> dict[str, dict[str, int]]:
    """``GET /info/tags``: per model, how many stored rows carry each data tag."""
    return _call("GET", base_url, "info/tags", token).json()


def scheduled(base_url: str, metric: str = "meanshift", token: str | None = None) -> list[dict]:
    """``GET /metrics/drift/<metric>/requests``: the scheduled requests, each ``{id, request}``."""
    return _call("GET", base_url, f"metrics/drift/{metric}/requests", token).json()["requests"]


def evaluate_now(base_url: str, token: str | None = None) -> list[dict]:
    """``POST /jukebox/evaluate``: the embedded service computes its scheduled metrics now (the
    real TrustyAI service has no such route: it computes on its own schedule)."""
    return _call("POST", base_url, "jukebox/evaluate", token).json()
