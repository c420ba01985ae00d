"""A stand-in Kubeflow Pipelines API server: the v2beta1 REST endpoints ``kfp.Client`` uses.

There is no KFP on this machine, so tests of :mod:`jukebox.pipelines.remote` talk to this small
HTTP server on 127.0.0.1 instead. It records every request and checks each one against the KFP
v2beta1 API (``backend/api/v2beta1/*.proto`` as served by grpc-gateway, field names in
snake_case): the method and path, the bearer token, and the body. A request that breaks the API
is answered 400 with a ``google.rpc.Status`` body, like the real server, and its reason is added
to :attr:`StandIn.problems`, which the tests' fixture requires to be empty at the end.

Endpoints: ``GET healthz``; ``GET|POST experiments`` (lookup by a ``display_name`` filter, then
create); ``POST runs`` (with an inline ``pipeline_spec``), ``GET runs``, ``GET runs/{id}``;
``POST recurringruns``. A run moves PENDING → RUNNING → SUCCEEDED as it is read: it is done on
the ``polls_until_done``-th read of ``GET runs/{id}``, with one task detail per task of its DAG.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API = "/apis/v2beta1"
NOT_YET = "1970-01-01T00:00:00Z"

# Fields a client may set when it creates a resource (the rest are output only).
RUN_INPUT_FIELDS = {
    "experiment_id",
    "display_name",
    "description",
    "pipeline_version_id",
    "pipeline_spec",
    "pipeline_version_reference",
    "runtime_config",
    "service_account",
}
RECURRING_INPUT_FIELDS = {
    "display_name",
    "description",
    "pipeline_version_id",
    "pipeline_spec",
    "pipeline_version_reference",
    "runtime_config",
    "service_account",
    "max_concurrency",
    "trigger",
    "mode",
    "no_catchup",
    "namespace",
    "experiment_id",
}
EXPERIMENT_INPUT_FIELDS = {"display_name", "description", "namespace"}
RUNTIME_CONFIG_FIELDS = {"parameters", "pipeline_root"}
SCHEDULE_FIELDS = {"start_time", "end_time"}
PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    "STRING": (str,),
    "NUMBER_INTEGER": (int,),
    "NUMBER_DOUBLE": (int, float),
    "BOOLEAN": (bool,),
    "STRUCT": (dict,),
    "LIST": (list,),
}


def _now(offset: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


class Rejected(Exception):
    """A request the real API server would refuse: answered with ``status`` and the reason."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Request:
    """One request as the stand-in received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: Any = None


@dataclass
class StandIn:
    """The server's state; start it with :meth:`start`, stop it with :meth:`stop`."""

    token: str | None = "stand-in-token"
    polls_until_done: int = 3
    login_page: bool = False
    requests: list[Request] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    experiments: dict[str, dict] = field(default_factory=dict)
    runs: dict[str, dict] = field(default_factory=dict)
    recurring_runs: dict[str, dict] = field(default_factory=dict)
    reads: dict[str, int] = field(default_factory=dict)

    def start(self) -> str:
        """Serve on a free port of 127.0.0.1 in a thread; return the base URL."""
        standin = self

        class Handler(_Handler):
            state = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval so stop() does not wait half a second for serve_forever.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def received(self, method: str, path: str) -> list[Request]:
        """The requests with this method and path (``path`` without the ``/apis/v2beta1``)."""
        return [r for r in self.requests if r.method == method and r.path == API + path]

    # --- endpoints ---------------------------------------------------------------------------

    def healthz(self, request: Request) -> dict:
        return {"commit_sha": "stand-in", "tag_name": "2.5.0", "multi_user": False}

    def list_experiments(self, request: Request) -> dict:
        found = list(self.experiments.values())
        if "filter" in request.query:
            predicates = _filter(request.query["filter"][0])
            for p in predicates:
                # Proto JSON takes an enum by name or by number (EQUALS is 1).
                if p.get("key") != "display_name" or p.get("operation") not in ("EQUALS", 1):
                    raise Rejected(400, f"unsupported filter predicate {p}")
                found = [e for e in found if e["display_name"] == p.get("string_value")]
        return {"experiments": found, "total_size": len(found)} if found else {}

    def create_experiment(self, request: Request) -> dict:
        body = _object(request.body, "experiment")
        _only(body, EXPERIMENT_INPUT_FIELDS, "experiment")
        name = body.get("display_name")
        if not isinstance(name, str) or not name.strip():
            raise Rejected(400, "experiment display_name is required")
        if any(e["display_name"] == name for e in self.experiments.values()):
            raise Rejected(409, f"experiment {name!r} already exists")
        experiment = {
            "experiment_id": str(uuid.uuid4()),
            "display_name": name,
            "created_at": _now(),
            "storage_state": "AVAILABLE",
        }
        self.experiments[experiment["experiment_id"]] = experiment
        return experiment

    def create_run(self, request: Request) -> dict:
        body = _object(request.body, "run")
        _only(body, RUN_INPUT_FIELDS, "run")
        _name(body, "run")
        self._experiment(body)
        spec = self._spec_and_parameters(body)
        run = {
            **body,
            "run_id": str(uuid.uuid4()),
            "storage_state": "AVAILABLE",
            "created_at": _now(),
            "scheduled_at": _now(),
            "finished_at": NOT_YET,
            "state": "PENDING",
            "_tasks": sorted(spec["root"]["dag"]["tasks"]),
        }
        self.runs[run["run_id"]] = run
        self.reads[run["run_id"]] = 0
        return _public(run)

    def list_runs(self, request: Request) -> dict:
        size = request.query.get("page_size", ["10"])[0]
        if not size.isdigit():
            raise Rejected(400, f"page_size {size!r} is not a number")
        sort = request.query.get("sort_by", [""])[0]
        if sort not in ("", "created_at", "created_at desc", "display_name", "display_name desc"):
            raise Rejected(400, f"cannot sort by {sort!r}")
        runs = [_public(r, details=False) for r in self.runs.values()]
        if sort:
            key, _, desc = sort.partition(" ")
            runs.sort(key=lambda r: (r[key], r["run_id"]), reverse=bool(desc))
        runs = runs[: int(size)]
        return {"runs": runs, "total_size": len(self.runs)} if runs else {}

    def get_run(self, request: Request, run_id: str) -> dict:
        if run_id not in self.runs:
            raise Rejected(404, f"Run {run_id} not found")
        self.reads[run_id] += 1
        run = self.runs[run_id]
        reads = self.reads[run_id]
        if run["state"] not in ("SUCCEEDED", "FAILED"):
            if reads >= self.polls_until_done:
                run["state"] = "SUCCEEDED"
                run["finished_at"] = _now()
            else:
                run["state"] = "RUNNING"
        return _public(run)

    def create_recurring_run(self, request: Request) -> dict:
        body = _object(request.body, "recurring run")
        _only(body, RECURRING_INPUT_FIELDS, "recurring run")
        _name(body, "recurring run")
        self._experiment(body)
        self._spec_and_parameters(body)
        if body.get("mode") not in ("ENABLE", "DISABLE"):
            raise Rejected(400, f"mode must be ENABLE or DISABLE, not {body.get('mode')!r}")
        concurrency = _integer(body.get("max_concurrency", 1), "max_concurrency")
        if not 1 <= concurrency <= 10:
            raise Rejected(400, "max_concurrency must be in the range [1, 10]")
        trigger = _object(body.get("trigger"), "trigger")
        kinds = [k for k in ("cron_schedule", "periodic_schedule") if k in trigger]
        if len(kinds) != 1 or set(trigger) - set(kinds):
            raise Rejected(400, f"trigger needs exactly one of cron/periodic, got {list(trigger)}")
        schedule = _object(trigger[kinds[0]], kinds[0])
        if kinds[0] == "cron_schedule":
            _only(schedule, SCHEDULE_FIELDS | {"cron"}, "cron_schedule")
            cron = schedule.get("cron")
            if not isinstance(cron, str) or (not cron.startswith("@") and len(cron.split()) != 6):
                raise Rejected(400, f"cron {cron!r} is not six fields, seconds first")
        else:
            _only(schedule, SCHEDULE_FIELDS | {"interval_second"}, "periodic_schedule")
            if _integer(schedule.get("interval_second"), "interval_second") < 1:
                raise Rejected(400, "interval_second must be positive")
        job = {
            **body,
            "recurring_run_id": str(uuid.uuid4()),
            "created_at": _now(),
            "updated_at": _now(),
            "status": "ENABLED" if body["mode"] == "ENABLE" else "DISABLED",
            "max_concurrency": str(concurrency),
        }
        self.recurring_runs[job["recurring_run_id"]] = job
        return job

    # --- checks shared by runs and recurring runs --------------------------------------------

    def _experiment(self, body: dict) -> None:
        experiment_id = body.get("experiment_id")
        if experiment_id not in self.experiments:
            raise Rejected(404, f"Experiment {experiment_id} not found")

    def _spec_and_parameters(self, body: dict) -> dict:
        """The pipeline IR of ``body``, checked, and its parameters checked against it."""
        if ("pipeline_spec" in body) == ("pipeline_version_reference" in body):
            raise Rejected(400, "give exactly one of pipeline_spec and pipeline_version_reference")
        spec = _object(body["pipeline_spec"], "pipeline_spec")
        if "pipeline_spec" in spec:
            # With platform settings (kfp.kubernetes) the IR and the platform spec travel together.
            _only(spec, {"pipeline_spec", "platform_spec"}, "pipeline_spec")
            _object(spec.get("platform_spec"), "platform_spec")
            spec = _object(spec["pipeline_spec"], "pipeline_spec.pipeline_spec")
        _check_ir(spec)
        config = _object(body.get("runtime_config", {}), "runtime_config")
        _only(config, RUNTIME_CONFIG_FIELDS, "runtime_config")
        parameters = _object(config.get("parameters", {}), "runtime_config.parameters")
        declared = spec["root"].get("inputDefinitions", {}).get("parameters", {})
        for name, value in parameters.items():
            if name not in declared:
                raise Rejected(400, f"parameter {name!r} is not an input of the pipeline")
            kind = declared[name].get("parameterType")
            types = PARAMETER_TYPES.get(kind, (object,))
            wrong_bool = isinstance(value, bool) and kind != "BOOLEAN"
            if wrong_bool or not isinstance(value, types):
                raise Rejected(400, f"parameter {name!r} should be {kind}, not {value!r}")
        for name, definition in declared.items():
            optional = definition.get("isOptional") or "defaultValue" in definition
            if not optional and name not in parameters:
                raise Rejected(400, f"required parameter {name!r} is missing")
        return spec


def _check_ir(spec: dict) -> None:
    """What the API server needs of a compiled pipeline (PipelineSpec)."""
    for key in ("pipelineInfo", "root", "components", "deploymentSpec", "schemaVersion"):
        if key not in spec:
            raise Rejected(400, f"pipeline_spec has no {key}")
    if not spec["pipelineInfo"].get("name"):
        raise Rejected(400, "pipeline_spec.pipelineInfo.name is empty")
    tasks = spec["root"].get("dag", {}).get("tasks") or {}
    if not tasks:
        raise Rejected(400, "pipeline_spec.root.dag has no tasks")
    executors = spec["deploymentSpec"].get("executors", {})
    pending = list(tasks.items())
    while pending:
        name, task = pending.pop()
        component = task.get("componentRef", {}).get("name")
        if component not in spec["components"]:
            raise Rejected(400, f"task {name!r} refers to unknown component {component!r}")
        definition = spec["components"][component]
        if "dag" in definition:  # a sub-DAG (a condition, a loop): its tasks are checked too
            pending += list(definition["dag"].get("tasks", {}).items())
            continue
        label = definition.get("executorLabel")
        if label not in executors:
            raise Rejected(400, f"component {component!r} has no executor {label!r}")


def _filter(text: str) -> list[dict]:
    try:
        data = json.loads(text)
    except ValueError:
        raise Rejected(400, f"filter is not JSON: {text!r}") from None
    predicates = data.get("predicates") if isinstance(data, dict) else None
    if not isinstance(predicates, list):
        raise Rejected(400, "filter has no predicates")
    # grpc-gateway reads proto JSON: stringValue and string_value mean the same.
    return [
        {("string_value" if k == "stringValue" else k): v for k, v in p.items()} for p in predicates
    ]


def _object(value: Any, what: str) -> dict:
    if not isinstance(value, dict):
        raise Rejected(400, f"{what} should be an object, not {type(value).__name__}")
    return value


def _only(body: dict, allowed: set[str], what: str) -> None:
    extra = set(body) - allowed
    if extra:
        raise Rejected(400, f"{what} has fields a client may not set: {sorted(extra)}")


def _name(body: dict, what: str) -> None:
    name = body.get("display_name")
    if not isinstance(name, str) or not name.strip():
        raise Rejected(400, f"{what} display_name is required")


def _integer(value: Any, what: str) -> int:
    # Proto JSON writes int64 as a string and reads a number or a string.
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Rejected(400, f"{what} should be an integer, not {value!r}")
    try:
        return int(value)
    except ValueError:
        raise Rejected(400, f"{what} should be an integer, not {value!r}") from None


def _public(run: dict, *, details: bool = True) -> dict:
    """A run as the API answers: no private keys, task details when read one by one."""
    out = {k: v for k, v in run.items() if not k.startswith("_")}
    if details:
        done = run["state"] == "SUCCEEDED"
        out["run_details"] = {
            "task_details": [
                {
                    "run_id": run["run_id"],
                    "task_id": f"{run['run_id'][:8]}-{i}",
                    "display_name": name,
                    "create_time": run["created_at"],
                    "start_time": run["created_at"],
                    "end_time": _now() if done or i == 0 else NOT_YET,
                    "state": "SUCCEEDED" if done or i == 0 else "RUNNING",
                    "pod_name": f"tiny-{name}-{i}",
                }
                for i, name in enumerate(run["_tasks"])
            ]
        }
    return out


ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(rf"^{API}/healthz$"), "healthz"),
    ("GET", re.compile(rf"^{API}/experiments$"), "list_experiments"),
    ("POST", re.compile(rf"^{API}/experiments$"), "create_experiment"),
    ("POST", re.compile(rf"^{API}/runs$"), "create_run"),
    ("GET", re.compile(rf"^{API}/runs$"), "list_runs"),
    ("GET", re.compile(rf"^{API}/runs/([^/:]+)$"), "get_run"),
    ("POST", re.compile(rf"^{API}/recurringruns$"), "create_recurring_run"),
]


class _Handler(BaseHTTPRequestHandler):
    state: StandIn

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass  # keep test output quiet

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(method, parts.path, parse_qs(parts.query), headers)
        self.state.requests.append(request)
        try:
            if raw:
                if not self.headers.get("Content-Type", "").startswith("application/json"):
                    raise Rejected(400, "a body must be sent as application/json")
                try:
                    request.body = json.loads(raw)
                except ValueError:
                    raise Rejected(400, "the body is not JSON") from None
            if self.state.token and self.headers.get("Authorization") != (
                f"Bearer {self.state.token}"
            ):
                # Not a problem of the client's requests: the test chose a wrong token.
                self._send(401, {"error": "Unauthenticated", "code": 16, "message": "bad token"})
                return
            if self.state.login_page:
                self._send_html()
                return
            for route_method, pattern, name in ROUTES:
                match = pattern.match(parts.path)
                if match and route_method == method:
                    answer = getattr(self.state, name)(request, *match.groups())
                    self._send(200, answer)
                    return
            raise Rejected(404, f"no such endpoint: {method} {parts.path}")
        except Rejected as exc:
            if exc.status != 404 or not parts.path.startswith(f"{API}/runs/"):
                self.state.problems.append(f"{method} {parts.path}: {exc}")
            self._send(exc.status, {"error": str(exc), "code": 3, "message": str(exc)})

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_html(self) -> None:
        data = b"<html><body>Log in with OpenShift</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
