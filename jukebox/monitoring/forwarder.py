"""A payload logger that forwards each inference to a TrustyAI service as KServe's logger does.

For ``serve`` against a real TrustyAI (``TRUSTYAI_URL``): every record becomes two binary-mode
CloudEvents posted to the service's root, a request (``org.kubeflow.serving.inference.request``)
and a response (``...response``) sharing ``ce-id``, with the extension ``Inferenceservicename``,
their bodies the v2 JSON of the inference. Calling the logger only appends to a bounded deque;
one background thread posts; when the service is slow or away, the oldest records are dropped
(``dropped`` counts them), never serving.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from datetime import UTC, datetime

import numpy as np
import requests

from jukebox.serving.inference_log import InferenceRecord

CE_REQUEST = "org.kubeflow.serving.inference.request"
CE_RESPONSE = "org.kubeflow.serving.inference.response"
V2_TYPES = {
    "float32": "FP32",
    "float64": "FP64",
    "int32": "INT32",
    "int64": "INT64",
    "bool": "BOOL",
}


def _tensor(name: str, array: np.ndarray) -> dict:
    array = np.asarray(array)
    return {
        "name": name,
        "shape": list(array.shape),
        "datatype": V2_TYPES.get(array.dtype.name, "FP64"),
        "data": array.reshape(-1).tolist(),
    }


def cloudevents(record: InferenceRecord) -> list[tuple[dict[str, str], bytes]]:
    """The (headers, body) of the request and response events of one inference."""
    time = datetime.fromtimestamp(record.time, UTC).isoformat()
    common = {
        "ce-specversion": "1.0",
        "ce-id": record.request_id,
        "ce-source": f"http://localhost/{record.model}",
        "ce-time": time,
        "ce-inferenceservicename": record.model,
        "ce-modelid": record.version,
        "content-type": "application/json",
    }
    request = {"id": record.request_id, "inputs": [_tensor(k, v) for k, v in record.inputs.items()]}
    response = {
        "id": record.request_id,
        "model_name": record.model,
        "model_version": record.version,
        "outputs": [_tensor(k, v) for k, v in record.outputs.items()],
    }
    return [
        ({**common, "ce-type": CE_REQUEST}, json.dumps(request).encode()),
        ({**common, "ce-type": CE_RESPONSE}, json.dumps(response).encode()),
    ]


class CloudEventForwarder:
    """``CloudEventForwarder(url, token)`` is an InferenceLogger posting to ``url``."""

    def __init__(
        self, url: str, token: str | None = None, *, max_pending: int = 10_000, timeout: float = 5.0
    ) -> None:
        self.url = url.rstrip("/") + "/"
        self.timeout = timeout
        self._pending: deque[InferenceRecord] = deque()
        self._max = max_pending
        self._ready = threading.Condition()
        self._closed = False
        self.dropped = 0
        self.failed = 0
        self.sent = 0
        self._session = requests.Session()
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        self._thread = threading.Thread(target=self._run, name="cloudevents", daemon=True)
        self._thread.start()

    def __call__(self, record: InferenceRecord) -> None:
        """Queue one record; drops the oldest when full. Never blocks on the network."""
        pending = self._pending
        if len(pending) >= self._max:
            try:
                pending.popleft()
                self.dropped += 1
            except IndexError:
                pass
        pending.append(record)
        if len(pending) == 1:
            with self._ready:
                self._ready.notify()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until the queue is empty (tests, shutdown)."""
        import time

        deadline = time.monotonic() + timeout
        while (self._pending or self._busy) and time.monotonic() < deadline:
            time.sleep(0.01)

    _busy = False

    def close(self) -> None:
        self.flush()
        self._closed = True
        with self._ready:
            self._ready.notify()
        self._thread.join(timeout=5)
        self._session.close()

    def _run(self) -> None:
        while not self._closed:
            try:
                record = self._pending.popleft()
            except IndexError:
                with self._ready:
                    self._ready.wait(0.2)
                continue
            self._busy = True
            try:
                for headers, body in cloudevents(record):
                    self._session.post(
                        self.url, data=body, headers=headers, timeout=self.timeout
                    ).raise_for_status()
                self.sent += 1
            except requests.RequestException:
                self.failed += 1  # the service is away or refused it: this record is lost
            finally:
                self._busy = False
