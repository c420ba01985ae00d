"""Object storage: a local directory (the embedded default) or S3/MinIO through boto3.

It stores trees of files under key prefixes and knows nothing of what they hold: the layout of a
model bundle in storage is :mod:`jukebox.registry.bundles`. The modules: ``base`` (what every
store offers), ``local`` and ``s3`` (the two stores), ``locate`` (which store the settings or a
URI name), ``errors``.
"""

from jukebox.storage.base import ObjectStore
from jukebox.storage.errors import (
    ObjectExistsError,
    ObjectNotFoundError,
    StorageCredentialsError,
    StorageError,
    StorageUnreachableError,
)
from jukebox.storage.local import LocalStore
from jukebox.storage.locate import open_store, store_for_uri
from jukebox.storage.s3 import S3Store

__all__ = [
    "LocalStore",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "ObjectStore",
    "S3Store",
    "StorageCredentialsError",
    "StorageError",
    "StorageUnreachableError",
    "open_store",
    "store_for_uri",
]
