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
