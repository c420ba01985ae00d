"""The embedded default object store: a folder per bucket on the local disk.

A tree is written to a hidden temporary folder and renamed into place, so even a crash leaves
nothing at the final path; a lock file keeps two processes from completing the same tree.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from jukebox.storage.base import ObjectStore
from jukebox.storage.errors import ObjectExistsError, ObjectNotFoundError, StorageError


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
                    raise ObjectExistsError(f"{self.uri(prefix)} already exists.")
                # A folder without its marker is debris (this class renames whole folders into
                # place); it must not block or mix into a new upload.
                self.delete_prefix(prefix)
                os.rename(staging, final)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def get_file(self, key: str, dest: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise ObjectNotFoundError(f"{self.uri(key)} does not exist.")
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
