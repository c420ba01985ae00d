"""`python -m jukebox data version | versions | diff | revert | checkout`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jukebox.__main__ import main
from jukebox.data import versions as dv
from jukebox.data.store import current_info, save_current
from tests.data.versioning import changed, small_set

# Every test builds a real git + DVC repository: many git and DVC processes.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]


@pytest.mark.slow
def test_version_versions_diff_revert_checkout(home, capsys):
    data = small_set()
    save_current(data, home)
    assert main(["data", "version", "-m", "the first"]) == 0
    said = capsys.readouterr().out
    v1 = dv.list_versions(home)[0]
    assert f"New data version {v1.short}" in said and "the first" in said
    assert v1.tables["song_properties"].md5 in said

    assert main(["data", "version"]) == 0
    assert "unchanged" in capsys.readouterr().out

    save_current(changed(data)[0], home)
    assert main(["data", "version"]) == 0
    v2 = dv.list_versions(home)[0]
    capsys.readouterr()

    assert main(["data", "versions"]) == 0
    listing = capsys.readouterr().out
    assert listing.index(v2.short) < listing.index(v1.short)
    assert "remote s3-version: " in listing and "remote data-source: " in listing

    assert main(["data", "diff", v1.short, v2.short]) == 0
    diff = capsys.readouterr().out
    assert "20 added" in diff and "50 removed" in diff and "danceability" in diff

    assert main(["data", "checkout", v1.short]) == 0
    assert f"data version {v1.short}" in capsys.readouterr().out
    assert current_info(home)["source"] == f"data version {v1.short}"

    assert main(["data", "revert", v1.short, "--keep-current"]) == 0
    v3 = dv.list_versions(home)[0]
    assert v3.md5 == v1.md5 and v3.short in capsys.readouterr().out


def test_errors_are_sentences(home, capsys):
    assert main(["data", "version"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "data generate" in err and "Traceback" not in err
    assert main(["data", "versions"]) == 0
    assert "No data versions yet" in capsys.readouterr().out
    save_current(small_set(), home)
    assert main(["data", "version"]) == 0
    capsys.readouterr()
    for command in (["diff", "latest", "beefbeef"], ["revert", "beefbeef"], ["checkout", "zz"]):
        assert main(["data", *command]) == 1
        err = capsys.readouterr().err
        assert "No data version is called" in err and "Traceback" not in err


@pytest.mark.slow
def test_two_processes_version_at_once(home):
    save_current(small_set(), home)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "jukebox", "data", "version"]
    processes = [
        subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    assert sum("New data version" in out for out in outputs) == 1
    assert sum("unchanged" in out for out in outputs) == 1
    assert len(dv.list_versions(home)) == 1
