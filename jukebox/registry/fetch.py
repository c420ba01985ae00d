"""Fetching a registered version: its bundle, downloaded and checked, and its model card.

Files are checked against the manifest stored with the upload, and ``model.onnx`` also against
the sha256 the registry recorded, so a bundle changed in storage is never used.
"""

from __future__ import annotations

from pathlib import Path

from jukebox.config import Settings, load_settings
from jukebox.model.bundle import CARD_FILE
from jukebox.registry.bundles import (
    bundle_store,
    check_model_name,
    check_version,
    download_bundle,
    read_manifest,
)
from jukebox.registry.connection import official_errors
from jukebox.registry.errors import VersionNotFoundError
from jukebox.registry.versions import VersionInfo, get_version


def fetched_dir(settings: Settings, name: str, version: str) -> Path:
    """Where :func:`fetch_bundle` puts a version by default."""
    return settings.fetched_dir / check_model_name(name) / check_version(version)


@official_errors()
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
    store, prefix = bundle_store(info.uri, settings)
    target = Path(dest) if dest is not None else fetched_dir(settings, name, str(version))
    return download_bundle(store, prefix, target, expected_onnx_sha256=info.onnx_sha256)


def read_model_card(version: VersionInfo, settings: Settings | None = None) -> str:
    """The model card of a version (from :func:`get_version`), read from object storage.

    Empty when the version has no stored bundle or no card.
    """
    if not version.uri:
        return ""
    store, prefix = bundle_store(version.uri, settings or load_settings())
    if read_manifest(store, prefix) is None:
        return ""
    data = store.get_bytes(prefix + CARD_FILE)
    return data.decode("utf-8", errors="replace") if data else ""
