"""Making, listing, finding, reading, reverting and checking out data versions.

What gets versioned is what ``data load`` would make current: the current data set is read
through the same validation (an error refuses it with a sentence and touches nothing) and the
rows validation flags are dropped by the same ``clean_flagged``; the cleaned tables become the
current data set once they are versioned.

An update is all or nothing. Under the repository lock it copies the two tables into the work
tree, ``dvc add``s them, pushes them to ``s3-version``, copies them to ``data-source`` and only
then commits the ``.dvc`` files (with ``.dvc/config`` when the remotes changed) and pushes the
commit to the git remote, when there is one. If any step fails, git goes back to HEAD and
``workspace.repair`` brings the work tree and ``data-source`` back to HEAD's version; what was
pushed to ``s3-version`` for it is removed again. A crash (nothing runs after it) is repaired the
same way by the next command: each one starts with ``repository.ensure`` (git back to its last
commit) and ``workspace.repair``.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import yaml

from jukebox.config import Settings
from jukebox.data.songdata import SongData, song_data
from jukebox.data.store import (
    PROPERTIES_FILE,
    RANKINGS_FILE,
    NoDataError,
    clean_flagged,
    move_data_dir,
    read_data_dir,
    save_current,
    write_data_dir,
)
from jukebox.data.validation import ValidationError
from jukebox.data.versions import repository as rp
from jukebox.data.versions import workspace as ws
from jukebox.data.versions.records import (
    DataVersion,
    DataVersionError,
    TableVersion,
    combined_md5,
)
from jukebox.errors import JukeboxError

_CURRENT_FILES = {rp.TABLES[0]: PROPERTIES_FILE, rp.TABLES[1]: RANKINGS_FILE}


def version_current(settings: Settings, message: str | None = None) -> DataVersion | None:
    """Version the current data set (``JUKEBOX_HOME/data``) as ``data load`` would take it.

    The tables are read and validated as every source is; errors refuse them with a sentence
    (which file, which column, how to fix it) and nothing is committed, pushed or published.
    Rows validation flags are dropped through :func:`~jukebox.data.store.clean_flagged`, the
    message says how many, and once versioned the cleaned tables are the current data set.

    Returns the new version; None, and no commit, when the tables are exactly those of the
    newest version (remotes that changed in the settings are then committed on their own,
    once HEAD's tables reached them).
    """
    sources = {name: settings.data_dir / file for name, file in _CURRENT_FILES.items()}
    missing = [str(path) for path in sources.values() if not path.is_file()]
    if missing:
        raise DataVersionError(
            f"There is no current data set to version ({', '.join(missing)} missing). "
            "Create one with `python -m jukebox data generate` or load one in the app."
        )
    staging = settings.home / "data-repo.staging"
    with rp.locked(settings), _leaving_nothing(settings):
        data = _validated(settings)
        cleaned = _cleaned(data)
        shutil.rmtree(staging, ignore_errors=True)  # what a crash left
        try:
            if cleaned is not data:
                # Versioned from here, and moved into place only once versioned.
                write_data_dir(cleaned, staging)
                sources = {name: staging / file for name, file in _CURRENT_FILES.items()}
            _ready(settings)
            md5s = {name: ws.file_md5(path) for name, path in sources.items()}
            newest = _version_at(settings, "HEAD")
            if newest and {n: t.md5 for n, t in newest.tables.items()} == md5s:
                if rp.remotes_changed(settings):
                    # Pushed and published again first: the new remotes must hold HEAD's data.
                    _commit_tables(settings, sources, "Data repository: remotes changed")
                version = None
            else:
                version = _commit_tables(settings, sources, _message(data, cleaned, md5s, message))
            rp.crash_point("versioned")
            if cleaned is not data:
                move_data_dir(staging, settings.data_dir)
            return version
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def list_versions(settings: Settings) -> list[DataVersion]:
    """Every data version, newest first (the commits of HEAD that changed a ``.dvc`` file)."""
    if not rp.exists(settings) or not rp.head(settings):
        return []
    log = rp.git(
        settings,
        "log",
        "--format=%H%x1f%cI%x1f%s%x1e",
        "HEAD",
        "--",
        *rp.DVC_FILES.values(),
    )
    commits = [entry.strip().split("\x1f") for entry in log.split("\x1e") if entry.strip()]
    files = _dvc_files_at(settings, [c[0] for c in commits])
    versions = []
    for commit, date, message in commits:
        tables = files.get(commit)
        if tables is not None:
            versions.append(DataVersion(commit, datetime.fromisoformat(date), message, tables))
    return versions


def resolve(settings: Settings, ref: str) -> DataVersion:
    """The version ``ref`` names among the repository's versions; see :func:`find_version`."""
    return find_version(list_versions(settings), ref)


def find_version(versions: list[DataVersion], ref: str) -> DataVersion:
    """The version of ``versions`` (newest first) that ``ref`` names: a git commit, a table's
    md5 or the combined md5 of both (the newest version with that content), each whole or its
    first 4 characters or more; or ``latest``/``HEAD``. Every form ``data versions`` and the
    pages print is one of these. Pure, so a page can match a link against what it listed."""
    wanted = (ref or "").strip().lower()
    if not versions:
        raise DataVersionError(
            "There are no data versions yet: make one with `python -m jukebox data version`."
        )
    if wanted in ("latest", "head"):
        return versions[0]
    if len(wanted) >= 4 and all(c in "0123456789abcdef" for c in wanted):
        by_commit = [v for v in versions if v.commit.startswith(wanted)]
        if len({v.commit for v in by_commit}) == 1:
            return by_commit[0]
        if len(by_commit) > 1:
            raise DataVersionError(
                f"{ref!r} is the start of {len(by_commit)} data versions' commits "
                f"({', '.join(v.short for v in by_commit[:5])}): give more characters."
            )
        # An md5 or its start (`data versions` prints 12 characters), of both tables or one;
        # versions are newest first, so the newest with that content.
        found = [
            (version, md5)
            for version in versions
            for md5 in (version.md5, *(t.md5 for t in version.tables.values()))
            if md5.startswith(wanted)
        ]
        contents = sorted({md5 for _, md5 in found})
        if len(contents) > 1:
            raise DataVersionError(
                f"{ref!r} is the start of {len(contents)} different md5s "
                f"({', '.join(md5[:16] for md5 in contents[:5])}): give more characters."
            )
        if found:
            return found[0][0]
    raise DataVersionError(
        f"No data version is called {ref!r}: give a commit or md5 that `python -m jukebox data "
        "versions` lists."
    )


def read_version(settings: Settings, ref: str) -> SongData:
    """Both tables of a version, read through ``dvc.api`` at its commit and validated."""
    import dvc.api
    import pandas as pd

    version = resolve(settings, ref)
    frames = {}
    for name, file in rp.DATA_FILES.items():
        try:
            with dvc.api.open(
                file,
                repo=str(settings.data_repo),
                rev=version.commit,
                mode="rb",
                config=rp.runtime_config(settings),
            ) as handle:
                frames[name] = pd.read_parquet(io.BytesIO(handle.read()))
        except JukeboxError:
            raise
        except Exception as error:  # noqa: BLE001 - DVC's errors name no remedy; ours does
            raise DataVersionError(
                f"Could not read {file} of data version {version.short} from DVC ({error}). "
                f"Check that the remote {rp.VERSION_REMOTE} "
                f"({rp.shown_remotes(settings)[rp.VERSION_REMOTE]}) is reachable."
            ) from error
    return song_data(
        frames[rp.TABLES[0]],
        frames[rp.TABLES[1]],
        f"data version {version.short}",
        properties_where=f"{rp.DATA_FILES[rp.TABLES[0]]} of data version {version.short}",
        rankings_where=f"{rp.DATA_FILES[rp.TABLES[1]]} of data version {version.short}",
    )


def checkout(settings: Settings, ref: str) -> SongData:
    """Make a version the current data set (``JUKEBOX_HOME/data``); returns it."""
    data = read_version(settings, ref)
    save_current(data, settings)
    return data


def revert_to(settings: Settings, ref: str, *, make_current: bool = True) -> DataVersion:
    """A new version whose content is that of ``ref``; history is never rewritten.

    With ``make_current`` (the default) the reverted data also becomes the current data set, so
    the current data set, the live tables and the newest version agree again. When ``ref``'s
    content is already the newest version's, that version is returned and nothing is committed.
    """
    with rp.locked(settings), _leaving_nothing(settings):
        _ready(settings)
        target = resolve(settings, ref)
        newest = list_versions(settings)[0]
        if newest.md5 != target.md5:
            for file in rp.DVC_FILES.values():
                content = rp.git(settings, "show", f"{target.commit}:{file}")
                (settings.data_repo / file).write_text(content)
            try:
                with rp.dvc_repo(settings) as repo:
                    repo.pull(targets=_dvc_targets(settings), force=True)
            except Exception as error:  # noqa: BLE001 - reported as a sentence below
                _roll_back(settings, rp.head(settings))
                raise DataVersionError(
                    f"Could not fetch data version {target.short} from {rp.VERSION_REMOTE} "
                    f"({error}). Check that the remote is reachable, then try again."
                ) from error
            sources = {name: settings.data_repo / file for name, file in rp.DATA_FILES.items()}
            message = f"Revert to data version {target.short} ({target.message})"
            newest = _commit_tables(settings, sources, message, in_place=True)
    if make_current:
        checkout(settings, newest.commit)
    return newest


def remotes(settings: Settings) -> dict[str, str]:
    """Where each DVC remote is: a directory, or an ``s3://`` URL with its endpoint (no
    credentials); what registry metadata records next to the data version."""
    return rp.shown_remotes(settings)


def sync(settings: Settings) -> DataVersion | None:
    """Make the repository if it is not there and, with a git remote, bring it up to date with
    the remote (what a watcher calls before :func:`list_versions`); the newest version.

    Like every command that takes the repository lock, it first repairs what a crashed update
    left: git, the DVC work tree and ``data-source`` all at the last commit's version."""
    with rp.locked(settings), _leaving_nothing(settings):
        _ready(settings)
    return current_version(settings)


def current_version(settings: Settings) -> DataVersion | None:
    """The newest version, or None when there is none yet."""
    versions = list_versions(settings)
    return versions[0] if versions else None


# ---- inside an update (the repository lock is held) -------------------------------------


def _ready(settings: Settings) -> None:
    """The repository made or synced, and git, the work tree and ``data-source`` at HEAD."""
    rp.ensure(settings)
    ws.repair(settings)


@contextlib.contextmanager
def _leaving_nothing(settings: Settings) -> Iterator[None]:
    """Remotes :func:`rp.ensure` wrote into ``.dvc/config`` and no update committed (it failed,
    or there was none) go again: only a version whose data reached them commits them."""
    try:
        yield
    finally:
        if rp.exists(settings) and rp.head(settings) and rp.remotes_changed(settings):
            rp.git(settings, "checkout", "--quiet", "HEAD", "--", ".dvc/config")


def _validated(settings: Settings) -> SongData:
    """The current data set read through validation, or a DataVersionError saying what is wrong
    with which file and how to fix it."""
    refused = "The current data set cannot be versioned, so the newest data version stays current"
    try:
        return read_data_dir(settings.data_dir)
    except ValidationError as error:
        problems = " ".join(f.message for f in error.report.errors)
        raise DataVersionError(
            f"{refused}: {problems} Fix the tables in {settings.data_dir}, or load good ones "
            "with `python -m jukebox data load`."
        ) from None
    except NoDataError as error:  # its message says how to fix it
        raise DataVersionError(f"{refused}: {error}") from None


def _cleaned(data: SongData) -> SongData:
    """``data`` without the rows ``data load`` drops; a table cleaning would empty refuses."""
    try:
        return clean_flagged(data)
    except ValidationError as error:
        problems = " ".join(f.message for f in error.report.errors)
        raise DataVersionError(
            "The current data set cannot be versioned, so the newest data version stays "
            f"current: {problems}"
        ) from None


def _message(data: SongData, cleaned: SongData, md5s: dict[str, str], message: str | None) -> str:
    """The commit message: the user's, or one naming the data set; either says what cleaning
    dropped, so the history tells why a version has fewer rows than its source."""
    text = message or f"Data version {combined_md5(md5s)[:8]}: {data.source or 'data set'}"
    if cleaned is data:
        return text
    songs = len(data.properties) - len(cleaned.properties)
    chart_rows = len(data.rankings) - len(cleaned.rankings)
    return f"{text} ({songs:,} songs and {chart_rows:,} chart rows with problems dropped)"


def _commit_tables(
    settings: Settings, sources: dict[str, Path], message: str, *, in_place: bool = False
) -> DataVersion:
    """Add, push, publish and commit ``sources`` as the next version; all or nothing."""
    root = settings.data_repo
    previous = rp.head(settings)
    pushed: list[str] = []
    try:
        if not in_place:
            for name, source in sources.items():
                staged = root / f".{rp.DATA_FILES[name]}.incoming"
                shutil.copyfile(source, staged)
                os.replace(staged, root / rp.DATA_FILES[name])
        rp.crash_point("copied")
        # Absolute: DVC resolves relative targets against the process's working directory.
        targets = [os.fspath(root / rp.DATA_FILES[name]) for name in rp.TABLES]
        with rp.dvc_repo(settings) as repo:
            repo.add(targets)
            _record_rows(settings)
            rp.crash_point("added")
            try:
                pushed = _absent_from_remote(repo, settings)
                repo.push(targets=targets, remote=rp.VERSION_REMOTE)
            except Exception as error:  # noqa: BLE001 - the sentence says what to do
                raise ws.unreachable(
                    settings, rp.VERSION_REMOTE, "push the data to", error
                ) from error
            rp.crash_point("pushed")
            md5s = ws.head_md5s(settings)
            assert md5s is not None  # dvc add has just written both .dvc files
            ws.publish(repo, settings, md5s)
            rp.crash_point("published")
        rp.git(settings, "add", *rp.DVC_FILES.values(), ".gitignore", ".dvc/config")
        rp.git(settings, "commit", "--quiet", "-m", message)
        rp.crash_point("committed")
        rp.push_commits(settings)
    except BaseException:
        _roll_back(settings, previous, orphans=pushed)
        raise
    version = _version_at(settings, "HEAD")
    assert version is not None
    return version


def _dvc_targets(settings: Settings) -> list[str]:
    return [os.fspath(settings.data_repo / file) for file in rp.DVC_FILES.values()]


def _record_rows(settings: Settings) -> None:
    """Write each table's row count into its ``.dvc`` file (``meta``), so listing versions never
    has to download a table to say how many rows it has."""
    import pyarrow.parquet as pq

    for name, file in rp.DVC_FILES.items():
        path = settings.data_repo / file
        stage = yaml.safe_load(path.read_text())
        rows = pq.ParquetFile(settings.data_repo / rp.DATA_FILES[name]).metadata.num_rows
        stage["meta"] = {"table": name, "rows": int(rows)}
        path.write_text(yaml.safe_dump(stage, sort_keys=False))


def _absent_from_remote(repo, settings: Settings) -> list[str]:
    """The md5s of the work tree's ``.dvc`` files that ``s3-version`` does not hold yet: what a
    push adds, and what a rollback takes away again."""
    odb = repo.cloud.get_remote(rp.VERSION_REMOTE).odb
    md5s = ws.head_md5s(settings) or {}
    return [md5 for md5 in md5s.values() if not odb.fs.exists(odb.oid_to_path(md5))]


def _roll_back(settings: Settings, previous: str | None, *, orphans: list[str] = ()) -> None:
    """Put git back at ``previous`` and the work tree and ``data-source`` at its version, and
    remove from ``s3-version`` what this update pushed and no commit references. Best effort:
    what it cannot do (a remote is down) the next command's repair does."""
    if orphans:
        with _quietly(), rp.dvc_repo(settings) as repo:
            odb = repo.cloud.get_remote(rp.VERSION_REMOTE).odb
            for md5 in orphans:
                odb.fs.rm(odb.oid_to_path(md5))
    with _quietly():
        if previous:
            rp.git(settings, "reset", "--quiet", "--hard", previous)
        ws.repair(settings)


class _quietly:
    """Best effort: a rollback that fails must not hide the error that caused it."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, trace):
        return kind is not None and issubclass(kind, Exception)


# ---- reading the repository ---------------------------------------------------------------


def _version_at(settings: Settings, rev: str) -> DataVersion | None:
    if not rp.head(settings):
        return None
    line = rp.git(settings, "log", "-1", "--format=%H%x1f%cI%x1f%s", rev).strip()
    commit, date, message = line.split("\x1f")
    tables = _dvc_files_at(settings, [commit]).get(commit)
    if tables is None:
        return None
    return DataVersion(commit, datetime.fromisoformat(date), message, tables)


def _dvc_files_at(settings: Settings, commits: list[str]) -> dict[str, dict[str, TableVersion]]:
    """Both tables' ``.dvc`` files at each commit, read by one ``git cat-file --batch``."""
    import subprocess

    if not commits:
        return {}
    specs = [(c, name, f"{c}:{file}") for c in commits for name, file in rp.DVC_FILES.items()]
    result = subprocess.run(
        ["git", "cat-file", "--batch"],
        cwd=settings.data_repo,
        input="".join(f"{spec}\n" for _, _, spec in specs).encode(),
        capture_output=True,
        check=True,
    )
    out, at, found = result.stdout, 0, {}
    for commit, name, _ in specs:
        header_end = out.index(b"\n", at)
        header = out[at:header_end].split()
        at = header_end + 1
        if header[-1] == b"missing":
            found.setdefault(commit, {})[name] = None
            continue
        size = int(header[2])
        stage = yaml.safe_load(out[at : at + size].decode())
        at += size + 1
        out_entry = (stage.get("outs") or [{}])[0]
        rows = (stage.get("meta") or {}).get("rows")
        found.setdefault(commit, {})[name] = TableVersion(
            name, str(out_entry.get("md5", "")), int(out_entry.get("size", 0)), rows
        )
    return {
        commit: tables
        for commit, tables in found.items()
        if all(tables.get(name) is not None for name in rp.TABLES)
    }
