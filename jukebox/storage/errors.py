"""The errors of object storage a user can fix; each message says what is wrong and what to do."""

from __future__ import annotations

from jukebox.errors import JukeboxError


class StorageError(JukeboxError, RuntimeError):
    """Something about object storage a user can fix; the message says what and how."""


class StorageUnreachableError(StorageError):
    """The S3 endpoint does not answer."""


class StorageCredentialsError(StorageError):
    """The S3 endpoint answers but refuses the access key or secret."""


class ObjectExistsError(StorageError):
    """The completion marker of a tree is already stored: the tree is there and stays as it is."""


class ObjectNotFoundError(StorageError):
    """No object is stored under the key."""
