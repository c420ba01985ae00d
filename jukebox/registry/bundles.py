"""A model bundle in object storage: its place, its manifest, and moving it in and out whole.

A bundle is stored under ``models/<name>/<version>/`` in one bucket, with the files of the bundle
and a ``manifest.json`` that lists each file with its sha256 and size. The manifest is written
last (the store's completion marker), so it is the mark of a complete upload: a version without
one is an interrupted upload and every reader here ignores it.

Versions are whole numbers (1, 2, 3…): OpenVINO Model Server, the runtime KServe uses in
OpenShift AI, serves a model from a directory of numbered version folders
(``models/<name>/<n>/model.onnx``), so ``models/<name>/`` is directly an OVMS model repository
and nothing has to be copied to deploy a version. OVMS ignores the other files of the bundle.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from jukebox.config import Settings
from jukebox.errors import JukeboxError
from jukebox.model.bundle import BUNDLE_FILES, ONNX_FILE, file_sha256
from jukebox.storage import (
    ObjectExistsError,
    ObjectNotFoundError,
    ObjectStore,
    StorageError,
    store_for_uri,
)

MANIFEST_FILE = "manifest.json"
MODELS_PREFIX = "models"
MANIFEST_FORMAT = "jukebox-bundle/1"

_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_VERSION_PATTERN = re.compile(r"[1-9][0-9]{0,8}")
_PATH_CHARACTERS = ("/", "\\", "..", "\0", ":", "~")


class IntegrityError(StorageError):
    """A downloaded file does not have the sha256 it was stored with."""


class VersionExistsError(ObjectExistsError):
    """A complete bundle is already stored for this model version."""


class BundleNotFoundError(ObjectNotFoundError):
    """No complete bundle is stored for this model version."""


class InvalidNameError(JukeboxError, ValueError):
    """A model name or version cannot be used; the message says why and what to type instead."""


def check_model_name(name: str) -> str:
    """Return ``name`` stripped if it can name a model (and a storage folder), else raise."""
    stripped = (name or "").strip()
    if not stripped:
        raise InvalidNameError("The model name is empty: type a name such as 'jukebox'.")
    found = [c for c in _PATH_CHARACTERS if c in stripped]
    if found:
        raise InvalidNameError(
            f"The model name {stripped!r} contains {found[0]!r}: a name cannot contain path "
            "characters; use only letters, digits, '-', '_' and '.'."
        )
    if not _NAME_PATTERN.fullmatch(stripped):
        raise InvalidNameError(
            f"The model name {stripped!r} is malformed: use 1 to 63 letters, digits, '-', '_' "
            "or '.', starting with a letter or a digit."
        )
    return stripped


def check_version(version: str | int) -> str:
    """Return ``version`` as text if it is a whole number from 1, else raise with the reason."""
    stripped = str(version if version is not None else "").strip()
    if not stripped:
        raise InvalidNameError("The version is empty: type a whole number such as 1.")
    if not _VERSION_PATTERN.fullmatch(stripped):
        raise InvalidNameError(
            f"The version {stripped!r} is not a whole number from 1 (no leading zeros): versions "
            "are 1, 2, 3… because OpenVINO Model Server serves a model from numbered folders."
        )
    return stripped


def bundle_prefix(name: str, version: str | int) -> str:
    """Key prefix of a stored bundle, ending with ``/``; name and version are checked."""
    return f"{MODELS_PREFIX}/{check_model_name(name)}/{check_version(version)}/"


@dataclass(frozen=True)
class Manifest:
    """What a complete stored bundle holds: each file with its sha256 and size."""

    name: str
    version: str
    files: dict[str, dict]
    created: str
    upload_id: str = ""
    format: str = MANIFEST_FORMAT

    @property
    def onnx_sha256(self) -> str | None:
        return self.files.get(ONNX_FILE, {}).get("sha256")

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> Manifest:
        try:
            data = json.loads(text)
            return cls(
                name=str(data["name"]),
                version=str(data["version"]),
                files={str(k): dict(v) for k, v in data["files"].items()},
                created=str(data["created"]),
                upload_id=str(data.get("upload_id", "")),
                format=str(data.get("format", MANIFEST_FORMAT)),
            )
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as error:
            raise StorageError(f"{MANIFEST_FILE} is malformed: {error}") from error


@dataclass(frozen=True)
class StoredBundle:
    """Where a bundle was stored and what it holds."""

    uri: str
    prefix: str
    manifest: Manifest


def bundle_store(uri: str, settings: Settings) -> tuple[ObjectStore, str]:
    """The store and key prefix of the bundle at ``uri`` (as :func:`upload_bundle` gives it)."""
    return store_for_uri(uri, settings, top_folder=MODELS_PREFIX)


def _bundle_files(bundle_dir: Path) -> dict[str, Path]:
    files = {name: bundle_dir / name for name in BUNDLE_FILES if (bundle_dir / name).is_file()}
    if ONNX_FILE not in files:
        raise StorageError(f"{bundle_dir} has no {ONNX_FILE}: it is not a model bundle.")
    return files


def upload_bundle(
    store: ObjectStore, bundle_dir: str | Path, name: str, version: str | int
) -> StoredBundle:
    """Store the bundle files of ``bundle_dir`` under ``models/<name>/<version>/``, atomically.

    Raises :class:`VersionExistsError` if a complete bundle is already there.
    """
    prefix = bundle_prefix(name, version)
    files = _bundle_files(Path(bundle_dir))
    manifest = Manifest(
        name=check_model_name(name),
        version=check_version(version),
        files={
            file: {"sha256": file_sha256(path), "size": path.stat().st_size}
            for file, path in files.items()
        },
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        upload_id=uuid.uuid4().hex,
    )
    store.check()
    try:
        store.put_tree(prefix, files, (MANIFEST_FILE, manifest.to_json().encode()))
    except ObjectExistsError:
        raise VersionExistsError(
            f"Version {manifest.version} of {manifest.name!r} is already stored at "
            f"{store.uri(prefix)}: choose another version."
        ) from None
    return StoredBundle(uri=store.uri(prefix), prefix=prefix, manifest=manifest)


def read_manifest(store: ObjectStore, prefix: str) -> Manifest | None:
    """The manifest of the bundle at ``prefix``, or None when the upload is not complete."""
    data = store.get_bytes(prefix.rstrip("/") + "/" + MANIFEST_FILE)
    return None if data is None else Manifest.from_json(data)


def stored_versions(store: ObjectStore, name: str) -> list[str]:
    """Complete versions of ``name`` in numeric order; interrupted uploads are left out."""
    prefix = f"{MODELS_PREFIX}/{check_model_name(name)}/"
    versions = [
        v
        for v in store.list_prefixes(prefix)
        if _VERSION_PATTERN.fullmatch(v) and read_manifest(store, prefix + v + "/") is not None
    ]
    return sorted(versions, key=int)


def download_bundle(
    store: ObjectStore,
    prefix: str,
    dest: str | Path,
    *,
    expected_onnx_sha256: str | None = None,
) -> Path:
    """Download the complete bundle at ``prefix`` to ``dest`` and check every sha256.

    Each file is compared with the manifest, and ``model.onnx`` also with
    ``expected_onnx_sha256`` (what the registry recorded). ``dest`` is replaced only when every
    check passed, so a failed download never leaves a bundle that looks usable.
    """
    prefix = prefix.rstrip("/") + "/"
    manifest = read_manifest(store, prefix)
    if manifest is None:
        raise BundleNotFoundError(
            f"No complete bundle at {store.uri(prefix)}: the upload is missing or was "
            "interrupted. Register the version again."
        )
    if expected_onnx_sha256 and manifest.onnx_sha256 != expected_onnx_sha256:
        raise IntegrityError(
            f"The bundle at {store.uri(prefix)} is not the one registered: its {ONNX_FILE} "
            f"sha256 is {manifest.onnx_sha256}, the registry recorded {expected_onnx_sha256}."
        )
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".download-{dest.name}-", dir=dest.parent))
    try:
        for file, expected in manifest.files.items():
            if "/" in file or file in ("", ".", ".."):
                raise IntegrityError(f"{MANIFEST_FILE} names an unsafe file {file!r}.")
            try:
                store.get_file(prefix + file, staging / file)
            except ObjectNotFoundError as error:
                raise BundleNotFoundError(f"{error} Register the version again.") from None
            actual = file_sha256(staging / file)
            if actual != expected.get("sha256"):
                raise IntegrityError(
                    f"{file} from {store.uri(prefix)} is corrupt: its sha256 is {actual}, "
                    f"expected {expected.get('sha256')}. Do not use this copy; register the "
                    "bundle again."
                )
        (staging / MANIFEST_FILE).write_text(manifest.to_json())
        if dest.exists():
            shutil.rmtree(dest)
        os.rename(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def delete_bundle(store: ObjectStore, prefix: str, *, upload_id: str | None = None) -> None:
    """Remove a stored bundle: the manifest first, so it never looks complete while going.

    With ``upload_id``, only the upload that wrote that id is removed, so undoing a failed
    registration can never delete a bundle another registration stored in the meantime.
    """
    prefix = prefix.rstrip("/") + "/"
    if upload_id is not None:
        manifest = read_manifest(store, prefix)
        if manifest is not None and manifest.upload_id != upload_id:
            return
    store.delete_key(prefix + MANIFEST_FILE)
    store.delete_prefix(prefix)
