"""The one place that reaches past the public methods of the official ``model-registry`` client.

Its by-name methods look the parent up again on every call (a version by name costs 2 requests,
its artifact 3). Pages read a lot, so reads go by id through the client's API layer
(``ModelRegistry._api``, a ``model_registry.core.ModelRegistryAPIClient``) once the registered
model is known: one request each. That layer is private and a release of the package may change
it, so every use of it is here, where an upgrade has one module to check (the tests of
:mod:`jukebox.registry` run against the real package and server).
"""

from __future__ import annotations

from typing import Any


def all_pages(pager) -> list:
    """Every item of a listing of the official client, oldest first, in pages of 100."""
    return list(pager.page_size(100).order_by_id().ascending())


def certificate(client) -> str | None:
    """The certificates (PEM) the client loads for a request; None means the system CA store."""
    return client._api.config.ca_cert_data


def use_certificate(client, pem: str | None) -> None:
    """Make the client load only ``pem`` (None: the system CA store) for each request's SSL context.

    Over plain http no TLS happens, yet the client builds an SSL context for every request,
    loading the whole system CA store each time (50-200 ms, most of a request's cost).
    """
    client._api.config.ca_cert_data = pem


def versions_of(client, model_id: str) -> list:
    """Every version of the registered model ``model_id``, oldest first."""
    from model_registry.types import Pager

    return all_pages(
        Pager(
            lambda options: client.async_runner(client._api.get_model_versions(model_id, options))
        )
    )


def version_by_name(client, model_id: str, version: str) -> Any | None:
    """Version ``version`` of the registered model ``model_id``, or None."""
    return client.async_runner(client._api.get_model_version_by_params(model_id, str(version)))


def model_artifact_uri(client, version_id: str) -> str | None:
    """The URI of the model artifact of the version ``version_id``, if it has one."""
    from model_registry.types import ModelArtifact

    artifacts = client.async_runner(client._api.get_model_version_artifacts(version_id))
    return next((a.uri for a in artifacts if isinstance(a, ModelArtifact)), None)


def create_registered_model(client, name: str):
    """Create the registered model ``name``, owned by the client's author.

    Raises the official ``ConflictException`` if another process created it first, which
    ``register_model`` would not let a caller tell apart from other failures.
    """
    from model_registry.types import RegisteredModel

    return client.async_runner(
        client._api.upsert_registered_model(RegisteredModel(name=name, owner=client._author))
    )


def add_model_artifact(client, artifact, version_id: str):
    """Attach ``artifact`` (a ``ModelArtifact``) to the version ``version_id``."""
    return client.async_runner(client._api.upsert_model_version_artifact(artifact, version_id))


# Experiments and runs. The official client's public methods create runs only inside its
# ``start_experiment_run`` block and log each metric once; a training logs a value per epoch,
# ends its run with a status and is linked to a version later, so these use its API layer.


def _generated(client, call):
    """``call(api)`` with the client's generated ``ModelRegistryServiceApi``."""

    async def go():
        async with client._api.get_client() as api:
            return await call(api)

    return client.async_runner(go())


def ensure_experiment(client, name: str) -> str:
    """The id of the experiment ``name``, created if it does not exist yet."""
    from model_registry.types import Experiment

    found = client.async_runner(client._api.get_experiment_by_name(name))
    if found is None:
        found = client.async_runner(client._api.upsert_experiment(Experiment(name=name)))
    return str(found.id)


def create_run(
    client, experiment_id: str, *, name: str, description: str, properties: dict, started: int
):
    """A new run of the experiment, RUNNING since ``started`` (epoch milliseconds)."""
    from model_registry.types import ExperimentRun

    run = ExperimentRun(
        name=name,
        experiment_id=experiment_id,
        description=description or None,
        custom_properties=properties,
    )
    return _generated(
        client,
        lambda api: api.create_experiment_run(
            run.create(status="RUNNING", startTimeSinceEpoch=str(started))
        ),
    )


def get_run(client, run_id: str):
    return _generated(client, lambda api: api.get_experiment_run(str(run_id)))


def _update_run(client, run_id: str, **changes):
    """Update a run, keeping what ``changes`` leaves out: the generated update body sends
    ``status: RUNNING`` unless told otherwise, and replaces the custom properties."""
    from mr_openapi import ExperimentRunUpdate

    current = get_run(client, run_id)
    properties = {
        **(current.custom_properties or {}),
        **(changes.pop("customProperties", None) or {}),
    }
    body = ExperimentRunUpdate(
        status=changes.pop("status", current.status),
        endTimeSinceEpoch=changes.pop("endTimeSinceEpoch", current.end_time_since_epoch),
        customProperties=properties,
        **changes,
    )
    return _generated(client, lambda api: api.update_experiment_run(str(run_id), body))


def _metadata(properties: dict) -> dict:
    from model_registry.types import ExperimentRun

    return ExperimentRun(
        name="-", experiment_id="-", custom_properties=properties
    )._map_custom_properties()


def unmapped_properties(properties) -> dict:
    """Custom properties of a generated model as plain values."""
    from model_registry.types import ExperimentRun

    return ExperimentRun._unmap_custom_properties(properties) if properties else {}


def end_run(client, run_id: str, *, status: str, ended: int, properties: dict) -> None:
    _update_run(
        client,
        run_id,
        status=status,
        endTimeSinceEpoch=str(ended),
        customProperties=_metadata(properties),
    )


def update_run_properties(client, run_id: str, properties: dict) -> None:
    _update_run(client, run_id, customProperties=_metadata(properties))


def log_param(client, run_id: str, name: str, value) -> None:
    from model_registry.types import Parameter, ParameterType

    kind = (
        ParameterType.BOOLEAN
        if isinstance(value, bool)
        else ParameterType.NUMBER
        if isinstance(value, int | float)
        else ParameterType.STRING
    )
    parameter = Parameter(name=name, value=value, parameter_type=kind)
    client.async_runner(client._api.upsert_experiment_run_artifact(str(run_id), parameter))


def log_metric(client, run_id: str, name: str, value: float, step: int, timestamp: int) -> None:
    """Log one value of a metric; the registry keeps every (step, value) as its history."""
    from model_registry.types import Metric

    metric = Metric(name=name, value=value, step=step, timestamp=str(timestamp))
    client.async_runner(client._api.upsert_experiment_run_artifact(str(run_id), metric))


def log_run_artifact(client, run_id: str, name: str, uri: str) -> None:
    """Log ``uri`` (a training's bundle) as an artifact of the run."""
    from model_registry.types import ModelArtifact

    artifact = ModelArtifact(name=name, uri=uri)
    client.async_runner(client._api.upsert_experiment_run_artifact(str(run_id), artifact))


def link_version_artifact(client, run_id: str, version_id: str) -> None:
    """Make the model artifact of the version ``version_id`` an artifact of the run as well."""
    from model_registry.types import ModelArtifact

    artifacts = client.async_runner(client._api.get_model_version_artifacts(str(version_id)))
    artifact = next((a for a in artifacts if isinstance(a, ModelArtifact)), None)
    if artifact is not None:
        client.async_runner(client._api.upsert_experiment_run_artifact(str(run_id), artifact))


def runs_of(client, experiment: str) -> list:
    """Every run of the experiment named ``experiment``, oldest first (none if it is unknown).

    Read with the generated models, which carry a run's status and times."""
    from model_registry.types import ListOptions

    found = client.async_runner(client._api.get_experiment_by_name(experiment))
    if found is None:
        return []
    runs, token = [], None
    while True:
        options = ListOptions.order_by_id(limit=100, next_page_token=token)
        page = _generated(
            client,
            lambda api, options=options: api.get_experiment_experiment_runs(
                str(found.id), **options.as_options()
            ),
        )
        runs += page.items or []
        token = page.next_page_token
        if not token or not page.items:
            return runs


def run_logs(client, run_id: str) -> list:
    """The parameters, metrics (their last values) and artifacts of a run."""
    return all_pages(client.get_experiment_run_logs(run_id=str(run_id)))


def metric_history(client, run_id: str) -> list:
    """Every value logged for the run's metrics (generated ``Metric`` models)."""
    entries, token = [], None
    while True:
        page = _generated(
            client,
            lambda api, token=token: api.get_experiment_run_metric_history(
                str(run_id), page_size="1000", next_page_token=token
            ),
        )
        entries += page.items or []
        token = page.next_page_token
        if not token or not page.items:
            return entries
