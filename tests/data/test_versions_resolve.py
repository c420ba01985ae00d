"""Which version a reference names, on made-up histories (no git, no DVC: fast)."""

from __future__ import annotations

from datetime import datetime

import pytest

from jukebox.data.versions import operations
from jukebox.data.versions.records import DataVersion, DataVersionError, TableVersion


def version(commit: str, properties_md5: str, rankings_md5: str) -> DataVersion:
    tables = {
        "song_properties": TableVersion("song_properties", properties_md5, 10, 1),
        "song_rankings": TableVersion("song_rankings", rankings_md5, 10, 1),
    }
    return DataVersion(commit, datetime(2024, 5, 31), "made up", tables)


@pytest.fixture()
def history(monkeypatch):
    """Newest first; the two newest share the rankings table, two properties md5s share a start."""
    versions = [
        version("c" * 40, "abcd1" + "0" * 27, "e" * 32),
        version("b" * 40, "abcd2" + "0" * 27, "e" * 32),
        version("a" * 40, "1234" + "0" * 28, "f" * 32),
    ]
    monkeypatch.setattr(operations, "list_versions", lambda settings: versions)
    return versions


def test_every_printed_form_and_its_start(history):
    newest, middle, oldest = history
    for target in history:
        for form in (target.commit, target.short, target.md5, target.md5[:12], target.md5[:4]):
            assert operations.resolve(None, form) == target
    assert operations.resolve(None, "latest") == newest
    assert operations.resolve(None, " ABCD2 ") == middle  # case and spaces do not matter
    # A table both newest versions hold names the newest with that content.
    assert operations.resolve(None, "e" * 12) == newest


def test_a_start_shared_by_two_md5s_asks_for_more(history):
    with pytest.raises(DataVersionError, match="'abcd' is the start of 2 different md5s"):
        operations.resolve(None, "abcd")
    with pytest.raises(DataVersionError, match="No data version is called 'abc'"):
        operations.resolve(None, "abc")  # fewer than 4 characters name nothing
