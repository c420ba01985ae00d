"""Deployments recorded in the model registry: the registry's serving environments and its
``InferenceService`` records, through its REST API (the official Python client has no call for
them). A record says what serves which model version; it serves nothing itself (the HTTP server
is :mod:`jukebox.serving.server`, the KServe resource :mod:`jukebox.serving.kserve`).

A record belongs to a serving environment (here ``jukebox-local`` for local servers,
or the KServe namespace), names the registered model and the model version it serves, the runtime,
and its desired state (``DEPLOYED`` or ``UNDEPLOYED``). The same calls work against the embedded
registry and a real Kubeflow Model Registry.
"""

from __future__ import annotations

from collections.abc import Mapping

import requests

from jukebox.config import Settings
from jukebox.errors import JukeboxError

API = "/api/model_registry/v1alpha3"


class RegistryRecordError(JukeboxError, RuntimeError):
    """The registry refused or could not be reached; the message says which."""


def _url(settings: Settings) -> str:
    from jukebox.registry.connection import registry_url

    return registry_url(settings) + API


def _call(settings: Settings, method: str, path: str, **kwargs) -> dict | None:
    headers = {"Accept": "application/json"}
    if settings.registry_token:
        headers["Authorization"] = f"Bearer {settings.registry_token}"
    try:
        response = requests.request(
            method, _url(settings) + path, headers=headers, timeout=10, **kwargs
        )
    except requests.RequestException as error:
        raise RegistryRecordError(
            f"Cannot reach the model registry to record the deployment ({type(error).__name__})."
        ) from None
    if response.status_code == 404 and method == "GET":
        return None
    if response.status_code >= 400:
        try:
            detail = response.json().get("message", response.text)
        except ValueError:
            detail = response.text
        raise RegistryRecordError(
            f"The model registry refused to record the deployment (HTTP "
            f"{response.status_code}): {detail}"
        )
    return response.json()


def _properties(values: Mapping[str, str]) -> dict:
    return {
        key: {"string_value": str(value), "metadataType": "MetadataStringValue"}
        for key, value in values.items()
    }


def ensure_serving_environment(settings: Settings, name: str, description: str = "") -> str:
    """The id of serving environment ``name``, created if it does not exist yet."""
    found = _call(settings, "GET", "/serving_environment", params={"name": name})
    if found:
        return str(found["id"])
    created = _call(
        settings,
        "POST",
        "/serving_environments",
        json={"name": name, "description": description or f"Jukebox serving: {name}"},
    )
    return str(created["id"])


def _model_ids(settings: Settings, model: str, version: str) -> tuple[str, str]:
    registered = _call(settings, "GET", "/registered_model", params={"name": model})
    if not registered:
        raise RegistryRecordError(f"No model named {model!r} is registered.")
    found = _call(
        settings,
        "GET",
        "/model_version",
        params={"name": str(version), "parentResourceId": registered["id"]},
    )
    if not found:
        raise RegistryRecordError(f"Model {model!r} has no registered version {version}.")
    return str(registered["id"]), str(found["id"])


def record_serving_in_registry(
    settings: Settings,
    *,
    environment: str,
    service_name: str,
    model: str,
    version: str,
    runtime: str,
    properties: Mapping[str, str] | None = None,
) -> str:
    """Create or update inference service ``service_name`` in ``environment`` so that it serves
    ``model`` ``version`` and is DEPLOYED; return its id."""
    environment_id = ensure_serving_environment(settings, environment)
    model_id, version_id = _model_ids(settings, model, version)
    existing = _call(
        settings,
        "GET",
        "/inference_service",
        params={"name": service_name, "parentResourceId": environment_id},
    )
    body = {
        "modelVersionId": version_id,
        "runtime": runtime,
        "desiredState": "DEPLOYED",
        "customProperties": _properties(properties or {}),
    }
    if existing and str(existing.get("registeredModelId")) == model_id:
        updated = _call(settings, "PATCH", f"/inference_services/{existing['id']}", json=body)
        return str(updated["id"])
    if existing:
        # The name now serves another model: the old record is closed, and a new one opened
        # under a name that says which model it serves.
        set_registry_record_state(settings, str(existing["id"]), "UNDEPLOYED")
        service_name = f"{service_name}-{model}"
    created = _call(
        settings,
        "POST",
        "/inference_services",
        json={
            "name": service_name,
            "registeredModelId": model_id,
            "servingEnvironmentId": environment_id,
            **body,
        },
    )
    return str(created["id"])


def set_registry_record_state(settings: Settings, service_id: str, state: str) -> None:
    """Set an inference service's desired state: ``DEPLOYED`` or ``UNDEPLOYED``."""
    _call(settings, "PATCH", f"/inference_services/{service_id}", json={"desiredState": state})


def registry_record(settings: Settings, service_id: str) -> dict | None:
    """A deployment's record (an inference service) as the registry stores it."""
    return _call(settings, "GET", f"/inference_services/{service_id}")
