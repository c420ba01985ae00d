"""Data versions against a real git + DVC repository in a temporary JUKEBOX_HOME, with the
embedded directory remotes (fast) and with S3 remotes on a moto server (slow)."""

from __future__ import annotations

import os
import threading

import pandas as pd
import pytest

from jukebox.data import versions as dv
from jukebox.data.store import current_info, load_current, save_current
from tests.data.versioning import (
    ACCESS_KEY,
    SECRET_KEY,
    changed,
    git,
    s3_client,
    s3_keys,
    small_set,
    start_moto,
)

# Every test builds a real git + DVC repository: many git and DVC processes.
pytestmark = pytest.mark.slow


def same_tables(left, right) -> bool:
    return left.properties.equals(right.properties) and left.rankings.equals(right.rankings)


@pytest.fixture()
def first(home):
    """A home whose current data set is versioned once; returns (settings, data, version)."""
    data = small_set()
    save_current(data, home)
    version = dv.version_current(home, "first")
    return home, data, version


def test_track_then_unchanged_makes_no_version(first):
    settings, data, v1 = first
    assert v1.message == "first" and len(v1.short) == 7 and v1.commit.startswith(v1.short)
    props, ranks = v1.tables["song_properties"], v1.tables["song_rankings"]
    assert (props.rows, ranks.rows) == (len(data.properties), len(data.rankings))
    assert props.size == (settings.data_dir / "song_properties.parquet").stat().st_size
    assert len(props.md5) == 32 and len(v1.md5) == 32 and v1.md5 not in (props.md5, ranks.md5)
    head = git(settings.data_repo, "rev-parse", "HEAD")
    assert dv.version_current(settings) is None
    assert git(settings.data_repo, "rev-parse", "HEAD") == head
    assert dv.list_versions(settings) == [v1]
    # The tables are in both remotes: the versions (DVC cache layout) and the live tables.
    cache = settings.storage_dir / "data-cache" / "files" / "md5"
    assert (cache / props.md5[:2] / props.md5[2:]).is_file()
    live = settings.storage_dir / "data" / "song_rankings.parquet"
    assert live.read_bytes() == (settings.data_dir / "song_rankings.parquet").read_bytes()
    assert "analytics = False" in (settings.data_repo / ".dvc" / "config").read_text()
    assert git(settings.data_repo, "status", "--porcelain") == ""


def test_update_list_read_back_and_resolve(first):
    settings, data, v1 = first
    new, _, _ = changed(data)
    save_current(new, settings)
    v2 = dv.version_current(settings)
    assert v2 is not None and v2.commit != v1.commit and v2.md5 != v1.md5
    assert "changed" in v2.message  # the default message names the data set's source
    assert [v.commit for v in dv.list_versions(settings)] == [v2.commit, v1.commit]
    assert v2.tables["song_properties"].rows == len(new.properties)

    old = dv.read_version(settings, v1.short)
    assert same_tables(old, data) and old.source == f"data version {v1.short}"
    assert same_tables(dv.read_version(settings, v2.commit), new)

    assert dv.resolve(settings, v1.commit) == v1
    assert dv.resolve(settings, v1.md5) == v1
    assert dv.resolve(settings, v1.tables["song_rankings"].md5) == v1
    assert dv.resolve(settings, "latest") == v2
    with pytest.raises(dv.DataVersionError, match="'abcdef1'"):
        dv.resolve(settings, "abcdef1")
    with pytest.raises(dv.DataVersionError, match="'no-such-thing'"):
        dv.read_version(settings, "no-such-thing")


@pytest.mark.slow
def test_diff_of_a_known_change(first):
    settings, data, v1 = first
    new, appended, bumped = changed(data, appended=20, dropped=50, perturbed=10)
    save_current(new, settings)
    v2 = dv.version_current(settings)
    diff = dv.diff_versions(settings, v1.short, v2.short)
    summary = diff.summary()
    assert summary["songs_added"] == 20 and sorted(diff.songs_added["spotify_id"]) == sorted(
        appended
    )
    assert summary["songs_removed"] == 0
    assert diff.changed_song_ids == sorted(bumped) and len(bumped) >= 5
    assert set(diff.songs_changed["column"]) == {"danceability"}
    assert summary["rankings_removed"] == 50 and summary["rankings_added"] == 0
    frame = diff.to_frame()
    assert list(frame.columns) == [
        "mean_a",
        "mean_b",
        "mean_shift",
        "std_a",
        "std_b",
        "ks",
        "ks_pvalue",
    ]
    assert frame.loc["danceability", "mean_shift"] > 0
    assert frame.loc["danceability", "ks"] > 0
    assert "20 added" in diff.describe() and "50 removed" in diff.describe()
    # And backwards, the same change the other way round.
    back = dv.diff_versions(settings, v2.commit, v1.commit)
    assert back.summary()["songs_removed"] == 20 and back.summary()["rankings_added"] == 50
    assert dv.diff_versions(settings, v1.short, v1.short).unchanged


def test_ks_statistic_is_scipys():
    import numpy as np
    from scipy.stats import ks_2samp

    from jukebox.data.versions.diff import ks_statistic

    rng = np.random.default_rng(0)
    for shift in (0.0, 0.1, 0.5):
        x, y = rng.normal(size=300), rng.normal(shift, size=320)
        statistic, p = ks_statistic(x, y)
        exact = ks_2samp(x, y, method="asymp")
        assert statistic == pytest.approx(exact.statistic)
        assert p == pytest.approx(exact.pvalue, abs=0.02)
    assert ks_statistic(np.array([1.0, 1.0]), np.array([1.0]))[0] == 0.0


@pytest.mark.slow
def test_revert_makes_a_new_version_and_keeps_history(first):
    settings, data, v1 = first
    new, _, _ = changed(data)
    save_current(new, settings)
    v2 = dv.version_current(settings)
    v3 = dv.revert_to(settings, v1.short)
    assert v3.commit not in (v1.commit, v2.commit)
    assert v3.md5 == v1.md5 and v3.tables == v1.tables
    assert v1.short in v3.message
    assert [v.commit for v in dv.list_versions(settings)] == [v3.commit, v2.commit, v1.commit]
    assert git(settings.data_repo, "rev-parse", f"{v3.commit}~1").strip() == v2.commit
    assert same_tables(load_current(settings), data)  # and it became the current data set
    assert dv.version_current(settings) is None
    assert (settings.storage_dir / "data" / "song_properties.parquet").read_bytes() == (
        settings.data_repo / "song_properties.parquet"
    ).read_bytes()
    # Reverting to what is already newest commits nothing.
    assert dv.revert_to(settings, v1.md5) == v3
    assert resolve_by_md5_prefers_newest(settings, v1.md5) == v3


def resolve_by_md5_prefers_newest(settings, md5):
    return dv.resolve(settings, md5)


def test_checkout_makes_a_version_current(first):
    settings, data, v1 = first
    new, _, _ = changed(data)
    save_current(new, settings)
    v2 = dv.version_current(settings)
    dv.checkout(settings, v1.short)
    assert same_tables(load_current(settings), data)
    assert current_info(settings)["source"] == f"data version {v1.short}"
    dv.checkout(settings, v2.short)
    # Checked out exactly: versioning it again finds nothing new.
    assert dv.version_current(settings) is None


def test_nothing_to_version_is_a_sentence(home):
    with pytest.raises(dv.DataVersionError, match="data generate"):
        dv.version_current(home)
    assert dv.list_versions(home) == []
    with pytest.raises(dv.DataVersionError, match="no data versions yet"):
        dv.resolve(home, "latest")


def test_failed_push_leaves_no_commit(first):
    settings, data, v1 = first
    cache = settings.storage_dir / "data-cache"
    os.rename(cache, cache.with_name("moved-away"))
    cache.write_text("not a directory: the remote is broken")
    new, _, _ = changed(data)
    save_current(new, settings)
    with pytest.raises(dv.DataVersionError, match="s3-version"):
        dv.version_current(settings)
    assert dv.list_versions(settings) == [v1]
    assert git(settings.data_repo, "status", "--porcelain") == ""
    assert same_tables(dv.read_version(settings, "latest"), data)
    live = settings.storage_dir / "data" / "song_properties.parquet"
    assert live.read_bytes() == (settings.data_repo / "song_properties.parquet").read_bytes()
    # Once the remote is back, the same update goes through.
    cache.unlink()
    os.rename(cache.with_name("moved-away"), cache)
    v2 = dv.version_current(settings)
    assert v2 is not None and [v.commit for v in dv.list_versions(settings)][1] == v1.commit


def test_failed_copy_to_data_source_takes_the_pushed_data_back(first):
    settings, data, v1 = first
    source = settings.storage_dir / "data"
    os.rename(source, source.with_name("moved-away"))
    source.write_text("not a directory: the remote is broken")
    before = sorted(p.name for p in (settings.storage_dir / "data-cache").rglob("*") if p.is_file())
    save_current(changed(data)[0], settings)
    with pytest.raises(dv.DataVersionError, match="data-source"):
        dv.version_current(settings)
    assert dv.list_versions(settings) == [v1]
    assert git(settings.data_repo, "status", "--porcelain") == ""
    # Nothing pushed for the failed version is left in s3-version.
    assert (
        sorted(p.name for p in (settings.storage_dir / "data-cache").rglob("*") if p.is_file())
        == before
    )


@pytest.mark.slow
def test_two_updates_at_once_leave_a_consistent_repository(first):
    settings, data, v1 = first
    new, _, _ = changed(data)
    save_current(new, settings)
    results, errors = [], []

    def run(step):
        try:
            results.append(step())
        except Exception as error:  # noqa: BLE001 - collected and asserted on below
            errors.append(error)

    threads = [
        threading.Thread(target=run, args=(lambda: dv.version_current(settings),)),
        threading.Thread(target=run, args=(lambda: dv.version_current(settings),)),
        threading.Thread(
            target=run, args=(lambda: dv.revert_to(settings, v1.short, make_current=False),)
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    versions = dv.list_versions(settings)
    # Whatever the order, every update either made a version or found nothing to do (a revert
    # that ran first finds v1's content already newest), and the history holds each one once.
    made = {r.commit for r in results if r is not None} - {v1.commit}
    assert {v.commit for v in versions} == made | {v1.commit}
    assert len(versions) == 1 + len(made) and 1 <= len(made) <= 3
    assert git(settings.data_repo, "status", "--porcelain") == ""
    git(settings.data_repo, "fsck", "--no-progress")
    for version in versions:  # every version's data is there to read
        read = dv.read_version(settings, version.commit)
        assert len(read.properties) == version.tables["song_properties"].rows


def test_remotes_are_directories_by_default(home):
    where = dv.remotes(home)
    assert where == {
        "data-source": str(home.storage_dir / "data"),
        "s3-version": str(home.storage_dir / "data-cache"),
    }


@pytest.mark.slow
def test_git_remote_gets_every_version(home, tmp_path, monkeypatch):
    from jukebox.config import load_settings

    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(bare))
    monkeypatch.setenv("JUKEBOX_DATA_GIT_URL", str(bare))
    monkeypatch.setenv("JUKEBOX_DATA_GIT_TOKEN", "secret-token-never-written")
    settings = load_settings()
    save_current(small_set(), settings)
    v1 = dv.version_current(settings)
    assert git(bare, "rev-parse", "HEAD").strip() == v1.commit
    assert "secret-token" not in repr(settings)
    for path in (settings.data_repo / ".git").rglob("*"):
        if path.is_file():
            assert b"secret-token-never-written" not in path.read_bytes()
    # Another clone sees the version after syncing.
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path / "other-home"))
    other = load_settings()
    dv.sync(other)
    assert [v.commit for v in dv.list_versions(other)] == [v1.commit]


@pytest.fixture()
def s3_home(home, monkeypatch):
    """The home with its object store on a fresh moto server: (settings, endpoint, server)."""
    from jukebox.config import load_settings

    server, endpoint = start_moto()
    monkeypatch.setenv("AWS_S3_ENDPOINT", endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    try:
        yield load_settings(), endpoint, server
    finally:
        server.stop()


@pytest.mark.slow
def test_s3_remotes_track_update_read_and_diff(s3_home):
    import shutil

    settings, endpoint, _ = s3_home
    data = small_set()
    save_current(data, settings)
    v1 = dv.version_current(settings)
    new, _, _ = changed(data)
    save_current(new, settings)
    v2 = dv.version_current(settings)
    # The live tables, and the marker that says they are v2's, whole.
    assert sorted(s3_keys(endpoint, "data")) == [
        ".jukebox-published.json",
        "song_properties.parquet",
        "song_rankings.parquet",
    ]
    md5 = v1.tables["song_properties"].md5
    assert f"files/md5/{md5[:2]}/{md5[2:]}" in s3_keys(endpoint, "data-cache")
    config = (settings.data_repo / ".dvc" / "config").read_text()
    assert "s3://data-cache" in config and endpoint in config
    assert SECRET_KEY not in config and ACCESS_KEY not in config
    assert not (settings.data_repo / ".dvc" / "config.local").exists()
    assert dv.remotes(settings)["s3-version"] == f"s3://data-cache?endpoint={endpoint}"
    # Read back from S3 itself: the local DVC cache is gone.
    shutil.rmtree(settings.data_repo / ".dvc" / "cache")
    assert same_tables(dv.read_version(settings, v1.short), data)
    assert dv.diff_versions(settings, v1.short, v2.short).summary()["rankings_removed"] == 50


@pytest.mark.slow
def test_s3_unreachable_leaves_no_commit(s3_home):
    settings, _, server = s3_home
    data = small_set()
    save_current(data, settings)
    v1 = dv.version_current(settings)
    server.stop()
    new, _, _ = changed(data)
    save_current(new, settings)
    with pytest.raises(dv.DataVersionError, match="DVC remote (s3-version|data-source)"):
        dv.version_current(settings)
    assert dv.list_versions(settings) == [v1]
    assert git(settings.data_repo, "status", "--porcelain") == ""
    head = pd.read_parquet(settings.data_repo / "song_properties.parquet")
    assert len(head) == len(data.properties)


# --- what gets versioned is what `data load` would make current ------------------------------


def write_by_hand(settings, properties, rankings) -> dict[str, str]:
    """Tables put in the data folder as a user would: parquet files, no dataset.json."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "dataset.json").unlink(missing_ok=True)
    paths = {
        "properties": str(settings.data_dir / "song_properties.parquet"),
        "rankings": str(settings.data_dir / "song_rankings.parquet"),
    }
    properties.to_parquet(paths["properties"], index=False)
    rankings.to_parquet(paths["rankings"], index=False)
    return paths


def test_flagged_rows_are_dropped_as_data_load_drops_them(first, tmp_path):
    from jukebox.config import load_settings
    from jukebox.data.sources import load_source
    from jukebox.data.store import adopt

    settings, data, v1 = first
    new, _, _ = changed(data)
    properties = new.properties.copy()
    properties.loc[properties.index[::2], "danceability"] = float("nan")  # half the songs
    paths = write_by_hand(settings, properties, new.rankings)
    elsewhere = load_settings({"JUKEBOX_HOME": str(tmp_path / "loaded")})
    loaded = adopt(load_source("parquet", paths, elsewhere), elsewhere)
    dropped = len(properties) - len(loaded.properties)
    assert dropped >= len(properties) // 2

    v2 = dv.version_current(settings, "half")
    assert v2.message == f"half ({dropped} songs and 0 chart rows with problems dropped)"
    assert v2.tables["song_properties"].rows == len(loaded.properties)
    # The current data set is what was versioned, and what `data load` makes of the same files.
    current = load_current(settings)
    assert same_tables(current, loaded)
    assert same_tables(dv.read_version(settings, v2.short), loaded)
    assert dv.version_current(settings) is None


BAD_TABLES = {
    "a missing column": (
        lambda p: p.drop(columns=["danceability"]),
        "song_properties.parquet): missing column danceability",
    ),
    "an all-NaN column": (
        lambda p: p.assign(danceability=float("nan")),
        "song_properties.parquet): column danceability has no values",
    ),
}


def snapshot(settings) -> dict:
    """Everything a refused update must leave as it was."""

    def files(folder):
        return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    return {
        "head": git(settings.data_repo, "rev-parse", "HEAD"),
        "cache": files(settings.storage_dir / "data-cache"),
        "live": files(settings.storage_dir / "data"),
        "current": files(settings.data_dir),
    }


@pytest.mark.parametrize("problem", [*BAD_TABLES, "a file that is not parquet"])
def test_bad_tables_are_refused_with_a_sentence_and_change_nothing(first, problem, capsys):
    from jukebox.__main__ import main

    settings, data, v1 = first
    if problem in BAD_TABLES:
        spoil, said = BAD_TABLES[problem]
        write_by_hand(settings, spoil(data.properties), data.rankings)
    else:
        said = "song_properties.parquet is not a Parquet file, or a damaged one"
        (settings.data_dir / "song_properties.parquet").write_text("spotify_id,name\n1,a\n")
        (settings.data_dir / "dataset.json").unlink()  # replaced by hand
    before = snapshot(settings)
    with pytest.raises(dv.DataVersionError) as caught:
        dv.version_current(settings)
    message = str(caught.value)
    assert said in message and "data load" in message and "no rows" not in message
    assert "\n" not in message
    assert main(["data", "version"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and said in err and "Traceback" not in err
    # Nothing committed, pushed or published; the current data set is as the user left it.
    assert snapshot(settings) == before
    assert dv.list_versions(settings) == [v1]
    assert git(settings.data_repo, "status", "--porcelain") == ""


def test_every_form_versions_prints_names_the_version(first, capsys):
    from jukebox.__main__ import main

    settings, data, v1 = first
    save_current(changed(data)[0], settings)
    v2 = dv.version_current(settings)
    assert main(["data", "versions"]) == 0
    listing = capsys.readouterr().out
    for version in (v1, v2):
        assert version.short in listing and version.md5[:12] in listing
        for form in (version.short, version.md5[:12], version.commit, version.md5):
            assert dv.resolve(settings, form) == version
    assert dv.resolve(settings, v1.tables["song_properties"].md5[:12]) == v1
    assert dv.resolve(settings, v1.md5[:12].upper()) == v1
    # Wherever a version is asked for: diff, checkout and revert take the printed md5.
    assert main(["data", "diff", v1.md5[:12], v2.md5[:12]]) == 0
    assert "20 added" in capsys.readouterr().out
    assert main(["data", "checkout", v1.md5[:12]]) == 0
    assert same_tables(load_current(settings), data)
    assert main(["data", "revert", v2.md5[:12], "--keep-current"]) == 0
    assert dv.list_versions(settings)[0].md5 == v2.md5


# --- remotes --------------------------------------------------------------------------------


def test_an_unreachable_new_endpoint_commits_nothing(first, monkeypatch):
    from jukebox.config import load_settings

    settings, data, v1 = first
    log = git(settings.data_repo, "log", "--format=%H %s")
    monkeypatch.setenv("AWS_S3_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    moved = load_settings()
    for content in (data, changed(data)[0]):  # unchanged, then a new version
        save_current(content, moved)
        with pytest.raises(dv.DataVersionError, match="DVC remote") as caught:
            dv.version_current(moved)
        assert SECRET_KEY not in str(caught.value)
        assert git(moved.data_repo, "log", "--format=%H %s") == log
        assert git(moved.data_repo, "status", "--porcelain") == ""
    assert dv.list_versions(moved) == [v1]


def test_new_remotes_are_committed_once_they_hold_the_newest_version(first, monkeypatch):
    from jukebox.config import load_settings

    settings, data, v1 = first
    server, endpoint = start_moto()
    try:
        monkeypatch.setenv("AWS_S3_ENDPOINT", endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        moved = load_settings()
        # The versions' bucket is missing: the push fails, and not even the remotes are committed.
        log = git(moved.data_repo, "log", "--format=%H %s")
        client = s3_client(endpoint)
        # moto keeps its buckets per process: what earlier tests left goes first.
        for bucket in ("data", "data-cache"):
            for key in s3_keys(endpoint, bucket):
                client.delete_object(Bucket=bucket, Key=key)
        client.delete_bucket(Bucket="data-cache")
        with pytest.raises(dv.DataVersionError, match="push the data to the DVC remote s3-version"):
            dv.version_current(moved)
        assert git(moved.data_repo, "log", "--format=%H %s") == log
        assert git(moved.data_repo, "status", "--porcelain") == ""
        client.create_bucket(Bucket="data-cache")
        assert dv.version_current(moved) is None  # the same tables: no new data version
        assert git(moved.data_repo, "log", "-1", "--format=%s").strip() == (
            "Data repository: remotes changed"
        )
        assert dv.list_versions(moved) == [v1]
        assert endpoint in git(moved.data_repo, "show", "HEAD:.dvc/config")
        cache = s3_keys(endpoint, "data-cache")
        for table in v1.tables.values():
            assert f"files/md5/{table.md5[:2]}/{table.md5[2:]}" in cache
        assert "song_rankings.parquet" in s3_keys(endpoint, "data")
        assert git(moved.data_repo, "status", "--porcelain") == ""
        assert dv.version_current(moved) is None
        assert len(git(moved.data_repo, "log", "--format=%H").split()) == 3  # init, v1, remotes
    finally:
        server.stop()
