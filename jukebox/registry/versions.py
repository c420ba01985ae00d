"""Registered models and their versions: reading them, and changing a version's lifecycle.

A version is read as a :class:`VersionInfo` (what the registry records about it, see
:mod:`jukebox.registry.properties`); archiving, restoring and marking for production change it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mr_openapi import ModelVersionState

from jukebox.config import Settings, load_settings
from jukebox.registry import official_api
from jukebox.registry.bundles import InvalidNameError, check_model_name, stored_versions
from jukebox.registry.connection import connect, official_errors
from jukebox.registry.errors import RegistryError, VersionNotFoundError
from jukebox.registry.properties import (
    DATA_COMMIT,
    DATA_SOURCE,
    DATA_VERSION,
    METRIC,
    MODELSCAN_SUMMARY,
    PARAM,
    PIPELINE_RUN_ID,
    PRODUCTION,
    REGISTRATION,
    RUN_ID,
    SHA256,
    TRIGGER,
    VERIFICATION,
)
from jukebox.storage import open_store


@dataclass(frozen=True)
class VersionInfo:
    """A model version and what the registry records about it."""

    model: str
    version: str
    id: str
    state: str
    author: str | None
    created: datetime | None
    description: str | None
    properties: dict[str, Any] = field(default_factory=dict)
    uri: str | None = None

    @property
    def complete(self) -> bool:
        # Versions registered by other tools carry no marker; they are taken as they are.
        return self.properties.get(REGISTRATION, "complete") == "complete"

    @property
    def production(self) -> bool:
        return self.properties.get(PRODUCTION) is True

    @property
    def archived(self) -> bool:
        return self.state == "ARCHIVED"

    @property
    def status(self) -> str:
        """One word for tables: production, live, archived or incomplete."""
        if not self.complete:
            return "incomplete"
        if self.archived:
            return "archived"
        return "production" if self.production else "live"

    @property
    def metrics(self) -> dict[str, Any]:
        return _with_prefix(self.properties, METRIC)

    @property
    def verification(self) -> dict[str, Any]:
        return _with_prefix(self.properties, VERIFICATION)

    @property
    def parameters(self) -> dict[str, Any]:
        return _with_prefix(self.properties, PARAM)

    @property
    def accuracy(self) -> float | None:
        value = self.metrics.get("accuracy")
        return float(value) if isinstance(value, int | float) else None

    @property
    def data_version(self) -> str | None:
        return self.properties.get(DATA_VERSION)

    @property
    def data_commit(self) -> str | None:
        return self.properties.get(DATA_COMMIT)

    @property
    def data_source(self) -> str | None:
        return self.properties.get(DATA_SOURCE)

    @property
    def run_id(self) -> str | None:
        return self.properties.get(RUN_ID)

    @property
    def pipeline_run_id(self) -> str | None:
        """The pipeline run that registered this version (None when registered by hand)."""
        return self.properties.get(PIPELINE_RUN_ID)

    @property
    def trigger(self) -> str | None:
        """What started the run that made this version (a drift alert), when something did."""
        return self.properties.get(TRIGGER)

    @property
    def onnx_sha256(self) -> str | None:
        return self.properties.get(SHA256)

    @property
    def modelscan(self) -> str | None:
        """What modelscan said of the version's files at registration (None for a version
        registered before Jukebox scanned, or by another tool)."""
        return self.properties.get(MODELSCAN_SUMMARY)


def _with_prefix(properties: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in properties.items() if k.startswith(prefix)}


def _millis(value: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC) if value else None
    except (TypeError, ValueError):
        return None


def version_info(model: str, mv, uri: str | None = None) -> VersionInfo:
    """A :class:`VersionInfo` from the official client's ``ModelVersion``."""
    state = getattr(mv.state, "value", mv.state)
    return VersionInfo(
        model=model,
        version=mv.name,
        id=str(mv.id),
        state=str(state or "LIVE"),
        author=mv.author,
        created=_millis(mv.create_time_since_epoch),
        description=mv.description,
        properties=dict(mv.custom_properties or {}),
        uri=uri,
    )


def registered_model(client, name: str):
    """The official client's ``RegisteredModel`` named ``name``; raises if there is none."""
    rm = client.get_registered_model(name)
    if rm is None:
        raise VersionNotFoundError(f"No model named {name!r} is registered.")
    return rm


def _version_of(client, rm, version: str):
    mv = official_api.version_by_name(client, rm.id, str(version))
    if mv is None:
        raise VersionNotFoundError(f"Model {rm.name!r} has no version {version}.")
    return mv


def _find_version(client, name: str, version: str):
    return _version_of(client, registered_model(client, name), version)


# --- reading ------------------------------------------------------------------------------------


@official_errors()
def list_versions(
    name: str, settings: Settings | None = None, *, include_incomplete: bool = False
) -> list[VersionInfo]:
    """The versions of model ``name`` with their metadata, oldest first.

    Versions whose registration did not complete are left out unless asked for.
    """
    client = connect(settings)
    rm = registered_model(client, name)
    versions = [version_info(name, mv) for mv in official_api.versions_of(client, rm.id)]
    return [v for v in versions if include_incomplete or v.complete]


@official_errors()
def list_all_versions(
    settings: Settings | None = None, *, include_incomplete: bool = False
) -> list[VersionInfo]:
    """The versions of every registered model (one request per model, not per version)."""
    client = connect(settings)
    versions = [
        version_info(rm.name, mv)
        for rm in official_api.all_pages(client.get_registered_models())
        for mv in official_api.versions_of(client, rm.id)
    ]
    return [v for v in versions if include_incomplete or v.complete]


@official_errors()
def get_version(name: str, version: str, settings: Settings | None = None) -> VersionInfo:
    """One version with its metadata and the URI of its stored bundle."""
    client = connect(settings)
    mv = _find_version(client, name, str(version))
    return version_info(name, mv, official_api.model_artifact_uri(client, mv.id))


@official_errors()
def suggest_next_version(
    name: str, settings: Settings | None = None, *, check_storage: bool = True
) -> str:
    """One more than the highest whole-number version registered or stored for ``name``.

    ``check_storage=False`` asks the registry only (no object-storage round trip, for pages
    that suggest on every rerun); it can miss a version left in storage by a crash.
    """
    settings = settings or load_settings()
    taken: list[str] = []
    try:
        name = check_model_name(name)
    except InvalidNameError:
        return "1"
    client = connect(settings)
    rm = client.get_registered_model(name)
    if rm is not None:
        taken += [mv.name for mv in official_api.versions_of(client, rm.id)]
    if check_storage:
        taken += stored_versions(open_store(settings), name)
    numbers = [int(v) for v in taken if v.isdigit()]
    return str(max(numbers, default=0) + 1)


# --- lifecycle ----------------------------------------------------------------------------------


def _set_state(name: str, version: str, settings: Settings | None, state: str) -> VersionInfo:
    client = connect(settings)
    mv = _find_version(client, name, str(version))
    info = version_info(name, mv)
    if not info.complete:
        raise RegistryError(
            f"Version {version} of {name!r} was not registered completely: register it again first."
        )
    if state == "ARCHIVED" and info.production:
        raise RegistryError(
            f"Version {version} of {name!r} is the production version: mark another version "
            "for production before archiving this one."
        )
    mv.state = ModelVersionState(state)
    return version_info(name, client.update(mv))


@official_errors()
def archive_version(name: str, version: str | int, settings: Settings | None = None) -> VersionInfo:
    """Archive a version: kept with its files, but no longer offered for use."""
    return _set_state(name, str(version), settings, "ARCHIVED")


@official_errors()
def restore_version(name: str, version: str | int, settings: Settings | None = None) -> VersionInfo:
    """Bring an archived version back to live."""
    return _set_state(name, str(version), settings, "LIVE")


@official_errors()
def mark_production(name: str, version: str | int, settings: Settings | None = None) -> VersionInfo:
    """Make ``version`` the one production version of ``name`` (any other loses the mark)."""
    client = connect(settings)
    rm = registered_model(client, name)
    target = _version_of(client, rm, str(version))
    info = version_info(name, target)
    if not info.complete or info.archived:
        raise RegistryError(
            f"Version {version} of {name!r} is {info.status}: only a live, completely registered "
            "version can be marked for production (restore it first if it is archived)."
        )
    # Set the new mark first: for a moment two versions carry it rather than none.
    target.custom_properties = {**(target.custom_properties or {}), PRODUCTION: True}
    marked = client.update(target)
    for mv in official_api.versions_of(client, rm.id):
        if mv.id != marked.id and (mv.custom_properties or {}).get(PRODUCTION) is True:
            mv.custom_properties = {**mv.custom_properties, PRODUCTION: False}
            client.update(mv)
    return version_info(name, marked)
