"""The data repository itself: a git repository with DVC, made on first use, and its remotes.

Two DVC remotes, as in the workshop: ``data-source`` (the ``data`` bucket, where the live tables
are) and ``s3-version``, the default (the ``data-cache`` bucket, where DVC keeps every version).
On the embedded default both are plain directories in the app's object store
(``JUKEBOX_HOME/s3/data`` and ``…/data-cache``: DVC takes a directory path, not a ``file://``
URL); with ``AWS_S3_ENDPOINT`` set they are ``s3://data`` and ``s3://data-cache`` at that
endpoint. Remote URLs are committed in ``.dvc/config`` so the repository describes itself; the
credentials are handed to DVC in memory (``Repo(config=…)``) and never written anywhere.

The remotes the settings name are written into ``.dvc/config`` by :func:`ensure` and committed
only with the next version (after its data reached both remotes), never on their own: an
unreachable endpoint leaves no commit behind.

With ``JUKEBOX_DATA_GIT_URL`` set, the repository is a clone of that URL and every version is
pushed back; the token (``JUKEBOX_DATA_GIT_TOKEN``) reaches git through the environment of one
git process and a credential helper that reads it from there, never through a file or an argument.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from jukebox.config import Settings, public_url, refuse_embedded
from jukebox.data.schema import PROPERTIES_TABLE, RANKINGS_TABLE
from jukebox.data.versions.records import DataVersionError

TABLES = (PROPERTIES_TABLE, RANKINGS_TABLE)
DATA_FILES = {name: f"{name}.parquet" for name in TABLES}
DVC_FILES = {name: f"{name}.parquet.dvc" for name in TABLES}
SOURCE_REMOTE = "data-source"
VERSION_REMOTE = "s3-version"
SOURCE_BUCKET = "data"
VERSION_BUCKET = "data-cache"
IDENTITY = {"user.name": "Jukebox", "user.email": "jukebox@localhost", "commit.gpgsign": "false"}
LOCK_TIMEOUT = 600.0
CRASH_ENV = "JUKEBOX_TEST_CRASH_AT"
CRASH_EXIT = 86
# The token stays in the environment of the git process; the helper only names the variable.
_HELPER = '!f() { test "$1" = get && echo "password=$JUKEBOX_DATA_GIT_TOKEN"; }; f'


def crash_point(step: str) -> None:
    """A point where an update may die. For the tests only: with ``JUKEBOX_TEST_CRASH_AT`` set
    to ``step``, the process ends here at once (``os._exit``: no ``finally``, no rollback, as
    after a kill), so a test can check that the next command repairs whatever was left."""
    if os.environ.get(CRASH_ENV) == step:
        os._exit(CRASH_EXIT)


def lock_path(settings: Settings) -> Path:
    """The lock file beside the repository (inside it, git would see it)."""
    return settings.home / "data-repo.lock"


@contextlib.contextmanager
def locked(settings: Settings, timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Hold the repository's exclusive lock: updates, one at a time, across processes and threads.

    ``flock`` belongs to the open file, so two threads of one process exclude each other too, and
    the kernel drops it when a process dies, so a crash never leaves the repository locked.
    """
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DataVersionError(
                        f"Another data version update has held {path} for {timeout:.0f} s; "
                        "try again when it has finished."
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def git(settings: Settings, *args: str, check: bool = True, cwd: Path | None = None) -> str:
    """Run git in the data repository; its output, or a DataVersionError that quotes git."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    command = ["git"]
    if settings.data_git_url:
        env["JUKEBOX_DATA_GIT_TOKEN"] = settings.data_git_token or ""
        command += ["-c", "credential.helper=", "-c", f"credential.helper={_HELPER}"]
    result = subprocess.run(
        [*command, *args],
        cwd=cwd or settings.data_repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        said = (result.stderr.strip() or result.stdout.strip()).splitlines()
        if settings.data_git_token:
            said = [line.replace(settings.data_git_token, "***") for line in said]
        raise DataVersionError(
            f"git {args[0]} failed in the data repository {settings.data_repo}: "
            f"{' '.join(said[-3:]) or f'exit status {result.returncode}'}."
        )
    return result.stdout


def remote_urls(settings: Settings) -> dict[str, str]:
    """The URL or directory of each DVC remote, as written in ``.dvc/config``."""
    if settings.storage_is_remote:
        return {SOURCE_REMOTE: f"s3://{SOURCE_BUCKET}", VERSION_REMOTE: f"s3://{VERSION_BUCKET}"}
    return {
        SOURCE_REMOTE: str(settings.storage_dir / SOURCE_BUCKET),
        VERSION_REMOTE: str(settings.storage_dir / VERSION_BUCKET),
    }


def shown_remotes(settings: Settings) -> dict[str, str]:
    """Where each DVC remote is, for people: a directory, or an ``s3://`` URL with its endpoint
    (no credentials)."""
    urls = remote_urls(settings)
    if settings.storage_is_remote:
        endpoint = public_url(settings.s3_endpoint)
        return {name: f"{url}?endpoint={endpoint}" for name, url in urls.items()}
    return urls


def remote_settings(settings: Settings, *, secrets: bool) -> dict[str, dict[str, str]]:
    """Each remote's DVC settings; with ``secrets`` the credentials too (for memory only)."""
    remotes = {}
    for name, url in remote_urls(settings).items():
        options = {"url": url}
        if settings.storage_is_remote:
            options["endpointurl"] = settings.s3_endpoint
            if settings.s3_region:
                options["region"] = settings.s3_region
            options["connect_timeout"] = "5"
            options["read_timeout"] = "60"
            if secrets and settings.s3_access_key:
                options["access_key_id"] = settings.s3_access_key
                options["secret_access_key"] = settings.s3_secret_key or ""
        remotes[name] = options
    return remotes


def runtime_config(settings: Settings) -> dict:
    """The DVC configuration a :class:`dvc.repo.Repo` gets in memory: the remotes as the settings
    say now (credentials included), analytics off, and no autostaging (we stage ourselves)."""
    return {
        "core": {"remote": VERSION_REMOTE, "analytics": False, "autostage": False},
        "remote": remote_settings(settings, secrets=True),
    }


@contextlib.contextmanager
def quiet_dvc() -> Iterator[None]:
    """DVC's advice to a terminal user ("you can now commit…") is not ours to print: only its
    warnings and errors get through while Jukebox drives it."""
    logger = logging.getLogger("dvc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextlib.contextmanager
def dvc_repo(settings: Settings) -> Iterator:
    """The DVC repository, opened with :func:`runtime_config`."""
    from dvc.repo import Repo

    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    with quiet_dvc():
        repo = Repo(str(settings.data_repo), config=runtime_config(settings))
        try:
            yield repo
        finally:
            repo.close()


def exists(settings: Settings) -> bool:
    """Whether the data repository has been made (git and DVC both initialised)."""
    root = settings.data_repo
    return (root / ".git").is_dir() and (root / ".dvc" / "config").is_file()


def head(settings: Settings) -> str | None:
    """The commit HEAD points at, or None in a repository with no commit yet."""
    out = git(settings, "rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
    return out.strip() or None


def ensure(settings: Settings) -> None:
    """Make the repository if it is not there, and bring a clone up to date with its remote.

    Also resets git to HEAD, undoing what a crashed update left in git's files, and writes the
    remotes the settings name into ``.dvc/config`` (committed by the next update). The DVC work
    tree and ``data-source`` are brought back to HEAD by ``workspace.repair``. Call it holding
    :func:`locked`.
    """
    if not settings.data_git_url:
        refuse_embedded(settings, "data repository")
    if not settings.storage_is_remote:
        refuse_embedded(settings, "object storage")
    root = settings.data_repo
    if not (root / ".git").is_dir():
        root.parent.mkdir(parents=True, exist_ok=True)
        if settings.data_git_url:
            git(settings, "clone", "--quiet", settings.data_git_url, str(root), cwd=root.parent)
        else:
            root.mkdir(parents=True, exist_ok=True)
            git(settings, "init", "--quiet", "--initial-branch=main")
        for key, value in IDENTITY.items():
            git(settings, "config", "--local", key, value)
    # A stale index lock can only be ours (we hold the repository lock): a crashed git.
    (root / ".git" / "index.lock").unlink(missing_ok=True)
    if settings.data_git_url:
        sync_with_remote(settings)
    elif head(settings):
        git(settings, "reset", "--quiet", "--hard", "HEAD")
    if not (root / ".dvc" / "config").is_file():
        _init_dvc(settings)
    write_remotes(settings)


def branch(settings: Settings) -> str:
    return git(settings, "symbolic-ref", "--short", "HEAD").strip()


def sync_with_remote(settings: Settings) -> None:
    """Make the clone exactly its remote's branch: every commit made here was pushed or undone,
    so nothing of value is lost by resetting to it."""
    git(settings, "fetch", "--quiet", "origin")
    name = branch(settings)
    remote_head = git(
        settings, "rev-parse", "--verify", "--quiet", f"origin/{name}^{{commit}}", check=False
    ).strip()
    if remote_head:
        git(settings, "reset", "--quiet", "--hard", remote_head)


def push_commits(settings: Settings) -> None:
    """Push HEAD to the git remote, when there is one."""
    if settings.data_git_url:
        try:
            git(settings, "push", "--quiet", "origin", f"HEAD:refs/heads/{branch(settings)}")
        except DataVersionError as error:
            raise DataVersionError(
                f"Could not push the data version to {public_url(settings.data_git_url)} "
                f"({error}). Check the URL and JUKEBOX_DATA_GIT_TOKEN, then try again."
            ) from None


def _init_dvc(settings: Settings) -> None:
    from dvc.repo import Repo

    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    with quiet_dvc():
        Repo.init(str(settings.data_repo)).close()
    with dvc_repo(settings) as repo, repo.config.edit("repo") as conf:
        conf["core"]["analytics"] = False
    write_remotes(settings)
    git(settings, "add", ".dvc/config", ".dvc/.gitignore", ".dvcignore")
    git(settings, "commit", "--quiet", "-m", "Data repository: DVC with remotes")
    push_commits(settings)


def write_remotes(settings: Settings) -> None:
    """Write the remotes the settings name into ``.dvc/config`` (no credentials) when they
    differ from what is there; the next update commits them with its version."""
    from dvc.config import Config

    config = Config(str(settings.data_repo / ".dvc"), validate=False)
    wanted = remote_settings(settings, secrets=False)
    current = config.load_one("repo")
    if current.get("remote") == wanted and current.get("core", {}).get("remote") == VERSION_REMOTE:
        return
    with config.edit("repo") as conf:
        conf["remote"] = wanted
        conf["core"]["remote"] = VERSION_REMOTE


def remotes_changed(settings: Settings) -> bool:
    """Whether ``.dvc/config`` names other remotes than HEAD's (written, not yet committed)."""
    out = git(settings, "status", "--porcelain", "--", ".dvc/config")
    return bool(out.strip())
