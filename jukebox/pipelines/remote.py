"""Runs on a real Kubeflow Pipelines / OpenShift AI Data Science Pipelines, through ``kfp.Client``.

Everything that talks to a remote KFP lives here: submitting a compiled pipeline as a run or as a
recurring run, listing runs, reading one with its tasks, and following one until it ends. The
host is ``settings.kfp_host`` (``KFP_HOST``) and the bearer token ``settings.kfp_token``
(``KFP_TOKEN``, e.g. ``oc whoami --show-token``); the token is never logged nor put in a message.

The results are plain dataclasses (:class:`RemoteRun`, :class:`RemoteTask`,
:class:`RemoteSchedule`) so pages and the CLI never see ``kfp_server_api`` models, and every
failure a user can cause or fix (no host, unreachable host, refused token, unknown run, a cron
string KFP would misread) is a :class:`RemotePipelinesError` whose message says what to do.

Why a health probe before ``kfp.Client``: the client's constructor asks ``/healthz`` and, on any
API error (a refused token too), retries five times five seconds apart, and a host that never
answers has no timeout at all. The probe asks once, with a timeout, and turns the answer into a
sentence.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kfp_server_api
import urllib3
import yaml

from jukebox.config import Settings
from jukebox.errors import JukeboxError

log = logging.getLogger(__name__)

FINAL_STATES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "SKIPPED"})
"""Run states after which nothing changes any more."""

DEFAULT_EXPERIMENT = "jukebox"
PACKAGE_SUFFIXES = (".yaml", ".yml", ".zip", ".tar.gz", ".tgz")
"""What ``kfp.Client`` accepts as a compiled pipeline package."""

PROBE_TIMEOUT = (5.0, 30.0)
"""Connect and read timeouts of the health probe, in seconds."""

MAX_CONCURRENCY = 10
"""The API server refuses a recurring run whose ``max_concurrency`` is outside 1..10."""

CRON_DESCRIPTORS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?/,\-]+$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RemotePipelinesError(JukeboxError, RuntimeError):
    """The remote KFP cannot be used as asked; the message says why and what to do."""


class PipelinesNotConfigured(RemotePipelinesError):
    """No ``KFP_HOST`` is set, so there is no remote KFP to talk to."""


class PipelinesUnreachable(RemotePipelinesError):
    """Nothing answered at ``KFP_HOST``, or what answered is not a KFP API server."""


class PipelinesAuthError(RemotePipelinesError):
    """The KFP API server refused the token (401) or its access (403)."""


class RunNotFound(RemotePipelinesError):
    """The KFP API server has no run with the id asked for."""


class InvalidSchedule(RemotePipelinesError, ValueError):
    """A recurring run's schedule or settings that KFP would refuse or misread."""


class InvalidPackage(RemotePipelinesError, ValueError):
    """The pipeline package is missing or is not a compiled KFP pipeline."""


class FollowTimeout(RemotePipelinesError, TimeoutError):
    """A followed run had not ended when the time given ran out; ``run`` is its last state."""

    def __init__(self, message: str, run: RemoteRun) -> None:
        super().__init__(message)
        self.run = run


@dataclass(frozen=True)
class RemoteTask:
    """One task of a remote run, as ``run_details.task_details`` reports it."""

    id: str
    name: str
    state: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    pod_name: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class RemoteRun:
    """A run on the remote KFP: what the list and the details views show.

    ``state`` is KFP's ``RuntimeState`` name (``PENDING``, ``RUNNING``, ``SUCCEEDED``, ``FAILED``,
    ``CANCELING``, ``CANCELED``, ``SKIPPED``, ``PAUSED``, ``RUNTIME_STATE_UNSPECIFIED``).
    ``tasks`` is empty when the server sent no task details (lists never carry them).
    """

    id: str
    name: str
    state: str
    created_at: datetime | None = None
    finished_at: datetime | None = None
    experiment_id: str | None = None
    pipeline: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    tasks: tuple[RemoteTask, ...] = ()
    error: str | None = None
    recurring_run_id: str | None = None

    @property
    def finished(self) -> bool:
        """True once the run is in a final state: nothing about it will change any more."""
        return self.state in FINAL_STATES

    @property
    def succeeded(self) -> bool:
        """True when the run ended with every task done."""
        return self.state == "SUCCEEDED"


@dataclass(frozen=True)
class RemoteSchedule:
    """A recurring run on the remote KFP: one schedule that starts runs of the pipeline."""

    id: str
    name: str
    enabled: bool
    cron: str | None = None
    interval_seconds: int | None = None
    max_concurrency: int = 1
    experiment_id: str | None = None
    created_at: datetime | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


# --- validation, before any request --------------------------------------------------------------


def validate_cron(cron: str) -> str:
    """Return ``cron`` stripped if KFP reads it as meant, else raise :class:`InvalidSchedule`.

    KFP's scheduler (robfig/cron) wants SIX fields, seconds first: ``"0 0 6 * * *"`` is every
    day at 06:00. It also takes a five-field string but reads its first field as seconds, so the
    Unix ``"0 6 * * 1"`` would silently run on every hour's sixth minute in January; that is why
    five fields are refused here, with the six-field form to use instead. Descriptors such as
    ``@daily`` and ``@every 1h30m`` are accepted as they are.
    """
    text = " ".join((cron or "").split())
    if not text:
        raise InvalidSchedule("The cron schedule is empty: give six fields, e.g. '0 0 6 * * *'.")
    if text.startswith("@"):
        if text in CRON_DESCRIPTORS or re.fullmatch(r"@every \d+(\.\d+)?(ns|us|ms|s|m|h)+.*", text):
            return text
        raise InvalidSchedule(
            f"The cron schedule {text!r} is not one KFP knows: use six fields such as "
            "'0 0 6 * * *', or one of @hourly, @daily, @weekly, @monthly, @yearly, @every 1h."
        )
    fields = text.split(" ")
    if len(fields) == 5:
        raise InvalidSchedule(
            f"The cron schedule {text!r} has five fields, but KFP's cron has six with seconds "
            f"first and would read the first as seconds: write '0 {text}' instead."
        )
    if len(fields) != 6:
        raise InvalidSchedule(
            f"The cron schedule {text!r} has {len(fields)} fields; KFP's cron has six, seconds "
            "first: 'second minute hour day-of-month month day-of-week', e.g. '0 0 6 * * *'."
        )
    bad = [f for f in fields if not _CRON_FIELD.match(f)]
    if bad:
        raise InvalidSchedule(
            f"The cron schedule {text!r} has fields KFP cannot read ({', '.join(bad)}): each "
            "field holds numbers, names, '*', '?', ',', '-' or '/'."
        )
    return text


def _check_package(package_path: str | Path) -> Path:
    path = Path(package_path)
    if not path.name.endswith(PACKAGE_SUFFIXES):
        raise InvalidPackage(
            f"{path} is not a compiled pipeline package: compile the pipeline to a .yaml file "
            "first (python -m jukebox pipeline compile --output pipeline.yaml)."
        )
    if not path.is_file():
        raise InvalidPackage(
            f"The pipeline package {path} does not exist: compile the pipeline first "
            "(python -m jukebox pipeline compile --output pipeline.yaml)."
        )
    if path.suffix in (".yaml", ".yml"):
        # Read it here so a wrong file is named before any request, not half-way through them.
        try:
            first = next(iter(yaml.safe_load_all(path.read_text(encoding="utf-8"))), None)
        except (yaml.YAMLError, UnicodeDecodeError):
            first = None
        if not isinstance(first, Mapping) or not {"pipelineInfo", "root"} <= set(first):
            raise InvalidPackage(
                f"{path} is not a compiled KFP pipeline (no pipelineInfo and root): compile it "
                "with python -m jukebox pipeline compile --output pipeline.yaml."
            )
    return path


def _check_name(name: str, what: str) -> str:
    if not name or not name.strip():
        raise RemotePipelinesError(f"The {what} name is empty: give the {what} a name.")
    return name.strip()


# --- the client and its errors -------------------------------------------------------------------


def _host(settings: Settings) -> str:
    if not settings.kfp_host:
        raise PipelinesNotConfigured(
            "No remote Kubeflow Pipelines is configured: set KFP_HOST to the Data Science "
            "Pipelines route (and KFP_TOKEN to a token), or run the pipeline locally."
        )
    host = settings.kfp_host.strip().rstrip("/")
    # kfp.Client assumes https for a bare host name; say so in the messages by doing it here.
    return host if host.startswith(("http://", "https://")) else "https://" + host


def _error_detail(body: bytes | str | None) -> str:
    """The server's own words from a google.rpc.Status JSON body, if there is one."""
    if not body:
        return ""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return ""
    if isinstance(data, dict):
        return str(data.get("message") or data.get("error") or "").strip()
    return ""


def _api_error(exc: kfp_server_api.ApiException, host: str, doing: str) -> RemotePipelinesError:
    """Turn an API answer that is not 2xx into a sentence saying what to do."""
    status = exc.status or 0
    detail = _error_detail(getattr(exc, "body", None))
    said = f" (the server said: {detail})" if detail else ""
    if status == 0:
        return PipelinesUnreachable(
            f"Could not {doing} at {host}: the TLS connection failed ({exc.reason}). Check "
            "KFP_HOST, and that the route's certificate is trusted (REQUESTS_CA_BUNDLE)."
        )
    if status == 401:
        return PipelinesAuthError(
            f"Kubeflow Pipelines at {host} refused the token (401) when asked to {doing}: set "
            "KFP_TOKEN to a valid token, e.g. the output of 'oc whoami --show-token'."
        )
    if status == 403:
        return PipelinesAuthError(
            f"Kubeflow Pipelines at {host} denied access (403) when asked to {doing}{said}: "
            "give the token's user access to the project of the pipeline server, or use "
            "another token in KFP_TOKEN."
        )
    if status == 404:
        return PipelinesUnreachable(
            f"{host} has no Kubeflow Pipelines v2beta1 API (404 when asked to {doing}): set "
            "KFP_HOST to the pipeline server's route (Data Science Pipelines, KFP 2.x)."
        )
    return RemotePipelinesError(
        f"Kubeflow Pipelines at {host} could not {doing}: {status} {exc.reason}{said}."
    )


def _unreachable(exc: Exception, host: str, doing: str) -> PipelinesUnreachable:
    reason = getattr(exc, "reason", None) or exc
    return PipelinesUnreachable(
        f"Could not reach Kubeflow Pipelines at {host} to {doing} ({type(reason).__name__}): "
        "check KFP_HOST, that the route exists and that this machine can reach it."
    )


@contextlib.contextmanager
def _talking(host: str, doing: str, *, not_found: str | None = None) -> Iterator[None]:
    """Translate whatever the KFP client raises while ``doing`` into a RemotePipelinesError.

    ``not_found`` is the sentence for a 404 once the API is known to be there (the probe
    passed), when a 404 is about the thing asked for rather than the host.
    """
    try:
        yield
    except RemotePipelinesError:
        raise
    except kfp_server_api.ApiException as exc:
        if exc.status == 404 and not_found:
            raise RunNotFound(not_found) from None
        raise _api_error(exc, host, doing) from None
    except urllib3.exceptions.HTTPError as exc:
        raise _unreachable(exc, host, doing) from None
    except ValueError as exc:
        # kfp.Client raises ValueError for a package it cannot read or an ambiguous experiment.
        raise RemotePipelinesError(f"Could not {doing} at {host}: {exc}") from None


def _probe(host: str, token: str | None, ca_cert: str | None = None) -> None:
    """Ask ``/apis/v2beta1/healthz`` once, with a timeout; raise a sentence if it fails."""
    config = kfp_server_api.Configuration(host=host)
    config.retries = 0
    config.ssl_ca_cert = ca_cert
    if token:
        config.api_key["authorization"] = token
        config.api_key_prefix["authorization"] = "Bearer"
    api = kfp_server_api.HealthzServiceApi(kfp_server_api.ApiClient(config))
    with _talking(host, "check its health"):
        response = api.healthz_service_get_healthz(
            _preload_content=False, _request_timeout=PROBE_TIMEOUT
        )
    try:
        json.loads(response.data)
    except ValueError:
        # An OpenShift route behind an OAuth proxy answers a missing token with a login page.
        raise PipelinesAuthError(
            f"{host} answered with a web page instead of the Kubeflow Pipelines API, likely a "
            "login page: set KFP_TOKEN to a token ('oc whoami --show-token') and KFP_HOST to "
            "the pipeline server's API route."
        ) from None


def connect(settings: Settings):
    """A ``kfp.Client`` for the remote KFP, after a quick health probe that fails in a sentence.

    Kept public so the lead's code can reach calls this module does not wrap; the returned
    client holds the token, so never log it.
    """
    import kfp

    host = _host(settings)
    _probe(host, settings.kfp_token, settings.kfp_ca_cert)
    with _talking(host, "connect"), _quiet():
        return kfp.Client(
            host=host, existing_token=settings.kfp_token, ssl_ca_cert=settings.kfp_ca_cert
        )


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence what ``kfp.Client`` prints (links, a FutureWarning) so the CLI shows only ours."""
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink):
        warnings.simplefilter("ignore", FutureWarning)
        yield
    if sink.getvalue().strip():
        log.debug("kfp.Client said: %s", sink.getvalue().strip())


# --- conversions ---------------------------------------------------------------------------------


def _when(value: Any) -> datetime | None:
    """A timestamp, or None for KFP's "not yet" (absent, or 1970-01-01)."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return None if value <= _EPOCH else value


def _state(value: Any) -> str:
    return str(value or "RUNTIME_STATE_UNSPECIFIED")


def _message(error: Any) -> str | None:
    if error is None:
        return None
    text = error.get("message") if isinstance(error, Mapping) else getattr(error, "message", None)
    return str(text) if text else None


def _pipeline_name(spec: Any, reference: Any) -> str | None:
    if isinstance(spec, Mapping):
        # With kfp.kubernetes settings the spec is {"pipeline_spec": ..., "platform_spec": ...}.
        inner = spec.get("pipeline_spec", spec)
        info = inner.get("pipelineInfo") if isinstance(inner, Mapping) else None
        if isinstance(info, Mapping) and info.get("name"):
            return str(info["name"])
    if reference is not None and getattr(reference, "pipeline_id", None):
        return str(reference.pipeline_id)
    return None


def _parameters(runtime_config: Any) -> dict[str, Any]:
    params = getattr(runtime_config, "parameters", None)
    return dict(params) if isinstance(params, Mapping) else {}


def _task(detail: Any) -> RemoteTask:
    return RemoteTask(
        id=str(detail.task_id or ""),
        name=str(detail.display_name or detail.task_id or ""),
        state=_state(detail.state),
        started_at=_when(detail.start_time),
        finished_at=_when(detail.end_time),
        pod_name=detail.pod_name or None,
        error=_message(detail.error),
    )


def _run(run: Any) -> RemoteRun:
    details = getattr(run, "run_details", None)
    tasks = tuple(_task(t) for t in (getattr(details, "task_details", None) or ()))
    return RemoteRun(
        id=str(run.run_id),
        name=str(run.display_name or run.run_id),
        state=_state(run.state),
        created_at=_when(run.created_at),
        finished_at=_when(run.finished_at),
        experiment_id=run.experiment_id or None,
        pipeline=_pipeline_name(run.pipeline_spec, run.pipeline_version_reference),
        parameters=_parameters(run.runtime_config),
        tasks=tasks,
        error=_message(run.error),
        recurring_run_id=run.recurring_run_id or None,
    )


def _schedule(job: Any) -> RemoteSchedule:
    trigger = job.trigger
    cron = getattr(getattr(trigger, "cron_schedule", None), "cron", None)
    interval = getattr(getattr(trigger, "periodic_schedule", None), "interval_second", None)
    return RemoteSchedule(
        id=str(job.recurring_run_id),
        name=str(job.display_name or job.recurring_run_id),
        enabled=str(job.mode) == "ENABLE",
        cron=cron or None,
        interval_seconds=int(interval) if interval else None,
        max_concurrency=int(job.max_concurrency or 1),
        experiment_id=job.experiment_id or None,
        created_at=_when(job.created_at),
        parameters=_parameters(job.runtime_config),
    )


# --- what pages and the CLI call -----------------------------------------------------------------


def submit_run(
    settings: Settings,
    package_path: str | Path,
    arguments: Mapping[str, Any],
    *,
    run_name: str,
    experiment: str = DEFAULT_EXPERIMENT,
) -> RemoteRun:
    """Start one run of a compiled pipeline on the remote KFP, in ``experiment`` (made if new).

    The compiled IR travels with the run (``pipeline_spec``), so nothing has to be uploaded to
    the server's pipeline list first; ``arguments`` become the run's parameters.
    """
    path = _check_package(package_path)
    run_name = _check_name(run_name, "run")
    experiment = _check_name(experiment, "experiment")
    client = connect(settings)
    host = _host(settings)
    with _talking(host, f"start the run {run_name!r}"), _quiet():
        result = client.create_run_from_pipeline_package(
            str(path), arguments=dict(arguments), run_name=run_name, experiment_name=experiment
        )
    return _run(result.run_info)


def create_recurring_run(
    settings: Settings,
    package_path: str | Path,
    arguments: Mapping[str, Any],
    *,
    name: str,
    cron: str | None = None,
    interval_seconds: int | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    max_concurrency: int = 1,
) -> RemoteSchedule:
    """Schedule runs of a compiled pipeline: by a six-field ``cron`` or every ``interval_seconds``.

    Exactly one of the two is given. Everything is checked before any request, so a schedule
    that KFP would refuse or misread never reaches the server.
    """
    if (cron is None) == (interval_seconds is None):
        raise InvalidSchedule(
            "Give exactly one schedule: a six-field cron such as '0 0 6 * * *', or an interval "
            "in seconds."
        )
    if cron is not None:
        cron = validate_cron(cron)
    if interval_seconds is not None and (
        isinstance(interval_seconds, bool) or int(interval_seconds) < 1
    ):
        raise InvalidSchedule(
            f"The interval {interval_seconds!r} is not a positive number of seconds: give one "
            "of at least 1, e.g. 86400 for once a day."
        )
    if not 1 <= max_concurrency <= MAX_CONCURRENCY:
        raise InvalidSchedule(
            f"max_concurrency {max_concurrency} is outside 1..{MAX_CONCURRENCY}, the range KFP "
            "accepts: give how many of its runs may go on at once."
        )
    path = _check_package(package_path)
    name = _check_name(name, "recurring run")
    experiment = _check_name(experiment, "experiment")
    client = connect(settings)
    host = _host(settings)
    with _talking(host, f"create the recurring run {name!r}"), _quiet():
        experiment_id = client.create_experiment(name=experiment).experiment_id
        job = client.create_recurring_run(
            experiment_id=experiment_id,
            job_name=name,
            cron_expression=cron,
            interval_second=int(interval_seconds) if interval_seconds is not None else None,
            max_concurrency=max_concurrency,
            params=dict(arguments),
            pipeline_package_path=str(path),
            enabled=True,
        )
    return _schedule(job)


def list_runs(settings: Settings, *, page_size: int = 50) -> list[RemoteRun]:
    """The newest ``page_size`` runs on the remote KFP, newest first (no task details)."""
    client = connect(settings)
    with _talking(_host(settings), "list runs"):
        response = client.list_runs(page_size=page_size, sort_by="created_at desc")
    return [_run(r) for r in (response.runs or [])]


def get_run(settings: Settings, run_id: str) -> RemoteRun:
    """One run with its tasks' states, when the server reports them."""
    client = connect(settings)
    return _get(client, _host(settings), run_id)


def _get(client: Any, host: str, run_id: str) -> RemoteRun:
    missing = (
        f"There is no run {run_id!r} on Kubeflow Pipelines at {host}: list the runs "
        "(python -m jukebox pipeline runs) to find its id."
    )
    with _talking(host, f"read the run {run_id}", not_found=missing):
        return _run(client.get_run(run_id))


def follow_run(
    settings: Settings,
    run_id: str,
    *,
    poll: float = 5,
    timeout: float | None = None,
    on_change: Callable[[RemoteRun], None] | None = None,
) -> RemoteRun:
    """Ask for a run every ``poll`` seconds until it is in a final state, and return it.

    ``on_change`` is called with the run whenever its state or one of its tasks' states has
    changed since the last look (and once at the start), so a page or the CLI can show progress.
    Raises :class:`FollowTimeout` (carrying the last state) if ``timeout`` seconds go by first.
    """
    client = connect(settings)
    host = _host(settings)
    deadline = None if timeout is None else time.monotonic() + timeout
    seen: tuple | None = None
    while True:
        run = _get(client, host, run_id)
        look = (run.state, tuple((t.id, t.state) for t in run.tasks))
        if look != seen:
            seen = look
            if on_change is not None:
                on_change(run)
        if run.finished:
            return run
        if deadline is not None and time.monotonic() + poll > deadline:
            raise FollowTimeout(
                f"The run {run.name!r} is still {run.state} after {timeout:g} s: follow it "
                "again later, or look at it in the Data Science Pipelines dashboard.",
                run,
            )
        time.sleep(poll)
