"""The model registry as the pages, the CLI and the pipelines use it: a few plain functions.

Every function talks to a Kubeflow Model Registry through the official ``model-registry``
client: the embedded server (started on demand, see :mod:`jukebox.registry.server`) unless
``MODEL_REGISTRY_URL`` names a real one. Bundles go to object storage (:mod:`jukebox.storage`)
first; the registry records where they are and what they are.

What a version records, as custom properties (the Kubeflow dashboard shows them as is):

- ``metric.<name>``: the top-level numbers of ``metrics.json`` (accuracy, log loss…);
- ``verification.<name>``: the figures of the export verification (passed, largest
  differences between ONNX runtimes and Keras);
- ``param.<name>``: the training parameters;
- ``data.version`` (DVC md5), ``data.commit`` (git commit), ``data.source``, ``run.id``;
- ``model.sha256``: sha256 of ``model.onnx``, checked again on every fetch;
- ``jukebox.registration``: ``pending`` while registering, ``complete`` once the artifact is
  recorded, ``failed`` if that went wrong. Only complete versions are listed as usable, and a
  version left pending or failed is completed by registering the same version again, so a
  crash never leaves a half-registered version behind;
- ``jukebox.production``: true on the one version of a model marked for production.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from mr_openapi import ModelVersionState

from jukebox.config import Settings, load_settings
from jukebox.errors import JukeboxError
from jukebox.model.bundle import CARD_FILE, BundleError, ModelBundle, read_bundle
from jukebox.storage import (
    InvalidNameError,
    ObjectStore,
    StorageError,
    StoredBundle,
    VersionExistsError,
    check_model_name,
    check_version,
    delete_bundle,
    download_bundle,
    open_store,
    read_manifest,
    store_for_uri,
    stored_versions,
    upload_bundle,
)

MODEL_FORMAT = "onnx"
MODEL_FORMAT_VERSION = "1"
API_PATH = "/api/model_registry/v1alpha3"

REGISTRATION = "jukebox.registration"
PRODUCTION = "jukebox.production"
SHA256 = "model.sha256"
DATA_VERSION = "data.version"
DATA_COMMIT = "data.commit"
DATA_SOURCE = "data.source"
RUN_ID = "run.id"
BUNDLE_ORIGIN = "bundle.origin"
METRIC = "metric."
VERIFICATION = "verification."
PARAM = "param."

# MetadataIntValue holds at most 9 digits; larger integers are kept as text.
_MAX_INT = 999_999_999


class RegistryError(JukeboxError, RuntimeError):
    """Something about the registry a user can fix; the message says what and how."""


class RegistryUnreachableError(RegistryError):
    """No model registry answers at the configured address."""


class RegistryCredentialsError(RegistryError):
    """The registry answers but refuses the token."""


class DuplicateVersionError(RegistryError):
    """The version is already registered for this model."""


class VersionNotFoundError(RegistryError):
    """No such model, or no such version of it."""


class UnverifiedBundleError(RegistryError):
    """The bundle did not pass export verification, so it may not be registered."""


USER_ERRORS: tuple[type[Exception], ...] = (
    RegistryError,
    StorageError,
    InvalidNameError,
    BundleError,
)
"""Every error a user can cause and fix; pages show their message and nothing else."""


@dataclass(frozen=True)
class ModelInfo:
    """A registered model."""

    name: str
    id: str
    owner: str | None
    description: str | None
    created: datetime | None
    state: str


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
    def onnx_sha256(self) -> str | None:
        return self.properties.get(SHA256)


@dataclass(frozen=True)
class BundleCandidate:
    """An exported bundle found on disk, and whether it may be registered."""

    path: Path
    modified: datetime
    registrable: bool
    reason: str
    accuracy: float | None = None


def _with_prefix(properties: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in properties.items() if k.startswith(prefix)}


def _millis(value: str | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1000, UTC) if value else None
    except (TypeError, ValueError):
        return None


# --- connection ---------------------------------------------------------------------------------


def registry_url(settings: Settings) -> str:
    """``MODEL_REGISTRY_URL``, or else the embedded server's address (started if need be)."""
    if settings.registry_url:
        return settings.registry_url.rstrip("/")
    from jukebox.registry.server.process import ensure_server

    try:
        return ensure_server(settings).rstrip("/")
    except RuntimeError as error:
        raise RegistryUnreachableError(
            f"The embedded model registry could not start: {error}"
        ) from None


def _probe(url: str, token: str | None) -> None:
    """One quick request, so a wrong address or token is a sentence, not a 5-minute hang."""
    import requests

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.get(
            f"{url}{API_PATH}/registered_models",
            params={"pageSize": "1"},
            headers=headers,
            timeout=10,
        )
    except requests.exceptions.InvalidURL as error:
        raise RegistryUnreachableError(
            f"{url!r} is not a valid registry address: set MODEL_REGISTRY_URL to something "
            "like https://registry.example:443."
        ) from error
    except requests.RequestException as error:
        raise RegistryUnreachableError(
            f"Cannot reach the model registry at {url}: check MODEL_REGISTRY_URL (scheme, host "
            f"and port) and that the registry is running ({type(error).__name__})."
        ) from None
    if response.status_code in (401, 403):
        raise RegistryCredentialsError(
            f"The model registry at {url} refused the token (HTTP {response.status_code}): check "
            "MODEL_REGISTRY_TOKEN."
        )
    if response.status_code == 404:
        raise RegistryUnreachableError(
            f"{url} answers but is not a Kubeflow Model Registry (no {API_PATH}): check "
            "MODEL_REGISTRY_URL."
        )
    if response.status_code >= 400:
        raise RegistryError(
            f"The model registry at {url} answered HTTP {response.status_code}; try again, or "
            "check the registry's logs."
        )


@functools.lru_cache(maxsize=8)
def _client(url: str, token: str | None, author: str):
    """One official client per registry and token, made after a quick probe of the address.

    Cached: making one costs requests, and pages call this module many times per rerun. A lost
    connection clears the cache (see :func:`_translate_errors`), so the next call probes again.
    """
    from model_registry import ModelRegistry

    _probe(url, token)
    parsed = urlparse(url)
    secure = parsed.scheme == "https"
    port = parsed.port or (443 if secure else 80)
    address = f"{parsed.scheme}://{parsed.hostname}"
    with warnings.catch_warnings():
        # The client warns when it runs without a token; the embedded server needs none.
        warnings.simplefilter("ignore")
        client = ModelRegistry(
            address,
            port,
            author=author,
            is_secure=secure,
            user_token=token,
            # Its warnings are hints about ports and tokens that do not apply here.
            log_level=logging.ERROR,
        )
    if not secure:
        # Over plain http no TLS happens, yet the client builds an SSL context for every request,
        # loading the whole system CA store each time (50-200 ms, most of a request's cost).
        # Giving it one certificate to load instead makes reads 5-10 times faster.
        client._api.config.ca_cert_data = _one_certificate()
    return client


@functools.cache
def _one_certificate() -> str:
    import certifi

    bundle = Path(certifi.where()).read_text()
    start = bundle.index("-----BEGIN CERTIFICATE-----")
    end = bundle.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
    return bundle[start:end]


def connect(settings: Settings | None = None):
    """A ``model_registry.ModelRegistry`` for the settings; raises a clear error if unusable."""
    settings = settings or load_settings()
    url = registry_url(settings)
    return _translate_errors(_client)(url, settings.registry_token, settings.registry_author)


T = TypeVar("T")


def _translate_errors(function: Callable[..., T]) -> Callable[..., T]:
    """Errors of the official client, as the registry errors of this module."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        import aiohttp
        from model_registry.exceptions import StoreError
        from mr_openapi import exceptions as api

        try:
            return function(*args, **kwargs)
        except (api.UnauthorizedException, api.ForbiddenException) as error:
            raise RegistryCredentialsError(
                f"The model registry refused the token (HTTP {error.status}): check "
                "MODEL_REGISTRY_TOKEN."
            ) from None
        except api.NotFoundException as error:
            raise VersionNotFoundError(
                f"The model registry has no such thing: {_body(error)}"
            ) from None
        except api.ConflictException as error:
            raise DuplicateVersionError(
                f"The model registry refused a duplicate: {_body(error)}"
            ) from None
        except api.ApiException as error:
            raise RegistryError(
                f"The model registry answered HTTP {error.status}: {_body(error)}"
            ) from None
        except (aiohttp.ClientError, TimeoutError, ConnectionError) as error:
            _client.cache_clear()
            raise RegistryUnreachableError(
                "Lost the connection to the model registry: check that it is running and "
                f"reachable ({type(error).__name__})."
            ) from None
        except StoreError as error:
            raise RegistryError(str(error)) from None

    return wrapper


def _body(error: Exception) -> str:
    body = getattr(error, "body", None) or getattr(error, "reason", "") or ""
    try:
        return str(json.loads(body).get("message", body))
    except (TypeError, ValueError, AttributeError):
        return str(body)


# --- reading ------------------------------------------------------------------------------------


def _version_info(model: str, mv, uri: str | None = None) -> VersionInfo:
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


def _all(pager) -> list:
    return list(pager.page_size(100).order_by_id().ascending())


# The official client's by-name methods look the parent up again on every call (a version by
# name costs 2 requests, its artifact 3). Pages read a lot, so reads go by id through the
# client's API layer (``ModelRegistry._api``, a ``model_registry.core.ModelRegistryAPIClient``)
# once the registered model is known: one request each.


def _model(client, name: str):
    rm = client.get_registered_model(name)
    if rm is None:
        raise VersionNotFoundError(f"No model named {name!r} is registered.")
    return rm


def _versions_of(client, model_id: str) -> list:
    from model_registry.types import Pager

    return _all(
        Pager(
            lambda options: client.async_runner(client._api.get_model_versions(model_id, options))
        )
    )


def _version_of(client, rm, version: str):
    mv = client.async_runner(client._api.get_model_version_by_params(rm.id, str(version)))
    if mv is None:
        raise VersionNotFoundError(f"Model {rm.name!r} has no version {version}.")
    return mv


def _find_version(client, name: str, version: str):
    return _version_of(client, _model(client, name), version)


def _artifact_uri(client, model_version_id: str) -> str | None:
    from model_registry.types import ModelArtifact

    artifacts = client.async_runner(client._api.get_model_version_artifacts(model_version_id))
    return next((a.uri for a in artifacts if isinstance(a, ModelArtifact)), None)


def _model_info(rm) -> ModelInfo:
    return ModelInfo(
        name=rm.name,
        id=str(rm.id),
        owner=rm.owner,
        description=rm.description,
        created=_millis(rm.create_time_since_epoch),
        state=str(getattr(rm.state, "value", rm.state)),
    )


@_translate_errors
def list_models(settings: Settings | None = None) -> list[ModelInfo]:
    """Every registered model, oldest first."""
    return [_model_info(rm) for rm in _all(connect(settings).get_registered_models())]


@_translate_errors
def list_versions(
    name: str, settings: Settings | None = None, *, include_incomplete: bool = False
) -> list[VersionInfo]:
    """The versions of model ``name`` with their metadata, oldest first.

    Versions whose registration did not complete are left out unless asked for.
    """
    client = connect(settings)
    rm = _model(client, name)
    versions = [_version_info(name, mv) for mv in _versions_of(client, rm.id)]
    return [v for v in versions if include_incomplete or v.complete]


@_translate_errors
def list_all_versions(
    settings: Settings | None = None, *, include_incomplete: bool = False
) -> list[VersionInfo]:
    """The versions of every registered model (one request per model, not per version)."""
    client = connect(settings)
    versions = [
        _version_info(rm.name, mv)
        for rm in _all(client.get_registered_models())
        for mv in _versions_of(client, rm.id)
    ]
    return [v for v in versions if include_incomplete or v.complete]


@_translate_errors
def get_version(name: str, version: str, settings: Settings | None = None) -> VersionInfo:
    """One version with its metadata and the URI of its stored bundle."""
    client = connect(settings)
    mv = _find_version(client, name, str(version))
    return _version_info(name, mv, _artifact_uri(client, mv.id))


@_translate_errors
def production_version(name: str, settings: Settings | None = None) -> VersionInfo | None:
    """The version of ``name`` marked for production, if any."""
    return next((v for v in list_versions(name, settings) if v.production), None)


@_translate_errors
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
        taken += [mv.name for mv in _versions_of(client, rm.id)]
    if check_storage:
        taken += stored_versions(open_store(settings), name)
    numbers = [int(v) for v in taken if v.isdigit()]
    return str(max(numbers, default=0) + 1)


# --- registering --------------------------------------------------------------------------------


def _scalar(value: Any) -> bool | int | float | str | None:
    """A value the registry can hold as a custom property (bool, int, double or string)."""
    if value is None:
        return None
    if isinstance(value, bool | float | str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= _MAX_INT else str(value)
    try:  # numpy numbers and the like
        import numbers

        if isinstance(value, numbers.Integral):
            return _scalar(int(value))
        if isinstance(value, numbers.Real):
            return float(value)
    except TypeError:
        pass
    return json.dumps(value, default=str, sort_keys=True)


def _numbers(values: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers and flags of one level of ``metrics.json``; lists and tables stay in the file."""
    return {k: _scalar(v) for k, v in values.items() if isinstance(v, bool | int | float)}


def _is_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and str(value) != ""


def _data_version_properties(data_version: Any) -> dict[str, str]:
    if data_version is None:
        return {}
    if isinstance(data_version, str):
        return {DATA_VERSION: data_version}
    fields = data_version if isinstance(data_version, Mapping) else vars(data_version)
    # Only plain ids are recorded; anything else (a nested summary) says nothing a reader can use.
    md5 = next((fields[k] for k in ("md5", "dvc_md5", "version") if _is_id(fields.get(k))), None)
    commit = next(
        (fields[k] for k in ("commit", "git_commit", "rev") if _is_id(fields.get(k))), None
    )
    return {k: str(v) for k, v in ((DATA_VERSION, md5), (DATA_COMMIT, commit)) if v is not None}


def version_properties(
    bundle: ModelBundle,
    *,
    data_version: Any = None,
    data_source: str | None = None,
    run_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> dict[str, bool | int | float | str]:
    """The custom properties a registered version carries (see the module docstring).

    What the caller does not give is taken from the bundle's ``metrics.json`` as the model lab
    writes it: ``params``, ``data.source`` (and ``data.version``/``data.commit`` when the data
    was versioned), and ``training_id`` as the run.
    """
    metrics = bundle.metrics
    data = metrics.get("data") if isinstance(metrics.get("data"), Mapping) else {}
    verification = metrics.get("verification")
    properties: dict[str, Any] = {f"{METRIC}{k}": v for k, v in _numbers(metrics).items()}
    if isinstance(verification, Mapping):
        properties.update({f"{VERIFICATION}{k}": v for k, v in _numbers(verification).items()})
    if parameters is None:
        found = metrics.get("params", metrics.get("parameters"))
        parameters = found if isinstance(found, Mapping) else {}
    properties.update({f"{PARAM}{k}": _scalar(v) for k, v in parameters.items()})
    if data_version is None:
        data_version = metrics.get("data_version") or {
            "md5": data.get("version") or data.get("md5"),
            "commit": data.get("commit"),
        }
    properties.update(_data_version_properties(data_version))
    properties[DATA_SOURCE] = data_source or data.get("source") or metrics.get("data_source")
    properties[RUN_ID] = run_id or metrics.get("run_id") or metrics.get("training_id")
    properties[SHA256] = bundle.sha256()["model.onnx"]
    properties[BUNDLE_ORIGIN] = str(bundle.path)
    return {k: v for k, v in properties.items() if v is not None and v != ""}


def verification_problem(bundle: ModelBundle) -> str | None:
    """Why ``bundle`` may not be registered, or None when its export verification passed."""
    if bundle.verification_passed:
        return None
    verification = bundle.metrics.get("verification")
    if not isinstance(verification, Mapping):
        return (
            f"The bundle at {bundle.path} was never verified (metrics.json has no verification): "
            "export it on the Export page, which checks the ONNX model against the Keras one."
        )
    problems = verification.get("problems")
    if isinstance(problems, list) and problems:
        details = "; ".join(str(p) for p in problems)
    else:
        details = ", ".join(
            f"{k} = {v}"
            for k, v in verification.items()
            if k != "passed" and isinstance(v, int | float | str)
        )
    return (
        f"The bundle at {bundle.path} failed export verification"
        + (f" ({details})" if details else "")
        + ": its ONNX model does not match the trained model. Fix the export and export again."
    )


def _description(bundle: ModelBundle, name: str, version: str) -> str:
    card = bundle.path / CARD_FILE
    if card.is_file():
        for line in card.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.strip():
                return line.strip().lstrip("#").strip()[:200]
    return f"{name} version {version}"


@_translate_errors
def register_bundle(
    bundle_dir: str | Path,
    name: str,
    version: str | int,
    *,
    data_version: Any = None,
    data_source: str | None = None,
    run_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
) -> VersionInfo:
    """Upload a verified bundle to object storage, then register it as ``name`` ``version``.

    ``data_version`` is the DVC md5 as text, or a mapping (or object) with ``md5`` and
    ``commit``. Refuses a bundle that failed verification, a bad name or version, and a version
    already registered. If registration fails after the upload, the upload is removed and the
    version is left marked ``failed`` (and archived) so it is never listed as usable;
    registering the same version again completes it.
    """
    settings = settings or load_settings()
    name = check_model_name(name)
    version = check_version(version)
    bundle = read_bundle(bundle_dir)
    problem = verification_problem(bundle)
    if problem:
        raise UnverifiedBundleError(problem)

    client = connect(settings)
    rm = client.get_registered_model(name)
    existing = None
    if rm is not None:
        existing = client.async_runner(client._api.get_model_version_by_params(rm.id, version))
    if existing is not None and _version_info(name, existing).complete:
        raise DuplicateVersionError(
            f"Version {version} of {name!r} is already registered: choose another version "
            f"(the next free one is {suggest_next_version(name, settings)})."
        )

    store = open_store(settings)
    try:
        stored = upload_bundle(store, bundle.path, name, version)
    except VersionExistsError:
        raise DuplicateVersionError(
            f"Object storage already holds version {version} of {name!r}, but the registry "
            "does not list it (perhaps left by an interrupted registration): choose another "
            f"version (the next free one is {suggest_next_version(name, settings)})."
        ) from None

    properties = version_properties(
        bundle,
        data_version=data_version,
        data_source=data_source,
        run_id=run_id,
        parameters=parameters,
    )
    artifact_fields = {
        "model_format_name": MODEL_FORMAT,
        "model_format_version": MODEL_FORMAT_VERSION,
        "storage_path": stored.prefix,
    }
    description = _description(bundle, name, version)
    try:
        if rm is None:
            _ensure_model(client, name)
        if existing is None:
            client.register_model(
                name,
                stored.uri,
                version=version,
                version_description=description,
                metadata={**properties, REGISTRATION: "pending"},
                **artifact_fields,
            )
            mv = client.get_model_version(name, version)
        else:
            mv = _complete_artifact(client, name, existing, stored.uri, artifact_fields)
        mv.custom_properties = {**properties, REGISTRATION: "complete"}
        mv.description = description
        mv.state = ModelVersionState.LIVE
        mv = client.update(mv)
    except BaseException:
        # Also on KeyboardInterrupt: an interrupted registration must not look registered.
        _undo_registration(client, store, name, version, stored)
        raise
    return _version_info(name, mv, stored.uri)


def _ensure_model(client, name: str):
    """The registered model ``name``, created if need be.

    The official client's ``register_model`` creates it too, but two processes registering the
    first versions of a new model at once would both try, and one would fail on the duplicate.
    """
    from model_registry.types import RegisteredModel
    from mr_openapi.exceptions import ConflictException

    rm = client.get_registered_model(name)
    if rm is not None:
        return rm
    try:
        return client.async_runner(
            client._api.upsert_registered_model(RegisteredModel(name=name, owner=client._author))
        )
    except ConflictException:
        return _model(client, name)


def _complete_artifact(client, name: str, mv, uri: str, artifact_fields: dict):
    """Give a version left pending or failed its artifact, pointing at the new upload."""
    from model_registry.types import ModelArtifact

    artifact = client.get_model_artifact(name, mv.name)
    if artifact is None:
        client.async_runner(
            client._api.upsert_model_version_artifact(
                ModelArtifact(name=name, uri=uri, **artifact_fields), mv.id
            )
        )
    else:
        artifact.uri = uri
        for key, value in artifact_fields.items():
            setattr(artifact, key, value)
        client.update(artifact)
    return mv


def _undo_registration(
    client, store: ObjectStore, name: str, version: str, stored: StoredBundle
) -> None:
    """After a failed registration: remove the upload, and mark any version created as failed.

    Best effort: the error that made the registration fail is the one the user must see.
    """
    with contextlib.suppress(Exception):
        delete_bundle(store, stored.prefix, upload_id=stored.manifest.upload_id)
    with contextlib.suppress(Exception):
        mv = client.get_model_version(name, version)
        if mv is not None and (mv.custom_properties or {}).get(REGISTRATION) != "complete":
            mv.custom_properties = {**(mv.custom_properties or {}), REGISTRATION: "failed"}
            mv.state = ModelVersionState.ARCHIVED
            client.update(mv)


# --- fetching -----------------------------------------------------------------------------------


def fetched_dir(settings: Settings, name: str, version: str) -> Path:
    """Where :func:`fetch_bundle` puts a version by default."""
    return settings.fetched_dir / check_model_name(name) / check_version(version)


@_translate_errors
def fetch_bundle(
    name: str,
    version: str | int,
    dest: str | Path | None = None,
    *,
    settings: Settings | None = None,
) -> Path:
    """Download version ``version`` of ``name`` to ``dest`` and check every sha256; return ``dest``.

    Files are checked against the manifest stored with the upload, and ``model.onnx`` also
    against the sha256 the registry recorded, so a bundle changed in storage is never used.
    """
    settings = settings or load_settings()
    info = get_version(name, str(version), settings)
    if not info.complete:
        raise VersionNotFoundError(
            f"Version {version} of {name!r} was not registered completely: register it again."
        )
    if not info.uri:
        raise VersionNotFoundError(f"Version {version} of {name!r} has no stored model artifact.")
    store, prefix = store_for_uri(info.uri, settings)
    target = Path(dest) if dest is not None else fetched_dir(settings, name, str(version))
    return download_bundle(store, prefix, target, expected_onnx_sha256=info.onnx_sha256)


def read_model_card(version: VersionInfo, settings: Settings | None = None) -> str:
    """The model card of a version (from :func:`get_version`), read from object storage.

    Empty when the version has no stored bundle or no card.
    """
    if not version.uri:
        return ""
    store, prefix = store_for_uri(version.uri, settings or load_settings())
    if read_manifest(store, prefix) is None:
        return ""
    data = store.get_bytes(prefix + CARD_FILE)
    return data.decode("utf-8", errors="replace") if data else ""


# --- lifecycle ----------------------------------------------------------------------------------


def _set_state(name: str, version: str, settings: Settings | None, state: str) -> VersionInfo:
    client = connect(settings)
    mv = _find_version(client, name, str(version))
    info = _version_info(name, mv)
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
    return _version_info(name, client.update(mv))


@_translate_errors
def archive_version(name: str, version: str | int, settings: Settings | None = None) -> VersionInfo:
    """Archive a version: kept with its files, but no longer offered for use."""
    return _set_state(name, str(version), settings, "ARCHIVED")


@_translate_errors
def restore_version(name: str, version: str | int, settings: Settings | None = None) -> VersionInfo:
    """Bring an archived version back to live."""
    return _set_state(name, str(version), settings, "LIVE")


@_translate_errors
def mark_production(name: str, version: str | int, settings: Settings | None = None) -> VersionInfo:
    """Make ``version`` the one production version of ``name`` (any other loses the mark)."""
    client = connect(settings)
    rm = _model(client, name)
    target = _version_of(client, rm, str(version))
    info = _version_info(name, target)
    if not info.complete or info.archived:
        raise RegistryError(
            f"Version {version} of {name!r} is {info.status}: only a live, completely registered "
            "version can be marked for production (restore it first if it is archived)."
        )
    # Set the new mark first: for a moment two versions carry it rather than none.
    target.custom_properties = {**(target.custom_properties or {}), PRODUCTION: True}
    marked = client.update(target)
    for mv in _versions_of(client, rm.id):
        if mv.id != marked.id and (mv.custom_properties or {}).get(PRODUCTION) is True:
            mv.custom_properties = {**mv.custom_properties, PRODUCTION: False}
            client.update(mv)
    return _version_info(name, marked)


# --- bundles waiting to be registered -----------------------------------------------------------


def exported_bundles(settings: Settings | None = None) -> list[BundleCandidate]:
    """Bundle directories under ``settings.models_dir``, newest first, with whether each may be
    registered and, if not, why."""
    settings = settings or load_settings()
    root = settings.models_dir
    if not root.is_dir():
        return []
    candidates = []
    for onnx in root.rglob("model.onnx"):
        path = onnx.parent
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        modified = datetime.fromtimestamp(onnx.stat().st_mtime, UTC)
        try:
            bundle = read_bundle(path)
        except BundleError as error:
            candidates.append(BundleCandidate(path, modified, False, str(error)))
            continue
        problem = verification_problem(bundle)
        accuracy = bundle.metrics.get("accuracy")
        candidates.append(
            BundleCandidate(
                path,
                modified,
                problem is None,
                problem or "verified",
                float(accuracy) if isinstance(accuracy, int | float) else None,
            )
        )
    return sorted(candidates, key=lambda c: c.modified, reverse=True)
