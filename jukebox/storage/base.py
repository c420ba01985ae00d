"""What every object store offers: a bucket of objects addressed by ``/``-separated keys.

A tree of files is written with a *completion marker* last (:meth:`ObjectStore.put_tree`), so a
reader that finds the marker knows the tree is whole. What the marker holds is up to the caller.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path


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
        Raises :class:`ObjectExistsError` if ``last`` is already stored under ``prefix``.
        """

    @abstractmethod
    def get_file(self, key: str, dest: Path) -> None:
        """Download ``key`` to ``dest``; raise :class:`ObjectNotFoundError` if it is missing."""

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
