"""Registering an exported bundle: the checks, the upload, the version record, and undoing it.

:func:`register_bundle` uploads a verified bundle to object storage first, then records the
version in the registry with the properties of :mod:`jukebox.registry.properties`. A failure
after the upload removes the upload and leaves the version marked ``failed``, so a registration
is whole or visibly not done; registering the same version again completes it.
:func:`exported_bundles` lists the bundles on disk waiting to be registered.
"""

from __future__ import annotations

import contextlib
import json
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mr_openapi import ModelVersionState

from jukebox.config import Settings, load_settings
from jukebox.model.bundle import CARD_FILE, BundleError, ModelBundle, file_sha256, read_bundle
from jukebox.model.runs import read_run_ref
from jukebox.model.scan import ScanReport, refuse_unsafe, scan_cache_dir, scan_path
from jukebox.registry import official_api
from jukebox.registry.bundles import (
    StoredBundle,
    VersionExistsError,
    check_model_name,
    check_version,
    delete_bundle,
    upload_bundle,
)
from jukebox.registry.connection import connect, official_errors
from jukebox.registry.errors import (
    DuplicateBundleError,
    DuplicateVersionError,
    UnverifiedBundleError,
)
from jukebox.registry.properties import (
    BUNDLE_ORIGIN,
    DATA_COMMIT,
    DATA_MD5,
    DATA_SOURCE,
    DATA_VERSION,
    DVC_TRAINING_DATA_HASH,
    EXPERIMENT_ID,
    EXPERIMENT_RUN_ID,
    METRIC,
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    MODELSCAN_ISSUES,
    MODELSCAN_RESULT,
    MODELSCAN_SUMMARY,
    MODELSCAN_VERSION,
    PARAM,
    PIPELINE_RUN_ID,
    REGISTRATION,
    RUN_ID,
    SHA256,
    TRIGGER,
    VERIFICATION,
)
from jukebox.registry.versions import (
    VersionInfo,
    registered_model,
    suggest_next_version,
    version_info,
)
from jukebox.storage import ObjectStore, open_store

log = logging.getLogger(__name__)

# MetadataIntValue holds at most 9 digits; larger integers are kept as text.
_MAX_INT = 999_999_999


@dataclass(frozen=True)
class BundleCandidate:
    """An exported bundle found on disk, and whether it may be registered."""

    path: Path
    modified: datetime
    registrable: bool
    reason: str
    accuracy: float | None = None
    onnx_sha256: str | None = None


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
    properties = {DATA_VERSION: md5, DATA_COMMIT: commit}
    # A DVC version names each table's md5 and the remotes, as the workshop's training records
    # them ("DVC training data hash" is its song_properties md5).
    tables = fields.get("tables") if isinstance(fields.get("tables"), Mapping) else {}
    for table, table_md5 in tables.items():
        properties[f"{DATA_MD5}{table}"] = table_md5
    if "song_properties" in tables:
        properties[DVC_TRAINING_DATA_HASH] = tables["song_properties"]
    remotes = fields.get("remotes") if isinstance(fields.get("remotes"), Mapping) else {}
    for remote, url in remotes.items():
        properties[f'remote "{remote}"'] = url
    return {k: str(v) for k, v in properties.items() if _is_id(v)}


def version_properties(
    bundle: ModelBundle,
    *,
    data_version: Any = None,
    data_source: str | None = None,
    run_id: str | None = None,
    pipeline_run_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    trigger: str | None = None,
    scan: ScanReport | None = None,
    experiment_run: Mapping[str, Any] | None = None,
) -> dict[str, bool | int | float | str]:
    """The custom properties a registered version carries (see the module docstring).

    What the caller does not give is taken from the bundle's report as the model lab writes
    it: the training parameters, the data's source and version, and the training id as the run.
    Lists and tables (per-country scores, the confusion matrix, curves) stay in the bundle.
    ``scan`` is modelscan's report on the bundle's files, recorded as ``modelscan.*``;
    ``experiment_run`` the run that logged its training (``run_id``, ``experiment_id``), recorded
    as ``experiment.run_id`` and ``experiment.id``.
    """
    report = bundle.report
    properties: dict[str, Any] = {}
    if report is not None:
        properties.update({f"{METRIC}{k}": v for k, v in report.evaluation.numbers().items()})
        if report.verification is not None:
            numbers = report.verification.numbers()
            properties.update({f"{VERIFICATION}{k}": v for k, v in numbers.items()})
        if parameters is None:
            parameters = report.params
        if data_version is None:
            data_version = {"md5": report.data.version, "commit": report.data.commit}
        data_source = data_source or report.data.source
        run_id = run_id or report.training_id
    properties.update({f"{PARAM}{k}": _scalar(v) for k, v in (parameters or {}).items()})
    properties.update(_data_version_properties(data_version))
    properties[DATA_SOURCE] = data_source
    properties[RUN_ID] = pipeline_run_id or run_id
    properties[PIPELINE_RUN_ID] = pipeline_run_id
    properties[TRIGGER] = trigger
    properties[SHA256] = bundle.sha256()["model.onnx"]
    properties[BUNDLE_ORIGIN] = str(bundle.path)
    if experiment_run is not None:
        properties[EXPERIMENT_RUN_ID] = str(experiment_run["run_id"])
        properties[EXPERIMENT_ID] = str(experiment_run.get("experiment_id") or "")
    if scan is not None:
        properties[MODELSCAN_RESULT] = "passed" if scan.passed else "refused"
        properties[MODELSCAN_ISSUES] = len(scan.issues)
        properties[MODELSCAN_SUMMARY] = scan.summary()
        properties[MODELSCAN_VERSION] = scan.modelscan_version
    return {k: v for k, v in properties.items() if v is not None and v != ""}


def verification_problem(bundle: ModelBundle) -> str | None:
    """Why ``bundle`` may not be registered, or None when its export verification passed."""
    if bundle.verification_passed:
        return None
    verification = bundle.report.verification if bundle.report else None
    if verification is None:
        return (
            f"The bundle at {bundle.path} was never verified (metrics.json has no verification): "
            "export it on the Export page, which checks the ONNX model against the Keras one."
        )
    details = "; ".join(verification.problems) or ", ".join(
        f"{k} = {v}" for k, v in verification.numbers().items() if k != "passed"
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


def _refuse_registered_twin(client, model_id: str, name: str, version: str, sha: str) -> None:
    """Raise :class:`DuplicateBundleError` when another version of the model already holds a
    ``model.onnx`` with this sha256: registering it again would make two identical versions."""
    for mv in official_api.versions_of(client, model_id):
        twin = version_info(name, mv)
        if twin.version != version and twin.complete and twin.onnx_sha256 == sha:
            hint = (
                " (it is archived: restore it instead)"
                if twin.archived
                else ": deploy or promote that version instead, or train a new model"
            )
            raise DuplicateBundleError(
                f"This bundle is already registered as version {twin.version} of {name!r} "
                f"(same model.onnx, sha256 {sha[:12]}…){hint}.",
                registered_as=twin.version,
            )


@official_errors()
def register_bundle(
    bundle_dir: str | Path,
    name: str,
    version: str | int,
    *,
    data_version: Any = None,
    data_source: str | None = None,
    run_id: str | None = None,
    pipeline_run_id: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    trigger: str | None = None,
    settings: Settings | None = None,
) -> VersionInfo:
    """Upload a verified bundle to object storage, then register it as ``name`` ``version``.

    ``data_version`` is the DVC md5 as text, or a mapping (or object) with ``md5`` and
    ``commit``; ``trigger`` says what started the run that made it (a drift alert). Refuses a
    bundle that failed verification, a bad name or version, a version already registered, and a
    bundle whose ``model.onnx`` another version of ``name`` holds (:class:`DuplicateBundleError`),
    and a bundle whose files modelscan finds unsafe (:class:`UnsafeModelError`, with modelscan's
    words), before anything is uploaded; the scan is recorded on the version.
    If registration fails after the upload, the upload is removed and the version is left marked
    ``failed`` (and archived) so it is never listed as usable; registering the same version
    again completes it.

    A bundle whose training was logged as an experiment run (its ``experiment_run.json``) is
    linked to it once registered: the version records ``experiment.run_id`` and
    ``experiment.id``, the run gets the version's model artifact and names the version. A link
    that fails leaves the registration as it is, with a warning saying so.
    """
    settings = settings or load_settings()
    name = check_model_name(name)
    version = check_version(version)
    bundle = read_bundle(bundle_dir)
    problem = verification_problem(bundle)
    if problem:
        raise UnverifiedBundleError(problem)
    scan = scan_path(bundle.path, cache_dir=scan_cache_dir(settings))
    refuse_unsafe(scan, "register")

    client = connect(settings)
    rm = client.get_registered_model(name)
    existing = None
    if rm is not None:
        existing = official_api.version_by_name(client, rm.id, version)
    if existing is not None and version_info(name, existing).complete:
        raise DuplicateVersionError(
            f"Version {version} of {name!r} is already registered: choose another version "
            f"(the next free one is {suggest_next_version(name, settings)})."
        )

    if rm is not None:
        _refuse_registered_twin(client, rm.id, name, version, bundle.sha256()["model.onnx"])

    experiment_run = _experiment_run(client, bundle.path)
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
        pipeline_run_id=pipeline_run_id,
        parameters=parameters,
        trigger=trigger,
        scan=scan,
        experiment_run=experiment_run,
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
    _link_to_run(settings, experiment_run, name, version, str(mv.id))
    return version_info(name, mv, stored.uri)


def _warn(message: str) -> None:
    log.warning(message)
    warnings.warn(message, stacklevel=4)


def _experiment_run(client, bundle_dir: Path) -> dict[str, Any] | None:
    """The experiment run recorded in the bundle, if this registry holds it (a bundle trained
    against another registry names a run this one does not know: a warning, no link)."""
    run = read_run_ref(bundle_dir)
    if run is None:
        return None
    try:
        official_api.get_run(client, str(run["run_id"]))
    except Exception as error:  # noqa: BLE001 - any failure here only costs the link
        _warn(
            f"The bundle's experiment run {run.get('name') or run['run_id']} is not in this "
            f"registry ({type(error).__name__}): the version is registered without a link to it."
        )
        return None
    return run


def _link_to_run(
    settings: Settings, run: Mapping[str, Any] | None, name: str, version: str, mv_id: str
) -> None:
    """Link the new version to the experiment run of its bundle, if any. The version is
    registered whatever happens here: a failed link is a warning, never an undone registration."""
    from jukebox.registry.experiments import link_version

    if run is None:
        return
    try:
        link_version(settings, str(run["run_id"]), name, version, mv_id)
    except Exception as error:  # noqa: BLE001 - the registration stands, whatever the link did
        message = (
            f"{name} version {version} is registered, but linking it to its experiment run "
            f"{run.get('name') or run['run_id']} failed: {error}"
        )
        _warn(message)


def _ensure_model(client, name: str):
    """The registered model ``name``, created if need be.

    The official client's ``register_model`` creates it too, but two processes registering the
    first versions of a new model at once would both try, and one would fail on the duplicate.
    """
    from mr_openapi.exceptions import ConflictException

    rm = client.get_registered_model(name)
    if rm is not None:
        return rm
    try:
        return official_api.create_registered_model(client, name)
    except ConflictException:
        return registered_model(client, name)


def _complete_artifact(client, name: str, mv, uri: str, artifact_fields: dict):
    """Give a version left pending or failed its artifact, pointing at the new upload."""
    from model_registry.types import ModelArtifact

    artifact = client.get_model_artifact(name, mv.name)
    if artifact is None:
        official_api.add_model_artifact(
            client, ModelArtifact(name=name, uri=uri, **artifact_fields), mv.id
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
        accuracy = bundle.report.evaluation.accuracy if bundle.report else None
        candidates.append(
            BundleCandidate(
                path,
                modified,
                problem is None,
                problem or "verified",
                accuracy,
                file_sha256(onnx),
            )
        )
    return sorted(candidates, key=lambda c: c.modified, reverse=True)
