"""`data version` killed at each step of an update: the next command finds git, the DVC work tree
and ``data-source`` at one version (the last commit's), and the update then goes through.

The update runs in a subprocess that ``JUKEBOX_TEST_CRASH_AT`` ends at a named step with
``os._exit`` (no rollback, no ``finally``: as after a kill). What "one version" means is checked
with git and DVC's own command line, not with the code under test.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from jukebox.data import versions as dv
from jukebox.data.store import load_current, save_current
from jukebox.data.versions import repository as rp
from tests.data.versioning import changed, git, small_set

pytestmark = pytest.mark.slow  # a git + DVC repository and a subprocess per case

ROOT = Path(__file__).parents[2]
TABLES = ("song_properties", "song_rankings")

# Every step of an update, in order, and whether the commit was made before it died.
STEPS = {
    "copied": False,  # the new tables are in the work tree
    "added": False,  # `dvc add` rewrote the .dvc files
    "pushed": False,  # s3-version holds the new tables
    "publishing": False,  # data-source: new song_properties beside old song_rankings
    "published": False,  # data-source holds both new tables
    "committed": True,  # the commit is made, not pushed to the git remote
    "versioned": True,  # the cleaned tables are not yet the current data set
}


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 - DVC's content id


def head_md5s(repo: Path) -> dict[str, str]:
    return {
        name: yaml.safe_load(git(repo, "show", f"HEAD:{name}.parquet.dvc"))["outs"][0]["md5"]
        for name in TABLES
    }


def problems(settings) -> list[str]:
    """What is not at HEAD's version: git's work tree, DVC's (by `dvc status`), data-source."""
    repo = settings.data_repo
    found = []
    if git(repo, "status", "--porcelain", "--untracked-files=all"):
        found.append(f"git status: {git(repo, 'status', '--porcelain')}")
    status = subprocess.run(
        [sys.executable, "-m", "dvc", "status", "--json"],
        cwd=repo,
        env={**os.environ, "DVC_NO_ANALYTICS": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    if json.loads(status.stdout or "{}"):
        found.append(f"dvc status: {status.stdout}")
    wanted = head_md5s(repo)
    live = settings.storage_dir / "data"
    for name, want in wanted.items():
        path = live / f"{name}.parquet"
        if not path.is_file() or md5(path) != want:
            found.append(f"data-source {name} is not HEAD's")
        cached = settings.storage_dir / "data-cache" / "files" / "md5" / want[:2] / want[2:]
        if not cached.is_file():
            found.append(f"s3-version lacks HEAD's {name}")
    return found


def flagged_change(data):
    """The next data set, with one song whose danceability is missing: validation flags it, so
    versioning drops it and makes the cleaned tables current (the "versioned" step)."""
    new, _, _ = changed(data)
    properties = new.properties.copy()
    properties.loc[properties.index[5], "danceability"] = np.nan
    from jukebox.data.songdata import song_data

    return song_data(properties, new.rankings, "flagged change")


def crash(settings, step: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JUKEBOX_HOME": str(settings.home),
        rp.CRASH_ENV: step,
    }
    return subprocess.run(
        [sys.executable, "-m", "jukebox", "data", "version", "-m", "second"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture()
def versioned_once(home):
    data = small_set()
    save_current(data, home)
    v1 = dv.version_current(home, "first")
    assert problems(home) == []
    save_current(flagged_change(data), home)
    return home, v1


@pytest.mark.parametrize("step", list(STEPS))
def test_a_crash_at_each_step_is_repaired_by_the_next_command(versioned_once, step):
    settings, v1 = versioned_once
    died = crash(settings, step)
    assert died.returncode == rp.CRASH_EXIT, died.stderr[-2000:]
    if not STEPS[step]:
        # The kill left the versions apart (else this test could not fail).
        assert problems(settings) != []
    dv.sync(settings)  # the next command, whichever it is, repairs first
    assert problems(settings) == []
    head = dv.current_version(settings)
    if STEPS[step]:
        assert head.commit != v1.commit and head.message.startswith("second (1 songs")
    else:
        assert head == v1
    # The update, once more: made now, or found already made; the current data set is then
    # the versioned one, cleaned as `data load` would clean it.
    again = dv.version_current(settings, "second")
    assert (again is None) == STEPS[step]
    assert problems(settings) == []
    newest = dv.read_version(settings, "latest")
    current = load_current(settings)
    assert current.properties.equals(newest.properties)
    assert current.rankings.equals(newest.rankings)
    assert not sum(current.report.droppable.values())
    assert dv.version_current(settings) is None


def test_a_crash_before_the_git_push_goes_back_to_the_remote_version(home, tmp_path, monkeypatch):
    from jukebox.config import load_settings

    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(bare))
    monkeypatch.setenv("JUKEBOX_DATA_GIT_URL", str(bare))
    settings = load_settings()
    data = small_set()
    save_current(data, settings)
    v1 = dv.version_current(settings, "first")
    save_current(changed(data)[0], settings)
    died = crash(settings, "committed")
    assert died.returncode == rp.CRASH_EXIT, died.stderr[-2000:]
    # Committed here but never pushed: the remote's commit is the version, and the work tree
    # and data-source (which hold the unpushed one) go back to it.
    assert git(settings.data_repo, "rev-parse", "HEAD").strip() != v1.commit
    dv.sync(settings)
    assert git(settings.data_repo, "rev-parse", "HEAD").strip() == v1.commit
    assert problems(settings) == []
    assert dv.version_current(settings, "second") is not None
    assert git(bare, "rev-parse", "HEAD").strip() == dv.current_version(settings).commit
    assert problems(settings) == []
