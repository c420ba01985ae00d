"""Object storage for model bundles: a local directory (embedded default) or S3/MinIO (boto3).

A bundle is stored under ``models/<name>/<version>/`` in one bucket, with the files of the bundle
and a ``manifest.json`` that lists each file with its sha256 and size. The manifest is written
last, so it is the mark of a complete upload: a version without one is an interrupted upload and
every reader here ignores it. Locally the whole version is written to a hidden temporary folder
and renamed into place, so even a crash leaves nothing at the final path.

Versions are whole numbers (1, 2, 3…): OpenVINO Model Server, the runtime KServe uses in
OpenShift AI, serves a model from a directory of numbered version folders
(``models/<name>/<n>/model.onnx``), so ``models/<name>/`` is directly an OVMS model repository
and nothing has to be copied to deploy a version. OVMS ignores the other files of the bundle.

URIs follow the Kubeflow Model Registry client (``model_registry.utils.s3_uri_from``):
``s3://<bucket>/<key>?endpoint=<url>&defaultRegion=<region>``, and ``file:///<path>`` locally.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from jukebox.config import Settings
from jukebox.errors import JukeboxError
from jukebox.model.bundle import BUNDLE_FILES, ONNX_FILE, file_sha256

MANIFEST_FILE = "manifest.json"
MODELS_PREFIX = "models"
MANIFEST_FORMAT = "jukebox-bundle/1"

_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
_VERSION_PATTERN = re.compile(r"[1-9][0-9]{0,8}")
_PATH_CHARACTERS = ("/", "\\", "..", "\0", ":", "~")


class StorageError(JukeboxError, RuntimeError):
    """Something about object storage a user can fix; the message says what and how."""


class StorageUnreachableError(StorageError):
    """The S3 endpoint does not answer."""


class StorageCredentialsError(StorageError):
    """The S3 endpoint answers but refuses the access key or secret."""


class IntegrityError(StorageError):
    """A downloaded file does not have the sha256 it was stored with."""


class VersionExistsError(StorageError):
    """A complete bundle is already stored for this model version."""


class BundleNotFoundError(StorageError):
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


class ObjectStore(ABC):
    """A bucket of objects addressed by ``/``-separated keys."""

    bucket: str

    @abstractmethod
    def uri(self, key: str) -> str:
        """A URI another tool can use to find ``key`` (no secret in it)."""

    @abstractmethod
    def check(self) -> None:
        """Raise a :class:`StorageError` saying what to fix if the store cannot be used."""

    @abstractmethod
    def put_tree(self, prefix: str, files: dict[str, Path], last: tuple[str, bytes]) -> None:
        """Store ``files`` (relative name -> local path) under ``prefix``, then ``last``.

        ``last`` is written only after every file succeeded, so its presence marks completion.
        """

    @abstractmethod
    def get_file(self, key: str, dest: Path) -> None:
        """Download ``key`` to ``dest``; raise :class:`BundleNotFoundError` if it is missing."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes | None:
        """Contents of ``key``, or None if there is no such object."""

    @abstractmethod
    def list_prefixes(self, prefix: str) -> list[str]:
        """Names of the immediate sub-folders of ``prefix`` (without slashes)."""

    @abstractmethod
    def delete_key(self, key: str) -> None:
        """Remove ``key`` if present."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Remove every object under ``prefix``."""


class LocalStore(ObjectStore):
    """The embedded default: ``<root>/<bucket>/<key>`` on the local disk."""

    def __init__(self, root: Path, bucket: str) -> None:
        self.root = Path(root)
        self.bucket = bucket
        self.base = self.root / bucket

    def _path(self, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise StorageError(f"Refusing the storage key {key!r}: it climbs out of the bucket.")
        return self.base.joinpath(*parts)

    def uri(self, key: str) -> str:
        uri = self._path(key).resolve().as_uri()
        return uri + "/" if key.endswith("/") and not uri.endswith("/") else uri

    def check(self) -> None:
        try:
            self.base.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(
                f"Cannot write the local object store at {self.base}: {error.strerror}. "
                "Check that JUKEBOX_HOME points at a writable folder."
            ) from error

    def put_tree(self, prefix: str, files: dict[str, Path], last: tuple[str, bytes]) -> None:
        final = self._path(prefix)
        final.parent.mkdir(parents=True, exist_ok=True)
        # A hidden sibling on the same file system, renamed at the end: the final folder appears
        # whole or not at all, whatever happens to this process in between.
        staging = Path(tempfile.mkdtemp(prefix=f".upload-{final.name}-", dir=final.parent))
        try:
            for name, source in files.items():
                shutil.copyfile(source, staging / name)
            (staging / last[0]).write_bytes(last[1])
            # Held while deciding, so two uploads of one version cannot both see it free.
            with _locked(final.parent / ".lock"):
                if (final / last[0]).exists():
                    raise VersionExistsError(f"{self.uri(prefix)} already exists.")
                # A folder without its marker is debris (this class renames whole folders into
                # place); it must not block or mix into a new upload.
                self.delete_prefix(prefix)
                os.rename(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def get_file(self, key: str, dest: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise BundleNotFoundError(f"{self.uri(key)} does not exist.")
        shutil.copyfile(source, dest)

    def get_bytes(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None

    def list_prefixes(self, prefix: str) -> list[str]:
        folder = self._path(prefix)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))

    def delete_key(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        path = self._path(prefix)
        # Rename first so a half-deleted folder is never seen under its real name.
        doomed = path.with_name(f".deleting-{path.name}-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return
        shutil.rmtree(doomed, ignore_errors=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` between processes of this machine."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "InvalidClientTokenId",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
    "403",
    "Forbidden",
}


class S3Store(ObjectStore):
    """S3 or an S3-compatible service (MinIO, OpenShift Data Foundation) through boto3."""

    def __init__(
        self,
        endpoint: str | None,
        bucket: str,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=60,
            retries={"max_attempts": 2, "mode": "standard"},
            # MinIO and most on-premise endpoints expect path-style addressing.
            s3={"addressing_style": "path"},
        )
        try:
            self._client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                region_name=region or "us-east-1",
                config=config,
            )
        except ValueError as error:
            raise StorageUnreachableError(
                f"The S3 endpoint {endpoint!r} is not a valid URL: set AWS_S3_ENDPOINT to "
                "something like http://minio.example:9000."
            ) from error

    def uri(self, key: str) -> str:
        uri = f"s3://{self.bucket}/{key}"
        if self.endpoint:
            uri += f"?endpoint={self.endpoint}"
            if self.region:
                uri += f"&defaultRegion={self.region}"
        return uri

    def _where(self) -> str:
        return self.endpoint or "AWS S3"

    def _translate(self, error: Exception, doing: str) -> StorageError:
        """A botocore error as a sentence saying what to check; never the secret key."""
        from botocore.exceptions import (
            ClientError,
            ConnectionClosedError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
            ReadTimeoutError,
        )

        where = self._where()
        if isinstance(
            error,
            EndpointConnectionError
            | ConnectTimeoutError
            | ConnectionClosedError
            | ReadTimeoutError,
        ):
            return StorageUnreachableError(
                f"Cannot reach the S3 endpoint {where} while {doing}: check AWS_S3_ENDPOINT "
                "(scheme, host and port) and that the service is running."
            )
        if isinstance(error, NoCredentialsError | PartialCredentialsError):
            return StorageCredentialsError(
                f"No S3 credentials for {where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
            )
        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchBucket",):
                return StorageError(
                    f"The bucket {self.bucket!r} does not exist at {where}: create it, or set "
                    "AWS_S3_BUCKET to an existing bucket."
                )
            if code in _CREDENTIAL_CODES or status == 403:
                return StorageCredentialsError(
                    f"{where} refused the credentials while {doing} ({code or status}): check "
                    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and that this key may use "
                    f"the bucket {self.bucket!r}."
                )
            return StorageError(f"S3 at {where} answered {code or status} while {doing}.")
        if isinstance(error, ValueError) and "endpoint" in str(error).lower():
            return StorageUnreachableError(
                f"The S3 endpoint {where!r} is not a valid URL: set AWS_S3_ENDPOINT to "
                "something like http://minio.example:9000."
            )
        return StorageError(f"S3 at {where} failed while {doing}: {type(error).__name__}.")

    def _call(self, doing: str, function, /, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return function(**kwargs)
        except (BotoCoreError, ClientError, ValueError) as error:
            raise self._translate(error, doing) from None

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
                raise StorageError(
                    f"The bucket {self.bucket!r} does not exist at {self._where()}: create it, "
                    "or set AWS_S3_BUCKET to an existing bucket."
                ) from None
            raise self._translate(error, f"opening the bucket {self.bucket!r}") from None
        except (BotoCoreError, ValueError) as error:
            raise self._translate(error, f"opening the bucket {self.bucket!r}") from None

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return False
            raise self._translate(error, f"looking for {key}") from None
        except BotoCoreError as error:
            raise self._translate(error, f"looking for {key}") from None

    def put_tree(self, prefix: str, files: dict[str, Path], last: tuple[str, bytes]) -> None:
        if self._exists(prefix + last[0]):
            raise VersionExistsError(f"{self.uri(prefix)} already exists.")
        # Files left by an interrupted upload are overwritten, or ignored by readers (who read
        # only what the marker lists). Deleting them here could delete a racing upload's marker.
        for name, source in files.items():
            self._call(
                f"uploading {name}",
                self._client.upload_file,
                Filename=str(source),
                Bucket=self.bucket,
                Key=prefix + name,
            )
        self._put_once(prefix, last)

    def _put_once(self, prefix: str, last: tuple[str, bytes]) -> None:
        """Write the completion marker only if no other upload wrote one meanwhile.

        S3 conditional writes (``If-None-Match: *``) make one of two racing uploads lose
        cleanly; a store that does not implement them gets a plain write.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        key = prefix + last[0]
        try:
            self._client.put_object(Bucket=self.bucket, Key=key, Body=last[1], IfNoneMatch="*")
            return
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise VersionExistsError(f"{self.uri(prefix)} already exists.") from None
            if code not in ("NotImplemented", "501"):
                raise self._translate(error, f"uploading {last[0]}") from None
        except BotoCoreError as error:
            raise self._translate(error, f"uploading {last[0]}") from None
        self._call(
            f"uploading {last[0]}",
            self._client.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=last[1],
        )

    def get_file(self, key: str, dest: Path) -> None:
        if not self._exists(key):
            raise BundleNotFoundError(f"{self.uri(key)} does not exist.")
        self._call(
            f"downloading {key}",
            self._client.download_file,
            Bucket=self.bucket,
            Key=key,
            Filename=str(dest),
        )

    def get_bytes(self, key: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.get_object(Bucket=self.bucket, Key=key)
            return response["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._translate(error, f"reading {key}") from None
        except BotoCoreError as error:
            raise self._translate(error, f"reading {key}") from None

    def _keys(self, prefix: str) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        keys: list[str] = []
        pages = self._call(
            f"listing {prefix}",
            lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=prefix)),
        )
        for page in pages:
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def list_prefixes(self, prefix: str) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        pages = self._call(
            f"listing {prefix}",
            lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=prefix, Delimiter="/")),
        )
        names = {
            common["Prefix"][len(prefix) :].rstrip("/")
            for page in pages
            for common in page.get("CommonPrefixes", [])
        }
        return sorted(n for n in names if n)

    def delete_key(self, key: str) -> None:
        self._call(f"deleting {key}", self._client.delete_object, Bucket=self.bucket, Key=key)

    def delete_prefix(self, prefix: str) -> None:
        keys = self._keys(prefix)
        for start in range(0, len(keys), 1000):
            chunk = [{"Key": k} for k in keys[start : start + 1000]]
            self._call(
                f"deleting {prefix}",
                self._client.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": chunk, "Quiet": True},
            )


def open_store(settings: Settings) -> ObjectStore:
    """The store the settings name: S3 when ``AWS_S3_ENDPOINT`` is set, else the local folder."""
    if settings.storage_is_remote:
        return S3Store(
            settings.s3_endpoint,
            settings.s3_bucket,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            region=settings.s3_region,
        )
    return LocalStore(settings.storage_dir, settings.s3_bucket)


def store_for_uri(uri: str, settings: Settings) -> tuple[ObjectStore, str]:
    """The store and key prefix a bundle URI (as written by :func:`upload_bundle`) points at.

    The bucket comes from the URI; the credentials from the settings, and only for the endpoint
    the settings name.
    """
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        path = Path(unquote(parsed.path))
        # file://<root>/<bucket>/models/<name>/<version>/
        parts = path.parts
        if MODELS_PREFIX not in parts:
            raise StorageError(f"{uri} is not a Jukebox bundle location (no models/ folder).")
        at = len(parts) - 1 - list(reversed(parts)).index(MODELS_PREFIX)
        bucket_dir = Path(*parts[:at])
        store = LocalStore(bucket_dir.parent, bucket_dir.name)
        return store, "/".join(parts[at:]) + "/"
    if parsed.scheme == "s3":
        query = parse_qs(parsed.query)
        endpoint = query.get("endpoint", [None])[0]
        region = query.get("defaultRegion", [settings.s3_region])[0]
        # The settings' credentials go only to the endpoint they belong to, never to one named
        # in registry metadata that anyone with write access to the registry could have set.
        if (endpoint or "").rstrip("/") != (settings.s3_endpoint or "").rstrip("/"):
            raise StorageError(
                f"This bundle is stored at the S3 endpoint {endpoint or 'AWS S3'}, but "
                f"AWS_S3_ENDPOINT is {settings.s3_endpoint or 'not set'}: set AWS_S3_ENDPOINT "
                "(and that endpoint's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) to fetch it."
            )
        store = S3Store(
            endpoint,
            parsed.netloc,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            region=region,
        )
        return store, parsed.path.lstrip("/").rstrip("/") + "/"
    raise StorageError(f"Cannot read bundles from {uri!r}: only s3:// and file:// are supported.")


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
    except VersionExistsError:
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
            store.get_file(prefix + file, staging / file)
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
