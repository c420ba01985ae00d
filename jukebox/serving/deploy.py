"""Local deployments: named inference servers running as background jobs.

A deployment has a stable **name** (also the model name in its URLs, ``/v2/models/<name>``) and a
record, ``JUKEBOX_HOME/deployments/<name>.json``, that points at the server job currently
serving it. The job (kind ``serve``, see :mod:`jukebox.jobs`) reports its endpoint, model
version and state in its ``status.json``, so a page reload finds everything again from files.

Replacing a version never drops a request: the new server is started and must answer ready,
then the record is switched to it in one atomic file replace, then the old server is stopped
after a short grace period, and on SIGTERM it still answers every request it has received.
Clients that resolve the name at each request (:func:`endpoint_of`; the Predict page lists the
deployments again at each run) therefore never meet a stopped server. A replaced deployment's
port changes; its name does not.

Recording a deployment in the model registry (an inference service linked to the model version
in a serving environment) is :func:`record_deployment`, separate from deploying so that a
deployment works, and is tested, without a registry.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jukebox.config import Settings
from jukebox.errors import JukeboxError
from jukebox.jobs import (
    Job,
    load_job,
    read_status_as,
    start_job,
    stop_job,
    update_status_as,
    write_json_atomic,
)
from jukebox.model.scan import refuse_unsafe, scan_cache_dir, scan_path
from jukebox.serving.client import server_ready
from jukebox.serving.registry_records import record_serving_in_registry, set_registry_record_state
from jukebox.serving.workers import check_workers

JOB_KIND = "serve"
TOKEN_ENV = "JUKEBOX_SERVING_TOKEN"
START_TIMEOUT = 90.0
SERVING_ENVIRONMENT = "jukebox-local"
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class DeploymentError(JukeboxError, RuntimeError):
    """A deployment could not be made, found or changed; the message says why and what to do."""


@dataclass(frozen=True)
class ServerStatus:
    """What a server job (``python -m jukebox serve --job-dir``) reports in ``status.json``.

    ``state``: ``starting`` → ``ready`` → ``stopped``, or ``failed`` with ``error``. Once ready:
    where it listens, what it serves (``bundle`` is the directory it loaded, fetched from the
    registry or given), the sha256 of ``model.onnx`` and whether it wants a token.
    """

    state: str = "starting"
    pid: int | None = None
    host: str | None = None
    port: int | None = None
    endpoint: str | None = None
    model: str | None = None
    version: str | None = None
    registered_model: str | None = None
    sha256: str | None = None
    bundle: str | None = None
    labels: list[str] = field(default_factory=list)
    auth: bool = False
    grpc_port: int | None = None
    """Where the protocol's gRPC form is served too (``--grpc-port``), if it is."""
    logging: bool = False
    """Whether answered inferences go to a payload logger (off with ``--no-log``)."""
    workers: int = 1
    """Server processes sharing the port (``--workers``); ``pid`` is the first of them."""
    worker_pids: list[int] = field(default_factory=list)
    error: str | None = None

    @classmethod
    def read(cls, job: Job | None) -> ServerStatus:
        return read_status_as(cls, job.dir) if job else cls()


def report_server_status(job_dir: Path | None, **changes) -> None:
    """Merge ``changes`` (:class:`ServerStatus` fields) into a server job's ``status.json``."""
    update_status_as(ServerStatus, job_dir, **changes)


@dataclass(frozen=True)
class Deployment:
    """What a deployment is and how it runs now (state comes from its job, read fresh)."""

    name: str
    model: str | None
    version: str
    bundle: str | None
    job_id: str
    state: str
    endpoint: str | None
    created: float
    updated: float
    auth: bool = False
    sha256: str | None = None
    served_bundle: str | None = None
    """The bundle directory the server loaded (the registry's fetched copy, or ``bundle``)."""
    error: str | None = None
    registry_id: str | None = None
    grpc_address: str | None = None
    """``host:port`` of the protocol's gRPC form, which every local server serves beside REST."""

    @property
    def ready(self) -> bool:
        return self.state == "ready" and bool(self.endpoint)

    @property
    def source(self) -> str:
        """Where the model came from, for tables: ``model v3`` or the bundle path."""
        return f"{self.model} v{self.version}" if self.model else f"{self.bundle} (v{self.version})"


def check_deployment_name(name: str) -> str:
    """A deployment name must fit a URL path and a Kubernetes name: ``a-z``, ``0-9``, ``-``."""
    name = (name or "").strip()
    if not NAME_PATTERN.match(name):
        raise DeploymentError(
            f"{name!r} cannot name a deployment: use 1 to 63 lowercase letters, digits and "
            "dashes, starting and ending with a letter or digit (e.g. song-charts)."
        )
    return name


def suggest_name(model: str) -> str:
    """A valid deployment name made from a model name (``Song Charts_v2`` → ``song-charts-v2``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", model.lower()).strip("-")[:63].strip("-")
    return slug or "jukebox"


def propose_name(model: str, version: str | int, taken: Iterable[str]) -> str:
    """A deployment name no deployment uses yet: the model's own (``jukebox``) for the first,
    then one that says the version (``jukebox-v2``), so a second version is deployed beside the
    first instead of replacing it by accident."""
    taken = set(taken)
    base = suggest_name(model)
    if base not in taken:
        return base
    versioned = f"{base[:55].strip('-')}-v{suggest_name(str(version))}"[:63].strip("-")
    candidate, n = versioned, 2
    while candidate in taken:
        candidate, n = f"{versioned[:58]}-{n}", n + 1
    return candidate


def _records_dir(settings: Settings) -> Path:
    return settings.deployments_dir


def _record_path(settings: Settings, name: str) -> Path:
    return _records_dir(settings) / f"{name}.json"


def _read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _job(settings: Settings, job_id: str) -> Job | None:
    return load_job(settings.jobs_dir(JOB_KIND) / job_id)


def _deployment(settings: Settings, record: dict) -> Deployment:
    job = _job(settings, record["job_id"])
    alive = job.is_alive() if job else False
    status = ServerStatus.read(job)
    reported = status.state
    if alive:
        state = reported if reported in ("starting", "ready") else "stopping"
    else:
        # A server stopped on purpose says so; one that vanished otherwise has failed.
        state = "stopped" if reported == "stopped" else "failed"
    return Deployment(
        name=record["name"],
        model=record.get("model"),
        version=str(record.get("version") or status.version or "1"),
        bundle=record.get("bundle"),
        job_id=record["job_id"],
        state=state,
        endpoint=status.endpoint if alive else None,
        created=float(record.get("created", 0)),
        updated=float(record.get("updated", 0)),
        auth=status.auth,
        sha256=status.sha256,
        served_bundle=status.bundle,
        error=status.error or (None if alive or state == "stopped" else _log_error(job)),
        registry_id=record.get("registry_id"),
        grpc_address=f"{status.host}:{status.grpc_port}" if alive and status.grpc_port else None,
    )


def _log_error(job: Job | None) -> str | None:
    if job is None:
        return "its server job is gone"
    lines = [line for line in job.log_tail(20).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["the server exited without a word"])[-1].removeprefix("error: ")


def list_deployments(settings: Settings) -> list[Deployment]:
    """Every local deployment, by name, with its state read from its job now."""
    root = _records_dir(settings)
    if not root.is_dir():
        return []
    records = (_read_record(path) for path in sorted(root.glob("*.json")))
    return [_deployment(settings, r) for r in records if r and "job_id" in r]


def get_deployment(settings: Settings, name: str) -> Deployment:
    record = _read_record(_record_path(settings, name))
    if record is None:
        raise DeploymentError(f"There is no deployment named {name!r}: deploy a model first.")
    return _deployment(settings, record)


def endpoint_of(settings: Settings, name: str) -> str:
    """The URL serving deployment ``name`` right now; resolve it at each request, since a
    replacement moves the deployment to a new server."""
    deployment = get_deployment(settings, name)
    if not deployment.ready:
        raise DeploymentError(
            f"Deployment {name!r} is {deployment.state}"
            + (f" ({deployment.error})" if deployment.error else "")
            + ": replace it to start it again."
        )
    return deployment.endpoint  # type: ignore[return-value]


def health(settings: Settings, name: str, token: str | None = None) -> dict:
    """Whether the deployment's process runs and its server answers ready, right now."""
    deployment = get_deployment(settings, name)
    answering = bool(deployment.endpoint) and server_ready(
        deployment.endpoint, deployment.name, token=token or settings.serving_token
    )
    return {
        "name": name,
        "state": deployment.state,
        "endpoint": deployment.endpoint,
        "answering": answering,
        "healthy": deployment.ready and answering,
    }


# --- starting and stopping ----------------------------------------------------------------------


def _serve_args(
    name: str,
    model: str | None,
    version: str | None,
    bundle_dir: str | Path | None,
    port: int,
    log: bool = True,
    workers: int = 1,
) -> list[str]:
    if (model is None) == (bundle_dir is None):
        raise DeploymentError("Deploy either a registered model version or a bundle directory.")
    args = ["-m", "jukebox", "serve", "--name", name, "--host", "127.0.0.1", "--port", str(port)]
    # gRPC on a free port beside REST, as KServe's OpenVINO Model Server serves both.
    args += ["--grpc-port", "0"]
    if model is not None:
        if not version:
            raise DeploymentError(f"Choose which version of {model!r} to deploy.")
        args += ["--model", model, "--version", str(version)]
    else:
        bundle = Path(bundle_dir).expanduser().resolve()  # type: ignore[arg-type]
        if not (bundle / "model.onnx").is_file():
            raise DeploymentError(
                f"{bundle} holds no model.onnx: choose a bundle directory written by the Export "
                "page."
            )
        args += ["--bundle", str(bundle), "--version", str(version or "1")]
    if not log:
        args.append("--no-log")
    if workers != 1:
        args += ["--workers", str(workers)]
    return [*args, "--job-dir", "{job_dir}"]


def start_server(
    settings: Settings,
    name: str,
    *,
    model: str | None = None,
    version: str | None = None,
    bundle_dir: str | Path | None = None,
    token: str | None = None,
    port: int = 0,
    log: bool = True,
    workers: int = 1,
) -> Job:
    """Start a server job for a registered version or a bundle; it reports when ready. With
    ``log`` False, its inferences are not handed to the payload log (``serve --no-log``); with
    ``workers`` above 1, that many processes share its port (``serve --workers``). A bundle
    whose files modelscan finds unsafe is refused here, before any process starts
    (:class:`~jukebox.model.scan.UnsafeModelError`); the server scans again before loading,
    and so checks a registered version it fetches itself."""
    try:
        check_workers(workers)
    except JukeboxError as error:
        raise DeploymentError(str(error)) from None
    args = _serve_args(check_deployment_name(name), model, version, bundle_dir, port, log, workers)
    if bundle_dir is not None:
        refuse_unsafe(scan_path(bundle_dir, cache_dir=scan_cache_dir(settings)), "deploy")
    env = {TOKEN_ENV: token} if token else None
    return start_job(settings, JOB_KIND, args, env=env)


def wait_ready(
    job: Job,
    timeout: float = START_TIMEOUT,
    on_progress: Callable[[str], None] | None = None,
) -> ServerStatus:
    """Wait until the job's server answers ready; raise with the job's own error if it fails."""
    deadline = time.monotonic() + timeout
    said = None
    while time.monotonic() < deadline:
        status = ServerStatus.read(job)
        state = status.state
        if on_progress and state != said:
            on_progress(state)
            said = state
        if state == "ready" and server_ready(status.endpoint or "", timeout=2.0):
            return status
        if state == "failed" or not job.is_alive():
            message = status.error or _log_error(job)
            raise DeploymentError(f"The server did not start: {message}")
        time.sleep(0.1)
    stop_job(job)
    raise DeploymentError(
        f"The server was not ready after {timeout:g} s and was stopped; see its log in {job.dir}."
    )


def _serve_new_server(
    settings: Settings,
    name: str,
    *,
    model: str | None,
    version: str | None,
    bundle_dir: str | Path | None,
    token: str | None,
    port: int,
    timeout: float,
    on_progress: Callable[[str], None] | None,
    on_started: Callable[[dict], None] | None = None,
    log: bool = True,
    workers: int = 1,
) -> dict:
    """Start a server job for ``name`` and wait until it answers ready; stop it if it does not.

    Returns the record fields that point a deployment at the new server. ``on_started`` gets
    them before the wait, for a caller that must show the deployment starting; an exception it
    raises, like a failed start, stops the new server.
    """
    job = start_server(
        settings,
        name,
        model=model,
        version=version,
        bundle_dir=bundle_dir,
        token=token,
        port=port,
        log=log,
        workers=workers,
    )
    fields = {
        "job_id": job.id,
        "model": model,
        "version": str(version or "1"),
        "bundle": str(Path(bundle_dir).resolve()) if bundle_dir else None,
        "updated": time.time(),
    }
    try:
        if on_started:
            on_started(fields)
        wait_ready(job, timeout, on_progress)
    except BaseException:
        stop_job(job)
        raise
    return fields


def deploy_local(
    settings: Settings,
    name: str,
    *,
    model: str | None = None,
    version: str | None = None,
    bundle_dir: str | Path | None = None,
    token: str | None = None,
    port: int = 0,
    timeout: float = START_TIMEOUT,
    on_progress: Callable[[str], None] | None = None,
    log: bool = True,
    workers: int = 1,
) -> Deployment:
    """Start a server for a new deployment ``name`` and return it once it answers ready; with
    ``log`` False its inferences are not handed to the payload log; with ``workers`` above 1,
    that many server processes share its port (throughput grows with cores)."""
    name = check_deployment_name(name)
    path = _record_path(settings, name)
    existing = _read_record(path)
    if existing is not None:
        current = _deployment(settings, existing)
        if current.state in ("starting", "ready", "stopping"):
            raise DeploymentError(
                f"Deployment {name!r} already runs {current.source}: replace it, or stop it "
                "first, or choose another name."
            )

    def show_starting(fields: dict) -> None:
        # Written before waiting, so a page reloaded during start-up shows the deployment starting.
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"name": name, **fields, "created": fields["updated"]})

    try:
        _serve_new_server(
            settings,
            name,
            model=model,
            version=version,
            bundle_dir=bundle_dir,
            token=token,
            port=port,
            timeout=timeout,
            on_progress=on_progress,
            on_started=show_starting,
            log=log,
            workers=workers,
        )
    except BaseException:
        if existing is None:
            path.unlink(missing_ok=True)
        else:
            write_json_atomic(path, existing)
        raise
    return get_deployment(settings, name)


def replace_deployment(
    settings: Settings,
    name: str,
    *,
    model: str | None = None,
    version: str | None = None,
    bundle_dir: str | Path | None = None,
    token: str | None = None,
    grace_seconds: float = 1.0,
    timeout: float = START_TIMEOUT,
    on_progress: Callable[[str], None] | None = None,
    log: bool = True,
    workers: int = 1,
) -> Deployment:
    """Serve another version under ``name`` without dropping a request: start the new server,
    wait until it answers, switch the record to it atomically, then stop the old one (which
    drains). If the new server fails, the old one keeps serving, untouched."""
    path = _record_path(settings, name)
    old = _read_record(path)
    if old is None:
        raise DeploymentError(f"There is no deployment named {name!r} to replace.")
    fields = _serve_new_server(
        settings,
        name,
        model=model,
        version=version,
        bundle_dir=bundle_dir,
        token=token,
        port=0,
        timeout=timeout,
        on_progress=on_progress,
        log=log,
        workers=workers,
    )
    # A canary's router and its servers are replaced too: the new record has neither.
    kept = {k: v for k, v in old.items() if k not in ("canary", "upstream_job_ids")}
    write_json_atomic(path, {**kept, **fields, "replaced_job_id": old["job_id"]})
    if on_progress:
        on_progress("switched")
    # Clients that read the old endpoint just before the switch finish within the grace period.
    time.sleep(grace_seconds)
    old_job = _job(settings, old["job_id"])
    if old_job is not None:
        stop_job(old_job)
    _stop_upstreams(settings, old)
    return get_deployment(settings, name)


def deploy_or_replace(settings: Settings, name: str, **kwargs) -> Deployment:
    """Deploy under ``name``, replacing what it serves if the deployment exists (running or
    not): what the Deploy page's one button does. Keyword arguments as :func:`deploy_local`."""
    name = check_deployment_name(name)
    if _read_record(_record_path(settings, name)) is None:
        return deploy_local(settings, name, **kwargs)
    kwargs.pop("port", None)
    return replace_deployment(settings, name, **kwargs)


def deploy_and_record(settings: Settings, name: str, **kwargs) -> tuple[Deployment, str]:
    """Deploy (or replace) ``name`` as :func:`deploy_or_replace` does, then record a deployment
    of a registered version in the model registry.

    Returns the deployment and a sentence on the registry record: a deployment that serves is
    kept even when the registry cannot record it, and the sentence says why.
    """
    deployment = deploy_or_replace(settings, name, **kwargs)
    if not deployment.model:
        return deployment, ""
    try:
        record_deployment(settings, deployment)
    except JukeboxError as error:
        return deployment, f"It is not recorded in the model registry: {error}"
    return deployment, "Recorded in the model registry."


def stop_deployment(settings: Settings, name: str, *, forget: bool = True) -> None:
    """Stop the deployment's server (it answers what it has received first) and, unless
    ``forget`` is False, remove the deployment from the list."""
    path = _record_path(settings, name)
    record = _read_record(path)
    if record is None:
        raise DeploymentError(f"There is no deployment named {name!r}.")
    job = _job(settings, record["job_id"])
    if job is not None:
        stop_job(job)
    _stop_upstreams(settings, record)
    if forget:
        path.unlink(missing_ok=True)


def _stop_upstreams(settings: Settings, record: dict) -> None:
    """Stop the servers a canary router forwarded to (:mod:`jukebox.serving.canary`), once the
    router itself has stopped: they serve nobody else."""
    for job_id in record.get("upstream_job_ids", []):
        job = _job(settings, job_id)
        if job is not None:
            stop_job(job)


# --- the model registry -------------------------------------------------------------------------


def record_deployment(settings: Settings, deployment: Deployment) -> str:
    """Record ``deployment`` in the model registry: an inference service of the registered model,
    pointing at the deployed version, in the serving environment ``jukebox-local``. Returns the
    inference service's id. Needs a deployment of a registered version (not a bare bundle).

    Uses the registry's REST API (``/api/model_registry/v1alpha3``) through the registry façade's
    connection settings; the official Python client offers no call for these resources.
    """
    if not deployment.model:
        raise DeploymentError(
            "Only a registered model version can be recorded in the registry; this deployment "
            "serves a bundle directory."
        )
    service_id = record_serving_in_registry(
        settings,
        environment=SERVING_ENVIRONMENT,
        service_name=deployment.name,
        model=deployment.model,
        version=deployment.version,
        runtime="jukebox-oip-onnxruntime",
        properties={"endpoint": deployment.endpoint or "", "job_id": deployment.job_id},
    )
    path = _record_path(settings, deployment.name)
    record = _read_record(path)
    if record is not None and record.get("job_id") == deployment.job_id:
        write_json_atomic(path, {**record, "registry_id": service_id})
    return service_id


def unrecord_deployment(settings: Settings, deployment: Deployment) -> None:
    """Mark the deployment's inference service UNDEPLOYED in the registry (kept as history)."""
    if deployment.registry_id:
        set_registry_record_state(settings, deployment.registry_id, "UNDEPLOYED")
