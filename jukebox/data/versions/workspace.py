"""The DVC work tree and the live tables in ``data-source``, and bringing both back to HEAD.

An update changes three things that cannot change together: git (the ``.dvc`` files), the DVC
work tree (the tables beside them) and ``data-source`` (the live tables other tools read). A
crash between two of them leaves them at different versions. :func:`repair`, run by every
command that takes the repository lock, after git has been reset to its last commit, puts the
work tree and ``data-source`` back at the version that commit names; so whatever died, the next
command starts from one version.

``data-source`` holds a small marker, ``.jukebox-published.json``, beside the tables. Before it
copies tables there, :func:`publish` marks them as being replaced; once both are there, it
records their md5s. A marker that does not name HEAD's md5s as published means the live tables
may not be HEAD's (a copy died half-way, or a version was published and never committed), and
repair copies them again. Reading the marker is one small request; checking the tables
themselves would download them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import yaml

from jukebox.config import Settings
from jukebox.data.versions import repository as rp
from jukebox.data.versions.records import DataVersionError

MARKER = ".jukebox-published.json"


def head_md5s(settings: Settings) -> dict[str, str] | None:
    """Each table's md5 as the work tree's ``.dvc`` files say (HEAD's, once git is reset);
    None when the repository has no version yet."""
    md5s = {}
    for name, file in rp.DVC_FILES.items():
        path = settings.data_repo / file
        if not path.is_file():
            return None
        md5s[name] = yaml.safe_load(path.read_text())["outs"][0]["md5"]
    return md5s


def file_md5(path: Path) -> str:
    """The md5 DVC 3 gives a file: the md5 of its bytes."""
    digest = hashlib.md5()  # noqa: S324 - DVC's content id, not security
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def publish(repo, settings: Settings, md5s: dict[str, str]) -> None:
    """Copy the work tree's tables (whose md5s are ``md5s``) to ``data-source``, the live tables.

    The marker says "being replaced" while the copy runs and names the tables once both are
    there, so a copy that dies half-way is seen and redone by :func:`repair`.
    """
    remote = repo.cloud.get_remote(rp.SOURCE_REMOTE)
    fs = remote.fs
    try:
        fs.makedirs(remote.path, exist_ok=True)
        _write_marker(fs, remote.path, "publishing", md5s)
        for number, file in enumerate(rp.DATA_FILES.values()):
            if number:
                rp.crash_point("publishing")  # one table copied, the other not yet
            fs.put_file(os.fspath(settings.data_repo / file), fs.join(remote.path, file))
        _write_marker(fs, remote.path, "published", md5s)
    except Exception as error:  # noqa: BLE001 - the sentence says what to do
        raise unreachable(settings, rp.SOURCE_REMOTE, "copy the tables to", error) from error


def published(repo, settings: Settings) -> dict | None:
    """What the marker in ``data-source`` says (``state`` and ``tables``); None when there is
    none. A remote that cannot be read raises: it may hold anything."""
    remote = repo.cloud.get_remote(rp.SOURCE_REMOTE)
    path = remote.fs.join(remote.path, MARKER)
    try:
        if not remote.fs.exists(path):
            return None
        content = remote.fs.cat_file(path)
    except Exception as error:  # noqa: BLE001 - the sentence says what to do
        raise unreachable(
            settings, rp.SOURCE_REMOTE, "read the live tables' marker in", error
        ) from error
    try:
        marker = json.loads(content)
    except ValueError:
        return None  # a torn marker vouches for nothing
    return marker if isinstance(marker, dict) else None


def repair(settings: Settings) -> None:
    """Bring the DVC work tree and ``data-source`` to the version of the work tree's ``.dvc``
    files (HEAD's: call it after git was reset, holding the repository lock).

    Cheap when nothing is wrong: the md5 of two local files and one small read of the marker.
    Work tree tables that differ from HEAD's are checked out from the DVC cache, or pulled from
    ``s3-version`` when the cache does not have them; ``data-source`` is copied again unless its
    marker names HEAD's tables as published. In a repository without a version, what a crashed
    first update left is removed from both. Raises DataVersionError when ``data-source`` needs
    the copy and cannot take it.
    """
    root = settings.data_repo
    for file in rp.DATA_FILES.values():
        (root / f".{file}.incoming").unlink(missing_ok=True)
    # What a crashed update created and HEAD does not track; git keeps what HEAD ignores (the
    # tables, when HEAD has a version).
    rp.git(settings, "clean", "--quiet", "--force", "--", ".gitignore", *rp.DVC_FILES.values())
    # Apart, after a stray .gitignore went: else it would still hide the tables from git clean.
    rp.git(settings, "clean", "--quiet", "--force", "--", *rp.DATA_FILES.values())
    wanted = head_md5s(settings)
    with rp.dvc_repo(settings) as repo:
        if wanted is None:
            _unpublish(repo, settings)
            return
        # A table that is not there at all (a fresh clone) stays away: only listing needs no
        # download. One that holds other content than HEAD's is what an update left.
        stale = [
            name
            for name, md5 in wanted.items()
            if (root / rp.DATA_FILES[name]).is_file()
            and file_md5(root / rp.DATA_FILES[name]) != md5
        ]
        if stale:
            _check_out(repo, settings, stale)
        if not all((root / file).is_file() for file in rp.DATA_FILES.values()):
            return  # nothing here to publish; whoever made HEAD published it
        if published(repo, settings) != {"state": "published", "tables": wanted}:
            publish(repo, settings, wanted)


def unreachable(settings: Settings, remote: str, action: str, error: Exception) -> DataVersionError:
    """The sentence for a DVC remote that failed: which one, where, and what to check."""
    return DataVersionError(
        f"Could not {action} the DVC remote {remote} ({rp.shown_remotes(settings)[remote]}): "
        f"{error}. "
        "Check that it is reachable and the credentials are right; the previous version is "
        "current."
    )


def _check_out(repo, settings: Settings, names: list[str]) -> None:
    """HEAD's content for the tables ``names``, from the DVC cache or else from ``s3-version``;
    a table neither has is removed, so the work tree never holds another version's."""
    targets = [os.fspath(settings.data_repo / rp.DVC_FILES[name]) for name in names]
    try:
        repo.checkout(targets=targets, force=True)
        return
    except Exception:  # noqa: BLE001 - not in the cache: fetch it below
        pass
    try:
        repo.pull(targets=targets, remote=rp.VERSION_REMOTE, force=True)
    except Exception:  # noqa: BLE001 - unreachable: the table goes, the next command retries
        for name in names:
            (settings.data_repo / rp.DATA_FILES[name]).unlink(missing_ok=True)


def _unpublish(repo, settings: Settings) -> None:
    """No version yet: what a crashed first update copied to ``data-source`` goes again (only
    when the marker says Jukebox put it there; tables someone else put there stay)."""
    if published(repo, settings) is None:
        return
    remote = repo.cloud.get_remote(rp.SOURCE_REMOTE)
    for file in [*rp.DATA_FILES.values(), MARKER]:
        path = remote.fs.join(remote.path, file)
        if remote.fs.exists(path):
            remote.fs.rm(path)


def _write_marker(fs, root: str, state: str, md5s: dict[str, str]) -> None:
    body = json.dumps({"state": state, "tables": md5s}, sort_keys=True).encode()
    fs.pipe_file(fs.join(root, MARKER), body)
