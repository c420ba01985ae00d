"""Continuous training and schedules against a real git + DVC repository, with real pipeline runs
through kfp's local mode; the data pipeline from extract to a new DVC version."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from jukebox.config import load_settings
from jukebox.data.schema import CHART_COUNTRIES
from jukebox.data.store import load_current, save_current
from jukebox.data.synthetic import generate
from jukebox.model.network import TrainingParams
from jukebox.pipelines import automation, local
from jukebox.pipelines.params import DataRunParams, RunParams
from jukebox.pipelines.records import list_runs

ROOT = Path(__file__).resolve().parents[2]


def songs(seed: int):
    return generate(300, seed, n_days=20, countries=CHART_COUNTRIES[:6])


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path))
    return load_settings()


def wait_for(settings, run_id: str, timeout: float = 400):
    deadline = time.monotonic() + timeout
    while True:
        run = local.refresh(settings, next(r for r in list_runs(settings) if r.id == run_id))
        if run.finished:
            return run
        assert time.monotonic() < deadline, f"run {run_id} did not finish"
        time.sleep(1)


def test_schedules_take_six_field_crons_or_intervals(settings):
    params = DataRunParams(source="synthetic", source_options={"songs": 300})
    with pytest.raises(automation.ScheduleError, match="five fields.*'0 0 6 \\* \\* \\*'"):
        automation.add_schedule(settings, params, cron="0 6 * * *")
    with pytest.raises(automation.ScheduleError, match="one of the two"):
        automation.add_schedule(settings, params)
    with pytest.raises(automation.ScheduleError, match="at least 10 seconds"):
        automation.add_schedule(settings, params, interval_seconds=1)
    daily = automation.add_schedule(settings, params, cron="0 30 6 * * *")
    due = time.localtime(daily.next_due())
    assert (due.tm_hour, due.tm_min, due.tm_sec) == (6, 30, 0)
    # Kept on disk: a new process (an app restart) reads it back.
    code = "from jukebox.pipelines import automation; from jukebox.config import load_settings;"
    code += "print([s.cron for s in automation.read_state(load_settings()).schedules])"
    shown = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert shown.stdout.strip() == "['0 30 6 * * *']"
    automation.remove_schedule(settings, daily.id)
    assert automation.read_state(settings).schedules == []
    with pytest.raises(automation.ScheduleError, match="no schedule"):
        automation.remove_schedule(settings, daily.id)


@pytest.mark.slow
def test_a_new_data_version_starts_exactly_one_training_run_that_names_it(settings):
    from jukebox.data import versions
    from jukebox.registry.server.process import stop_server
    from jukebox.registry.versions import get_version

    save_current(songs(1), settings)
    versions.version_current(settings, "before the watcher")
    small = RunParams(training=TrainingParams(epochs=1, width=8, depth=2))
    automation.switch_on(settings, small, start=False)
    assert automation.tick(settings) == []  # history is not news

    save_current(songs(2), settings)
    new = versions.version_current(settings, "new songs")
    (started,) = automation.tick(settings)
    assert started.arguments["source"] == "version"
    assert started.arguments["source_options"] == {"ref": new.commit}
    assert automation.tick(settings) == []  # exactly one run for that version
    assert automation.read_state(settings).trained == {new.commit: started.id}
    try:
        run = wait_for(settings, started.id)
        assert run.state == "succeeded", run.error
        registered = get_version("jukebox", run.registered_version, settings)
        properties = registered.properties
        assert properties["data.commit"] == new.commit
        assert properties["data.version"] == new.md5
        assert properties["DVC training data hash"] == new.tables["song_properties"].md5
        assert properties["data.md5.song_rankings"] == new.tables["song_rankings"].md5
        assert properties['remote "s3-version"'] == versions.remotes(settings)["s3-version"]
        assert registered.pipeline_run_id == run.id
    finally:
        stop_server(settings)


@pytest.mark.slow
def test_the_data_pipeline_versions_new_data_and_not_the_same_data_twice(settings):
    from jukebox.data import versions

    params = DataRunParams(
        source="synthetic", source_options={"songs": 300, "days": 20, "countries": 6}
    )
    first = local.run_here(settings, params)
    assert first.state == "succeeded", first.error
    (version,) = versions.list_versions(settings)
    assert first.new_data_version == version.commit
    assert first.tasks["validate-data"].metrics["validation_warnings"] >= 0
    again = local.run_here(settings, params)
    assert again.state == "succeeded" and again.new_data_version is None
    assert "did not change" in again.note
    assert again.tasks["trigger-training"].state == "skipped"
    assert len(versions.list_versions(settings)) == 1


@pytest.mark.slow
def test_a_due_schedule_starts_one_run_at_a_time_and_the_loop_comes_back(settings):
    params = DataRunParams(source="synthetic", source_options={"songs": 300, "days": 20})
    schedule = automation.add_schedule(settings, params, interval_seconds=10)
    assert automation.tick(settings, now=schedule.created + 5) == []  # not due yet
    (started,) = automation.tick(settings, now=schedule.created + 11)
    assert started.pipeline == "jukebox-data"
    assert automation.tick(settings, now=schedule.created + 30) == []  # its run still runs
    assert wait_for(settings, started.id).state == "succeeded"
    (second,) = automation.tick(settings, now=schedule.created + 31)
    assert wait_for(settings, second.id).new_data_version is None  # same data: no new version

    # Switched on, the loop runs as a job; killed (an app stopped), it is started again.
    job = automation.switch_on(settings)
    try:
        assert job is not None and job.is_alive()
        from jukebox.jobs import kill_job

        kill_job(job)
        again = automation.ensure_running(settings)
        assert again is not None and again.is_alive() and again.id != job.id
    finally:
        automation.switch_off(settings)
    assert automation.running_job(settings) is None
    assert automation.ensure_running(settings) is None  # switched off: never started


def test_on_a_cluster_the_data_pipeline_submits_training_for_its_version(
    tmp_path, monkeypatch, capsys
):
    """The data pipeline's last step, with KFP_HOST set: one training run for that version,
    submitted to the KFP API (the stand-in server checks the request)."""
    from jukebox.pipelines import trigger
    from tests.pipelines.kfp_standin import StandIn

    server = StandIn(token="t", polls_until_done=2)
    server.start()
    try:
        monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path))
        monkeypatch.setenv("KFP_HOST", server.url)
        monkeypatch.setenv("KFP_TOKEN", "t")
        with pytest.raises(SystemExit):  # as a task on a cluster ends: one sentence, no traceback
            trigger.trigger_training("a" * 40, "jukebox", 0.02, {"epochs": 3})
        assert "no embedded model registry: give the pipeline" in capsys.readouterr().err
        monkeypatch.setenv("MODEL_REGISTRY_URL", "https://registry.example")
        monkeypatch.setenv("JUKEBOX_DATA_GIT_URL", "https://user:secret@git.example/data.git")
        run_id = trigger.trigger_training("a" * 40, "jukebox", 0.02, {"epochs": 3})
        assert server.problems == []
        (created,) = server.received("POST", "/runs")
        parameters = created.body["runtime_config"]["parameters"]
        assert parameters["source"] == "version"
        assert parameters["source_options"] == {"ref": "a" * 40}
        assert parameters["tolerance"] == 0.02 and parameters["hyperparameters"]["epochs"] == 3
        assert parameters["registry_url"] == "https://registry.example"
        assert parameters["data_repo_url"] == "https://git.example/data.git"  # no credential
        assert run_id in server.runs
    finally:
        server.stop()


def test_data_staged_for_a_run_goes_when_it_ends_and_a_users_folder_stays(settings, tmp_path):
    from jukebox.data.store import write_data_dir
    from jukebox.pipelines.records import create_run, run_dir

    staged = local.stage_data(settings, songs(1))
    own = tmp_path / "mine"
    write_data_dir(songs(1), own)
    for run_id, folder in (("staged", staged), ("own", own)):
        params = DataRunParams(source="directory", source_options={"path": str(folder)})
        create_run(settings, run_id, params.arguments(run_id), pipeline=local.pipeline_of(params))
        assert folder.is_dir()
        local.finish(settings, run_dir(settings, run_id))
    assert not staged.exists()
    assert own.is_dir() and (own / "dataset.json").is_file()


@pytest.mark.slow
def test_data_that_fails_validation_makes_no_version(settings, tmp_path):
    from jukebox.data import versions
    from jukebox.data.store import write_data_dir

    save_current(songs(1), settings)
    versions.version_current(settings, "good data")
    broken = songs(2)
    folder = tmp_path / "broken"
    write_data_dir(broken, folder)
    # Every chart row on one date: the data loads, but no model can be tested on it.
    rankings = broken.rankings.assign(snapshot_date=broken.rankings["snapshot_date"].min())
    rankings.drop_duplicates(["spotify_id", "country"]).to_parquet(
        folder / "song_rankings.parquet", index=False
    )
    (folder / "dataset.json").unlink()
    run = local.run_here(
        settings, DataRunParams(source="directory", source_options={"path": str(folder)})
    )
    assert run.state == "failed" and run.failed_task.name == "validate-data"
    assert "single chart date" in run.error
    assert "load-and-version" not in run.tasks
    assert [v.message for v in versions.list_versions(settings)] == ["good data"]
    assert len(load_current(settings).rankings) == len(songs(1).rankings)
