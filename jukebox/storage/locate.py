"""Which object store the settings name, and which store and key a stored URI points at.

URIs follow the Kubeflow Model Registry client (``model_registry.utils.s3_uri_from``):
``s3://<bucket>/<key>?endpoint=<url>&defaultRegion=<region>``, and ``file:///<path>`` locally.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from jukebox.config import Settings, refuse_embedded
from jukebox.storage.base import ObjectStore
from jukebox.storage.errors import StorageError
from jukebox.storage.local import LocalStore
from jukebox.storage.s3 import S3Store


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
    refuse_embedded(settings, "object storage")
    return LocalStore(settings.storage_dir, settings.s3_bucket)


def store_for_uri(uri: str, settings: Settings, *, top_folder: str) -> tuple[ObjectStore, str]:
    """The store and key prefix (ending with ``/``) that the URI of a stored tree points at.

    A ``file://`` path does not say where the bucket ends and the key begins, so the caller names
    the first folder of its keys (``top_folder``); the folder above it is the bucket. The bucket
    of an ``s3://`` URI is in the URI; the credentials come from the settings, and only for the
    endpoint the settings name.
    """
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        parts = Path(unquote(parsed.path)).parts
        if top_folder not in parts:
            raise StorageError(
                f"{uri} is not a Jukebox storage location (no {top_folder}/ folder in it)."
            )
        at = len(parts) - 1 - list(reversed(parts)).index(top_folder)
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
