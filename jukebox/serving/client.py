"""A client of the Open Inference Protocol v2 (REST), for this project's server, KServe and OVMS.

A song goes out as the workshop's request: one input per feature, named by the feature,
``FP32``, shape ``[N, 1]``, data flat. The answer comes back as a probability per row and country.

Where the country labels come from, in this order:

1. ``labels=`` given by the caller: the ``labels`` of the version's ``preprocessing.json``
   (registry or bundle), the authoritative source, since it is the file training wrote;
2. the model metadata's ``parameters.labels``, which the Jukebox server adds (an extension; OVMS
   and KServe do not send it, and clients that do not know it ignore it);
3. otherwise the output's column indices (``"0"``, ``"1"``…), so a pasted URL of a foreign model
   still shows its answer.

The client sends the rows it is given and nothing else: models of this project scale raw values
inside their graph, and a model from elsewhere that wants scaled inputs gets them scaled by
:meth:`jukebox.data.preprocessing.Preprocessing.scale` before they reach the client.

Every failure becomes a :class:`ServingError` whose message is one sentence a person can act on.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import requests

from jukebox.data.schema import FEATURES
from jukebox.errors import JukeboxError

Rows = pd.DataFrame | Sequence[Mapping[str, float]] | Mapping[str, float]


class ServingError(JukeboxError, RuntimeError):
    """An inference server could not answer, or refused; ``status`` is its HTTP status if any."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class InferenceResult:
    """Probabilities per row (columns: labels in output order) and the exact JSON exchanged."""

    probabilities: pd.DataFrame
    labels: tuple[str, ...]
    labels_source: str
    model_name: str
    model_version: str | None
    request: dict
    response: dict
    elapsed_ms: float
    notes: list[str] = field(default_factory=list)


# --- endpoints ----------------------------------------------------------------------------------


_HOST = re.compile(r"[A-Za-z0-9._-]+|[0-9A-Fa-f:.]+")
"""A host name or an IP address: what "not a url at all" is not (spaces, punctuation)."""


def _port_ok(parts) -> bool:
    try:
        parts.port  # noqa: B018 - reading it checks it: urllib raises on a port that is no number
    except ValueError:
        return False
    return True


def base_url(endpoint: str) -> str:
    """``http://host:port`` from what a person pastes (also accepts a trailing ``/v2/...``)."""
    endpoint = (endpoint or "").strip()
    if not endpoint:
        raise ServingError("No endpoint given: paste the server's URL, e.g. http://127.0.0.1:8080.")
    if "://" not in endpoint:
        endpoint = "http://" + endpoint
    parts = urlsplit(endpoint)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not _HOST.fullmatch(parts.hostname)
        or not _port_ok(parts)
    ):
        raise ServingError(
            f"{endpoint!r} is not a server URL: write it like http://127.0.0.1:8080 or "
            "https://my-model.apps.example.com."
        )
    path = parts.path
    if "/v2" in path:
        path = path[: path.index("/v2")]
    return f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}"


def split_model_url(url: str) -> tuple[str, str | None, str | None]:
    """``(base, model, version)`` from a pasted URL such as
    ``https://host/v2/models/jukebox/versions/3/infer``; model and version are None if absent."""
    base = base_url(url)
    path = urlsplit(url if "://" in url else "http://" + url).path
    parts = [p for p in path.split("/") if p]
    model = version = None
    if "models" in parts:
        at = parts.index("models")
        model = parts[at + 1] if len(parts) > at + 1 else None
        if len(parts) > at + 3 and parts[at + 2] == "versions":
            version = parts[at + 3]
    return base, model, version


def model_path(model_name: str, version: str | None = None) -> str:
    path = f"/v2/models/{model_name}"
    return f"{path}/versions/{version}" if version else path


_local = threading.local()


def _session() -> requests.Session:
    # One keep-alive session per thread: requests.Session is not safe to share across threads.
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def _headers(token: str | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _call(
    method: str,
    endpoint: str,
    path: str,
    *,
    token: str | None,
    timeout: float,
    body: bytes | None = None,
    what: str = "the request",
) -> requests.Response:
    url = base_url(endpoint) + path
    try:
        response = _session().request(
            method, url, data=body, headers=_headers(token), timeout=timeout
        )
    except requests.exceptions.Timeout:
        raise ServingError(
            f"{base_url(endpoint)} did not answer {what} within {timeout:g} s: the server is "
            "busy or stuck; try again, or send fewer rows."
        ) from None
    except requests.exceptions.ConnectionError:
        raise ServingError(
            f"Nothing answers at {base_url(endpoint)}: the server is not running or the address "
            "is wrong (check the host and port, or start the deployment again)."
        ) from None
    except requests.exceptions.RequestException as error:
        raise ServingError(f"Cannot send {what} to {url}: {error}") from None
    if response.status_code >= 400:
        raise _error_for(response, endpoint, path)
    return response


def _error_for(response: requests.Response, endpoint: str, path: str) -> ServingError:
    status = response.status_code
    try:
        detail = str(response.json().get("error", "")) or response.text[:300]
    except (ValueError, AttributeError):
        detail = response.text[:300]
    detail = detail.strip()
    where = base_url(endpoint)
    if status in (401, 403):
        message = (
            f"The server at {where} refused the request (HTTP {status}): it needs a token, or the "
            "token is wrong; enter the deployment's token."
        )
    elif status == 404:
        message = f"The server at {where} has no such model ({path}): {detail or 'not found'}."
    elif status == 400:
        message = f"The server rejected the request: {detail}"
    elif status == 413:
        message = "The request is too large for the server: send fewer rows per request."
    else:
        message = f"The server at {where} failed (HTTP {status}): {detail or response.reason}"
    return ServingError(message, status)


# --- requests -----------------------------------------------------------------------------------


def rows_frame(rows: Rows, features: Sequence[str] = FEATURES) -> pd.DataFrame:
    """Feature rows as a float DataFrame with exactly ``features`` as columns, in order.

    A frame that already is one (float columns ``features``, every value finite) is returned as
    it is, so a prediction builds its request frame once however many hands it passes through.
    """
    if _is_request_frame(rows, features):
        return rows  # type: ignore[return-value]
    if isinstance(rows, Mapping):
        rows = [rows]
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if frame.empty:
        raise ServingError("There is no song to send: give at least one row of features.")
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise ServingError("The rows lack the feature(s) " + ", ".join(missing) + ".")
    columns = {}
    for feature in features:
        values = pd.to_numeric(frame[feature], errors="coerce").to_numpy(dtype="float64")
        bad = ~np.isfinite(values)
        if bad.any():
            raise ServingError(
                f"Feature {feature} must be a number in every row (row {frame.index[bad][0]} "
                f"holds {frame[feature][bad].iloc[0]!r})."
            )
        columns[feature] = values
    # Built in one go: inserting columns one by one costs far more than the request itself.
    return pd.DataFrame(columns, index=frame.index)


def _is_request_frame(rows: Rows, features: Sequence[str]) -> bool:
    if not isinstance(rows, pd.DataFrame) or rows.empty or list(rows.columns) != list(features):
        return False
    if not all(dtype == np.float64 for dtype in rows.dtypes):
        return False
    return bool(np.isfinite(rows.to_numpy()).all())


def build_request(
    rows: Rows,
    features: Sequence[str] = FEATURES,
    *,
    request_id: str | None = None,
    parameters: Mapping | None = None,
) -> dict:
    """The v2 request body: one ``FP32`` ``[N, 1]`` input per feature, flat data."""
    return _request_body(rows_frame(rows, features), features, request_id, parameters)


def _request_body(
    frame: pd.DataFrame,
    features: Sequence[str],
    request_id: str | None = None,
    parameters: Mapping | None = None,
) -> dict:
    n = len(frame)
    body: dict = {}
    if request_id is not None:
        body["id"] = request_id
    if parameters:
        body["parameters"] = dict(parameters)
    body["inputs"] = [
        {"name": f, "shape": [n, 1], "datatype": "FP32", "data": frame[f].tolist()}
        for f in features
    ]
    return body


# --- calls --------------------------------------------------------------------------------------


def server_ready(
    endpoint: str,
    model_name: str | None = None,
    *,
    version: str | None = None,
    token: str | None = None,
    timeout: float = 2.0,
) -> bool:
    """True when the server (or, given a name, that model) answers ready; never raises."""
    path = model_path(model_name, version) + "/ready" if model_name else "/v2/health/ready"
    try:
        _call("GET", endpoint, path, token=token, timeout=timeout, what="the readiness check")
    except ServingError:
        return False
    return True


def model_metadata(
    endpoint: str,
    model_name: str,
    *,
    version: str | None = None,
    token: str | None = None,
    timeout: float = 5.0,
) -> dict:
    """The model metadata (name, versions, platform, inputs, outputs)."""
    response = _call(
        "GET",
        endpoint,
        model_path(model_name, version),
        token=token,
        timeout=timeout,
        what="the metadata request",
    )
    return _json(response)


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise ServingError(
            f"The answer of {response.url} is not JSON: is this an Open Inference Protocol server?"
        ) from None
    if not isinstance(body, dict):
        raise ServingError(f"The answer of {response.url} is not a JSON object.")
    return body


def infer(
    endpoint: str,
    model_name: str,
    rows: Rows,
    *,
    version: str | None = None,
    token: str | None = None,
    timeout: float = 5.0,
    labels: Sequence[str] | None = None,
    features: Sequence[str] = FEATURES,
    request_id: str | None = None,
) -> InferenceResult:
    """Send feature rows to a v2 model and return its probabilities, labelled.

    ``labels``: the country codes in output order, when the caller knows them (from the
    version's ``preprocessing.json``); otherwise they are asked from the model's metadata,
    and failing that the output indices stand in.
    """
    frame = rows_frame(rows, features)
    body = _request_body(frame, features, request_id)
    started = time.perf_counter()
    response = _call(
        "POST",
        endpoint,
        model_path(model_name, version) + "/infer",
        token=token,
        timeout=timeout,
        body=json.dumps(body).encode(),
        what="the inference request",
    )
    elapsed_ms = (time.perf_counter() - started) * 1000
    answer = _json(response)
    matrix, output_name = _output_matrix(answer, len(frame))
    notes: list[str] = []
    labels_source = "given"
    if labels is None:
        labels, labels_source = _labels_from_metadata(endpoint, model_name, version, token, timeout)
    if labels is not None and len(labels) != matrix.shape[1]:
        notes.append(
            f"The model answers {matrix.shape[1]} values per row but {len(labels)} labels are "
            "known, so output indices are shown instead."
        )
        labels = None
    if labels is None:
        labels, labels_source = tuple(str(i) for i in range(matrix.shape[1])), "indices"
    probabilities = pd.DataFrame(matrix, index=frame.index, columns=list(labels))
    return InferenceResult(
        probabilities=probabilities,
        labels=tuple(labels),
        labels_source=labels_source,
        model_name=str(answer.get("model_name", model_name)),
        model_version=answer.get("model_version"),
        request=body,
        response=answer,
        elapsed_ms=elapsed_ms,
        notes=notes,
    )


def _output_matrix(answer: dict, n_rows: int) -> tuple[np.ndarray, str]:
    outputs = answer.get("outputs")
    if not isinstance(outputs, list) or not outputs:
        raise ServingError("The server's answer has no outputs.")
    output = next((o for o in outputs if o.get("name") == "output"), outputs[0])
    try:
        data = np.asarray(output["data"], dtype="float64").ravel()
        shape = [int(d) for d in output.get("shape", [n_rows, -1])]
    except (KeyError, TypeError, ValueError):
        raise ServingError(
            f"The server's output {output.get('name')!r} does not hold numbers."
        ) from None
    columns = shape[-1] if len(shape) >= 2 and shape[-1] > 0 else data.size // max(n_rows, 1)
    if columns == 0 or data.size != n_rows * columns or (shape and shape[0] != n_rows):
        raise ServingError(
            f"The server answered with shape {shape} for {n_rows} row(s): that is not one row "
            "of probabilities per song."
        )
    return data.reshape(n_rows, columns), str(output.get("name"))


def _labels_from_metadata(
    endpoint: str, model_name: str, version: str | None, token: str | None, timeout: float
) -> tuple[tuple[str, ...] | None, str]:
    try:
        metadata = model_metadata(
            endpoint, model_name, version=version, token=token, timeout=timeout
        )
    except ServingError:
        return None, "indices"
    labels = (metadata.get("parameters") or {}).get("labels")
    if isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels):
        return tuple(labels), "metadata"
    return None, "indices"
