"""The embedded monitoring service's logic, apart from HTTP: what each TrustyAI endpoint does.

One :class:`MonitoringService` per process, over the monitoring folder of ``JUKEBOX_HOME``:

- uploads (``/data/upload``) are checked whole, then stored at once in the payload log;
- KServe payload-logger CloudEvents (a request and a response matched by ``ce-id``) become one
  :class:`~jukebox.serving.inference_log.InferenceRecord` in the same log;
- drift (meanshift, KS test) and identity metrics are computed on demand, or scheduled: the
  scheduled requests are kept in ``requests.json``; :meth:`evaluate` computes each on the last
  ``batchSize`` rows that are not reference rows, publishes gauges under TrustyAI's names and
  labels, appends the history and raises alerts (see :mod:`jukebox.monitoring.history`); the
  alert streaks are replayed from that history on start, so a restart forgets no evaluation;
- Prometheus Alertmanager's webhook notifications (a rule on the real TrustyAI's metrics, see
  ``deploy/monitoring/``) become drift alerts in the same history, each firing once.

Errors are :class:`ApiError`, a status and a plain-text message, as the TrustyAI service answers.
The reference rows are all rows of ``referenceTag``; the current batch is the newest
``batchSize`` rows of any other tag (live inferences have the tag ``""``).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from jukebox.monitoring import drift
from jukebox.monitoring.history import (
    DriftAlert,
    append_alert,
    append_evaluation,
    read_alerts,
    read_evaluations,
)
from jukebox.monitoring.paths import check_model_id
from jukebox.monitoring.payload_log import (
    META_COLUMNS,
    TIME,
    PayloadLog,
    list_segments,
    logged_models,
    read_log,
)
from jukebox.monitoring.payloads import PayloadError, parse_infer_body, parse_upload
from jukebox.serving.inference_log import InferenceRecord

DEFAULT_BATCH_SIZE = 100  # TrustyAI's service.batch-size in its deployments
REQUESTS_FILE = "requests.json"
CE_REQUEST = "org.kubeflow.serving.inference.request"
CE_RESPONSE = "org.kubeflow.serving.inference.response"
MAX_UNMATCHED_EVENTS = 10_000
DRIFT_METRICS = {"meanshift": "MEANSHIFT", "kstest": "KSTEST"}
DEFINITIONS = {
    "MEANSHIFT": "MeanShift gives the per-column probability that the data values seen in a test "
    "dataset come from the same distribution of a training dataset, under the assumption that "
    "the values are normally distributed.",
    "KSTEST": "KSTest calculates two sample kolmogorov-smirnov test per column which tests if two "
    "samples drawn from the same distributions.",
    "IDENTITY": "This metric simply returns a mean of a model's last N feature or output values.",
}


class ApiError(Exception):
    """An answer other than 200: its status and TrustyAI's plain-text message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def java_name_uuid(text: str) -> str:
    """Java's ``UUID.nameUUIDFromBytes``: the ids TrustyAI gives its global gauges."""
    digest = bytearray(hashlib.md5(text.encode()).digest())  # noqa: S324 (an id, not a secret)
    digest[6] = (digest[6] & 0x0F) | 0x30
    digest[8] = (digest[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(digest)))


@dataclass
class ScheduledRequest:
    """A scheduled metric as stored and listed (TrustyAI's request fields, camelCase in JSON)."""

    id: str
    metric: str  # MEANSHIFT, KSTEST, IDENTITY
    body: dict  # modelId, batchSize, referenceTag, fitColumns, thresholdDelta | columnName, ...
    streaks: dict[str, int] = field(default_factory=dict)  # consecutive drifted evaluations
    alerted: bool = False
    last_batch: list | None = None  # (newest time, rows) of the batch last evaluated

    @property
    def model(self) -> str:
        return self.body["modelId"]

    def readable(self) -> dict:
        """The request as ``GET .../requests`` lists it (no fitted statistics)."""
        body = {**self.body, "metricName": self.metric}
        if self.metric in DRIFT_METRICS.values():
            body["@type"] = {
                "MEANSHIFT": "MeanshiftMetricRequest",
                "KSTEST": "KSTestMetricRequest",
            }[self.metric]
        else:
            body["@type"] = "IdentityMetricRequest"
        return dict(sorted(body.items()))

    def labels(self) -> dict[str, str]:
        """Gauge labels as ``PrometheusPublisher.generateTags`` builds them."""
        labels = {"metricName": self.metric, "model": self.model, "request": self.id}
        if self.body.get("requestName"):
            labels["requestName"] = self.body["requestName"]
        labels["batch_size"] = str(self.body["batchSize"])
        if self.metric == "IDENTITY":
            labels["column"] = self.body["columnName"]
        return labels


class MonitoringService:
    """The state and operations of the embedded TrustyAI-compatible service (thread-safe)."""

    def __init__(
        self,
        root: Path,
        *,
        alert_after: int = 3,
        log: PayloadLog | None = None,
    ) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.alert_after = alert_after
        self.log = log or PayloadLog(self.root)
        self._lock = threading.RLock()
        self._unmatched: OrderedDict[str, tuple[str, str, dict, float]] = OrderedDict()
        self._gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self.requests: dict[str, ScheduledRequest] = self._load_requests()
        self._restore_streaks()

    # --- data ------------------------------------------------------------------------------

    def upload(self, body: object) -> str:
        """``POST /data/upload``: store a tagged batch; the message TrustyAI answers with."""
        try:
            upload = parse_upload(body)
            check_model_id(upload.model)
        except (PayloadError, ValueError) as error:
            raise ApiError(400, str(error)) from error
        rows = upload.inputs.rows
        response = body.get("response") or {}
        columns = {
            "_request_id": [str(uuid.uuid4()) for _ in range(rows)],
            "_model": [upload.model] * rows,
            "_version": [str(response.get("model_version") or "")] * rows,
            TIME: np.full(rows, time.time()),
            "_tag": [upload.tag] * rows,
            **upload.inputs.columns,
            **upload.outputs.columns,
        }
        self.log.write_columns(upload.model, columns, upload.tag)
        self._remember_outputs(upload.model, list(upload.outputs.columns))
        return f"{rows} datapoints successfully added to {upload.model} data."

    def consume_cloudevent(self, headers: dict[str, str], body: bytes) -> str:
        """``POST /``: one binary-mode CloudEvent of KServe's payload logger. The request and
        the response of one inference share ``ce-id``; when both are here they are logged."""
        h = {k.lower(): v for k, v in headers.items()}
        event_type, event_id = h.get("ce-type"), h.get("ce-id")
        if not event_id or event_type not in (CE_REQUEST, CE_RESPONSE):
            raise ApiError(
                400,
                "Not a KServe payload-logger CloudEvent: ce-id and a ce-type of "
                f"{CE_REQUEST} or {CE_RESPONSE} are required.",
            )
        model = h.get("ce-inferenceservicename") or ""
        try:
            check_model_id(model)
            data = json.loads(body or b"null")
            kind = "input" if event_type == CE_REQUEST else "output"
            parse_infer_body(data, kind)
        except (ValueError, PayloadError) as error:
            raise ApiError(400, f"CloudEvent {event_id}: {error}") from error
        return self._reconcile(event_id, model, kind, data, version=h.get("ce-modelid"))

    def consume_partial(self, body: object) -> str:
        """``POST /consumer/kserve/v2``: ModelMesh's partial payload ``{id, modelid, kind,
        data}``; here ``data`` is the v2 JSON body (or its base64), not a protobuf."""
        if not isinstance(body, dict) or body.get("kind") not in ("request", "response"):
            raise ApiError(400, f"Unsupported payload kind={(body or {}).get('kind')}")
        data = body.get("data")
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError:
                import base64

                try:
                    data = json.loads(base64.b64decode(data))
                except (ValueError, json.JSONDecodeError) as error:
                    raise ApiError(
                        400,
                        "The partial payload's data is neither a v2 JSON body nor its base64 "
                        "(protobuf payloads are not read by the embedded service).",
                    ) from error
        kind = "input" if body["kind"] == "request" else "output"
        model = body.get("modelid") or ""
        try:
            check_model_id(model)
            parse_infer_body(data, kind)
        except (ValueError, PayloadError) as error:
            raise ApiError(
                400, f"Error when reconciling payload for id='{body.get('id')}': {error}"
            ) from error
        return self._reconcile(str(body.get("id")), model, kind, data)

    def _reconcile(self, event_id: str, model: str, kind: str, data: dict, version=None) -> str:
        with self._lock:
            other = self._unmatched.pop(event_id, None)
            if other is None or other[1] == kind:
                self._unmatched[event_id] = (model, kind, data, time.time())
                while len(self._unmatched) > MAX_UNMATCHED_EVENTS:
                    self._unmatched.popitem(last=False)
                return "Partial payload stored, waiting for its other half."
        request, response = (data, other[2]) if kind == "input" else (other[2], data)
        self.log(
            InferenceRecord(
                request_id=event_id,
                model=model,
                version=str(response.get("model_version") or version or ""),
                time=time.time(),
                inputs={t["name"]: _array(t) for t in request["inputs"]},
                outputs={t["name"]: _array(t) for t in response["outputs"]},
                protocol="CloudEvent",
            )
        )
        return "Inference logged."

    def known_models(self) -> list[str]:
        return logged_models(self.root)

    def _require_model(self, model: object) -> str:
        if not isinstance(model, str) or not model:
            raise ApiError(400, "The request must name the model in `modelId`.")
        if model not in self.known_models():
            raise ApiError(
                400,
                f"No metadata found for model={model}. This can happen if TrustyAI has not yet "
                "logged any inferences from this model.",
            )
        return model

    # --- metrics ----------------------------------------------------------------------------

    def _drift_body(self, body: object, metric: str) -> dict:
        if not isinstance(body, dict):
            raise ApiError(400, "The metric request must be a JSON object.")
        model = self._require_model(body.get("modelId"))
        reference_tag = body.get("referenceTag")
        if not isinstance(reference_tag, str) or not reference_tag:
            raise ApiError(400, 'A drift request needs a `referenceTag`, e.g. "TRAINING".')
        threshold = body.get("thresholdDelta")
        threshold = drift.DEFAULT_THRESHOLD_DELTA if threshold is None else threshold
        batch = body.get("batchSize")
        batch = DEFAULT_BATCH_SIZE if batch is None else batch
        if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            raise ApiError(400, f"thresholdDelta={threshold!r} must be a number between 0 and 1.")
        if not isinstance(batch, int) or batch < 1:
            raise ApiError(400, f"batchSize={batch!r} must be a whole number of at least 1.")
        reference = read_log(self.root, model, tag=reference_tag)
        if reference.empty:
            raise ApiError(
                400,
                f"No data with tag {reference_tag} found for model={model}: upload the "
                "reference data with that data_tag first.",
            )
        available = [c for c in reference.columns if c not in META_COLUMNS]
        columns = body.get("fitColumns") or available
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise ApiError(400, "fitColumns must be a list of column names.")
        unknown = [c for c in columns if c not in available]
        if unknown:
            listing = (
                f"The valid list of feature names is as follows: {available}"
                if len(available) <= 10
                else f"The valid list of feature names is too long to display "
                f"(length={len(available)}), please query TrustyAI's metadata endpoint (/info) "
                "to see the list in full."
            )
            raise ApiError(400, f"No feature found with name={unknown[0]}. {listing}")
        out = {
            "modelId": model,
            "referenceTag": reference_tag,
            "fitColumns": list(dict.fromkeys(columns)),
            "batchSize": batch,
            "thresholdDelta": float(threshold),
        }
        if body.get("requestName"):
            out["requestName"] = str(body["requestName"])
        return out

    def _identity_body(self, body: object) -> dict:
        if not isinstance(body, dict):
            raise ApiError(400, "The metric request must be a JSON object.")
        model = self._require_model(body.get("modelId"))
        column = body.get("columnName")
        batch = body.get("batchSize")
        batch = DEFAULT_BATCH_SIZE if batch is None else batch
        if not isinstance(batch, int) or batch < 1:
            raise ApiError(400, f"batchSize={batch!r} must be a whole number of at least 1.")
        frame = read_log(self.root, model, last=1)
        available = [c for c in frame.columns if c not in META_COLUMNS]
        if column not in available:
            raise ApiError(
                400,
                f"No feature or output found with name={column}. The valid list of feature "
                f"names is as follows: {available}",
            )
        out = {
            "modelId": model,
            "columnName": column,
            "batchSize": batch,
            "lowerThreshold": float(body.get("lowerThreshold") or 0.0),
            "upperThreshold": float(body.get("upperThreshold") or 0.0),
        }
        if body.get("requestName"):
            out["requestName"] = str(body["requestName"])
        return out

    def _drift_values(
        self, metric: str, request: dict
    ) -> tuple[dict[str, drift.ColumnDrift], int, float | None]:
        model, tag = request["modelId"], request["referenceTag"]
        reference = read_log(self.root, model, tag=tag)
        current = read_log(self.root, model, exclude_tag=tag, last=request["batchSize"])
        test = drift.meanshift if metric == "MEANSHIFT" else drift.kstest
        result = test(reference, current, request["fitColumns"], request["thresholdDelta"])
        newest = float(current[TIME].iloc[-1]) if len(current) else None
        return result, len(current), newest

    def _identity_value(self, request: dict) -> tuple[float, int, float | None]:
        frame = read_log(self.root, request["modelId"], last=request["batchSize"])
        newest = float(frame[TIME].iloc[-1]) if len(frame) else None
        if request["columnName"] not in frame.columns or frame.empty:
            return float("nan"), 0, newest
        return drift.identity(frame, request["columnName"]), len(frame), newest

    def compute(self, metric: str, body: object) -> dict:
        """One computation now, answered as TrustyAI's ``BaseMetricResponse``."""
        if metric == "IDENTITY":
            request = self._identity_body(body)
            value, _, _ = self._identity_value(request)
            return {
                "timestamp": _now_iso(),
                "type": "metric",
                "value": None if math.isnan(value) else value,
                "namedValues": None,
                "specificDefinition": "This metric simply returns a mean of the last N values of "
                f"{request['columnName']} from inference data of model={request['modelId']}.",
                "name": metric,
                "id": str(uuid.uuid4()),
                "thresholds": _threshold(
                    request["lowerThreshold"], request["upperThreshold"], value
                ),
            }
        request = self._drift_body(body, metric)
        result, _, _ = self._drift_values(metric, request)
        p_values = {c: r.p_value for c, r in result.items()}
        delta = request["thresholdDelta"]
        return {
            "timestamp": _now_iso(),
            "type": "metric",
            "value": None,
            "namedValues": p_values,
            "specificDefinition": _drift_definition(metric, p_values, delta),
            "name": metric,
            "id": str(uuid.uuid4()),
            "thresholds": _threshold(0.0, delta, max(p_values.values(), default=0.0)),
        }

    def schedule(self, metric: str, body: object) -> dict:
        """``POST .../request``: store a scheduled request; ``{"requestId", "timestamp"}``."""
        request = (
            self._identity_body(body) if metric == "IDENTITY" else self._drift_body(body, metric)
        )
        scheduled = ScheduledRequest(str(uuid.uuid4()), metric, request)
        with self._lock:
            self.requests[scheduled.id] = scheduled
            self._save_requests()
        return {"requestId": scheduled.id, "timestamp": _now_iso()}

    def unschedule(self, metric: str, body: object) -> str:
        """``DELETE .../request`` with ``{"requestId"}``: "Removed", or 404 as TrustyAI says."""
        request_id = body.get("requestId") if isinstance(body, dict) else None
        try:
            request_id = str(uuid.UUID(str(request_id))) if request_id else None
        except ValueError:
            request_id = None
        if request_id is None:
            raise ApiError(
                404,
                "Scheduled requestId in DELETE payload was null. This can occur if the provided "
                "requestId was not a valid UUID, please check the parameters of the DELETE "
                "payload.",
            )
        with self._lock:
            found = self.requests.get(request_id)
            if found is None or found.metric != metric:
                raise ApiError(404, f"Error: Scheduled requestId={request_id} not found")
            del self.requests[request_id]
            self._save_requests()
            self._gauges = {
                k: v for k, v in self._gauges.items() if ("request", request_id) not in k[1]
            }
        return "Removed"

    def list_requests(self, metric: str) -> dict:
        with self._lock:
            return {
                "requests": [
                    {"id": r.id, "request": r.readable()}
                    for r in self.requests.values()
                    if r.metric == metric
                ]
            }

    # --- scheduled evaluation -----------------------------------------------------------------

    def evaluate(self) -> list[dict]:
        """Compute every scheduled metric now: gauges, history, alerts. Returns what it computed
        (request id, metric, model, values, drifted columns). A model with no live row yet is
        skipped, as TrustyAI skips models without recorded inferences; history and alerts only
        count evaluations whose batch changed since the last one."""
        done = []
        models = self.known_models()
        with self._lock:
            requests = list(self.requests.values())
        for model in models:
            self._gauge(
                "trustyai_model_observations_total",
                {"model": model, "request": java_name_uuid(model)},
                float(self.observations(model)),
            )
        self._gauge(
            "trustyai_model_count_total",
            {"request": java_name_uuid("model_count")},
            float(len(models)),
        )
        for request in requests:
            if request.model not in models:
                continue
            now = time.time()
            if request.metric == "IDENTITY":
                value, rows, newest = self._identity_value(request.body)
                if rows == 0:
                    continue
                self._gauge("trustyai_identity", request.labels(), value)
                values, drifted, threshold = {request.body["columnName"]: value}, {}, None
            else:
                result, rows, newest = self._drift_values(request.metric, request.body)
                if rows == 0:
                    continue
                name = "trustyai_" + request.metric.lower()
                for column, r in result.items():
                    self._gauge(name, {**request.labels(), "subcategory": column}, r.p_value)
                values = {c: r.p_value for c, r in result.items()}
                drifted = {c: r.drifted for c, r in result.items()}
                threshold = request.body["thresholdDelta"]
            batch = [newest, rows]
            if batch == request.last_batch:
                continue
            request.last_batch = batch
            append_evaluation(
                self.root, request.model, time=now, request_id=request.id,
                metric=request.metric, values=values, drifted=drifted, threshold=threshold,
                batch=batch,
            )  # fmt: skip
            if drifted:
                self._check_alert(request, values, drifted, now)
            done.append(
                {
                    "requestId": request.id,
                    "metricName": request.metric,
                    "modelId": request.model,
                    "values": values,
                    "drifted": sorted(c for c, d in drifted.items() if d),
                }
            )
        return done

    def _advance_streaks(self, request: ScheduledRequest, drifted: dict[str, bool]) -> list[str]:
        """Count one more evaluation into the request's streaks; returns the columns of the
        alert now due (empty when none is: no column drifted ``alert_after`` times in a row, or
        this episode already alerted)."""
        for column, is_drifted in drifted.items():
            request.streaks[column] = request.streaks.get(column, 0) + 1 if is_drifted else 0
        lasting = sorted(c for c, n in request.streaks.items() if n >= self.alert_after)
        if not lasting:
            request.alerted = False
            return []
        if request.alerted:
            return []
        request.alerted = True
        return lasting

    def _check_alert(self, request: ScheduledRequest, values, drifted, now: float) -> None:
        lasting = self._advance_streaks(request, drifted)
        if not lasting:
            return
        append_alert(
            self.root,
            DriftAlert(
                time=now,
                model=request.model,
                request_id=request.id,
                metric=request.metric,
                columns=tuple(lasting),
                p_values={c: values[c] for c in lasting},
                evaluations=self.alert_after,
                threshold=request.body["thresholdDelta"],
            ),
        )

    def _restore_streaks(self) -> None:
        """Replay the history of the scheduled requests, so a restarted service goes on
        counting where the last one stopped: its streaks, whether the current episode already
        alerted, and the batch it evaluated last (the same batch is not counted again). The
        alerts those evaluations raised are on disk already; none is raised again."""
        for model in {r.model for r in self.requests.values()}:
            try:
                lines = read_evaluations(self.root, model)
            except ValueError:  # a model id that names no folder has no history
                continue
            for line in lines:
                request = self.requests.get(line.get("request_id"))
                if request is None or request.model != model:
                    continue
                request.last_batch = line.get("batch")
                if line.get("drifted"):
                    self._advance_streaks(request, line["drifted"])

    # --- alerts from Prometheus Alertmanager -------------------------------------------------

    def receive_alertmanager(self, body: object) -> dict:
        """``POST /jukebox/alerts/alertmanager``: Alertmanager's webhook notification (version
        "4"). Each *firing* alert whose labels name a model (``model``, as the series of
        ``trustyai_meanshift`` carry it) becomes a :class:`DriftAlert` in that model's history,
        once per firing (its ``fingerprint`` and ``startsAt``), as a scheduled metric of the
        embedded service would raise it: on a cluster, this is how a Prometheus rule on the real
        TrustyAI's metrics reaches the retraining loop. Resolved alerts and alerts about no
        model are counted, not recorded. Returns the counts (Alertmanager reads only the
        status)."""
        if not isinstance(body, dict) or not isinstance(body.get("alerts"), list):
            raise ApiError(400, "Not an Alertmanager notification: a JSON object with `alerts`.")
        version = body.get("version")
        if version is not None and str(version) != "4":
            raise ApiError(400, f"Alertmanager webhook version {version!r}: only 4 is read.")
        counts = {"recorded": 0, "duplicate": 0, "resolved": 0, "ignored": 0}
        for alert in body["alerts"]:
            received = _alertmanager_alert(alert, body.get("status"))
            if isinstance(received, str):
                counts[received] += 1
                continue
            with self._lock:  # two notifications at once must not both record one firing
                known = {a.source for a in read_alerts(self.root, received.model)}
                if received.source in known:
                    counts["duplicate"] += 1
                    continue
                append_alert(self.root, received)
            counts["recorded"] += 1
        return counts

    def _gauge(self, name: str, labels: dict[str, str], value: float) -> None:
        with self._lock:
            self._gauges[(name, tuple(sorted(labels.items())))] = value

    def observations(self, model: str) -> int:
        total = 0
        for segment in list_segments(self.root, model):
            import pyarrow as pa

            try:
                with pa.memory_map(str(segment.path)) as source:
                    reader = pa.ipc.open_file(source)
                    total += sum(
                        reader.get_batch(i).num_rows for i in range(reader.num_record_batches)
                    )
            except (FileNotFoundError, pa.ArrowInvalid):
                continue
        return total

    def prometheus_text(self) -> str:
        """The gauges in Prometheus' text exposition format, as Quarkus' /q/metrics shows them."""
        with self._lock:
            gauges = sorted(self._gauges.items())
        lines: list[str] = []
        seen = set()
        for (name, labels), value in gauges:
            if name not in seen:
                seen.add(name)
                lines += [f"# HELP {name} ", f"# TYPE {name} gauge"]
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
            lines.append(f"{name}{{{label_text}}} {_number(value)}")
        return "\n".join(lines) + "\n"

    # --- /info ------------------------------------------------------------------------------

    def info(self) -> dict:
        """``GET /info``: per model, scheduled metric counts and the data's schema, as
        ``ServiceMetadataEndpoint`` answers."""
        out = {}
        with self._lock:
            requests = list(self.requests.values())
        for model in self.known_models():
            counts: dict[str, int] = {}
            for r in requests:
                if r.model == model:
                    counts[r.metric] = counts.get(r.metric, 0) + 1
            frame = read_log(self.root, model, last=1)
            data_columns = [c for c in frame.columns if c not in META_COLUMNS]
            inputs, outputs = self._io_columns(model, data_columns)
            out[model] = {
                "metrics": {"scheduledMetadata": {"metricCounts": counts}},
                "data": {
                    "inputSchema": _schema(frame, inputs),
                    "outputSchema": _schema(frame, outputs),
                    "inputTensorName": "input",
                    "outputTensorName": "output",
                    "observations": self.observations(model),
                },
            }
        return out

    def _remember_outputs(self, model: str, names: list[str]) -> None:
        path = self.root / model / "outputs.json"
        try:
            known = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            known = []
        if set(names) - set(known):
            path.write_text(json.dumps(sorted(set(known) | set(names))))

    def _io_columns(self, model: str, columns: list[str]) -> tuple[list[str], list[str]]:
        outputs_file = self.root / model / "outputs.json"
        try:
            outputs = set(json.loads(outputs_file.read_text()))
        except (FileNotFoundError, json.JSONDecodeError):
            outputs = {c for c in columns if c.startswith("output")}
        return [c for c in columns if c not in outputs], [c for c in columns if c in outputs]

    def tags(self) -> dict[str, dict[str, int]]:
        """``GET /info/tags``: per model, how many rows each tag has."""
        out = {}
        for model in self.known_models():
            frame = read_log(self.root, model)
            out[model] = {str(k): int(v) for k, v in frame["_tag"].value_counts().items()}
        return out

    # --- storage of scheduled requests ---------------------------------------------------------

    def _load_requests(self) -> dict[str, ScheduledRequest]:
        try:
            stored = json.loads((self.root / REQUESTS_FILE).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return {r["id"]: ScheduledRequest(r["id"], r["metric"], r["body"]) for r in stored}

    def _save_requests(self) -> None:
        path = self.root / REQUESTS_FILE
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(
            json.dumps(
                [{"id": r.id, "metric": r.metric, "body": r.body} for r in self.requests.values()],
                indent=2,
            )
        )
        tmp.replace(path)

    def close(self) -> None:
        self.log.close()


def _alertmanager_alert(alert: object, group_status: object) -> DriftAlert | str:
    """The DriftAlert one Alertmanager alert stands for, or why it stands for none
    ("resolved", "ignored"). Labels as Prometheus copies them from the alerting series:
    ``model``, ``metricName``, ``subcategory`` (the column), ``request`` (the scheduled
    request's id); annotations ``value`` (the p-value, e.g. ``{{ $value }}``) and ``threshold``
    when the rule sets them."""
    if not isinstance(alert, dict) or not isinstance(alert.get("labels"), dict):
        return "ignored"
    if (alert.get("status") or group_status) != "firing":
        return "resolved"
    labels = {str(k): str(v) for k, v in alert["labels"].items()}
    annotations = alert.get("annotations") if isinstance(alert.get("annotations"), dict) else {}
    try:
        model = check_model_id(labels.get("model", ""))
    except ValueError:
        return "ignored"
    fingerprint = (
        alert.get("fingerprint")
        or hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]
    )  # Alertmanager's is a hash of the labels too; older ones send none
    columns = (labels["subcategory"],) if labels.get("subcategory") else ()
    value, threshold = (
        _number_or_none(annotations.get("value")),
        _number_or_none(annotations.get("threshold")),
    )
    return DriftAlert(
        time=time.time(),
        model=model,
        request_id=labels.get("request", ""),
        metric=labels.get("metricName") or "MEANSHIFT",
        columns=columns,
        p_values={c: value for c in columns} if value is not None else {},
        evaluations=1,
        threshold=drift.DEFAULT_THRESHOLD_DELTA if threshold is None else threshold,
        source=f"alertmanager {fingerprint} {alert.get('startsAt') or ''}".rstrip(),
    )


def _number_or_none(text: object) -> float | None:
    try:
        value = float(str(text))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _array(tensor: dict) -> np.ndarray:
    from jukebox.monitoring.payloads import DTYPES

    return np.asarray(tensor["data"], dtype=DTYPES[tensor["datatype"]]).reshape(tensor["shape"])


def _schema(frame, columns: list[str]) -> dict:
    def kind(column: str) -> str:
        dtype = frame[column].dtype
        if dtype == np.float32:
            return "FLOAT"
        if dtype == np.float64:
            return "DOUBLE"
        if dtype == np.bool_:
            return "BOOL"
        if np.issubdtype(dtype, np.integer):
            return "INT64" if dtype.itemsize == 8 else "INT32"
        return "STRING"

    return {
        "items": {c: {"type": kind(c), "name": c, "columnIndex": i} for i, c in enumerate(columns)},
        "nameMapping": {},
    }


def _threshold(lower: float, upper: float, value: float) -> dict:
    """TrustyAI's ``MetricThreshold``: outside when not ``lower <= value <= upper``."""
    return {
        "lowerBound": lower,
        "upperBound": upper,
        "outsideBounds": not (value <= upper) or not (value >= lower),
    }


def _drift_definition(metric: str, p_values: dict[str, float], delta: float) -> str:
    lines = [DEFINITIONS[metric]]
    width = max((len(c) for c in p_values), default=0)
    for column, p in p_values.items():
        line = (
            f"  - Column {column:>{width}} has p={p:f} probability of coming from the training "
            "distribution."
        )
        line += f" p <= {delta:f} -> [SIGNIFICANT DRIFT]" if p <= delta else f" p >  {delta:f}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))
