"""Continuous training and schedules against a real git + DVC repository, with real pipeline runs
through kfp's local mode; the data pipeline from extract to a new DVC version."""

from __future__ import annotations

import os
import signal
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
    settings = load_settings()
    yield settings
    for run in list_runs(settings):  # what a test started and did not wait for: no training
        if not local.refresh(settings, run).finished:
            local.stop(settings, run)


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
    from jukebox.pipelines import tasks, trigger
    from tests.pipelines.kfp_standin import StandIn

    server = StandIn(token="t", polls_until_done=2)
    server.start()
    try:
        monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path))
        monkeypatch.setenv("KFP_HOST", server.url)
        monkeypatch.setenv("KFP_TOKEN", "t")
        monkeypatch.delenv(tasks.RUN_DIR_ENV, raising=False)  # a task on a cluster: no record
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


# --- exactly once per version ---------------------------------------------------------------------


def new_version(settings, seed: int, message: str):
    from jukebox.data import versions

    save_current(songs(seed), settings)
    return versions.version_current(settings, message)


def training_runs(settings) -> dict[str, list[str]]:
    """Data version -> the training runs recorded for it (each should have one)."""
    runs: dict[str, list[str]] = {}
    for run in list_runs(settings):
        if run.pipeline == "jukebox-training":
            runs.setdefault(run.arguments["source_options"]["ref"], []).append(run.id)
    return runs


def test_the_versions_to_train_are_neither_history_nor_claimed_oldest_first():
    commits = ["c4", "c3", "c2", "c1"]  # newest first, as list_versions gives them
    never_on = automation.AutomationState()
    assert automation.versions_to_train(never_on, commits) == []  # all history until switched on
    claim = automation.VersionRun("c2", "run-2", {}, claimed=1.0)
    state = automation.AutomationState(enabled=True, since=1.0, history=["c1"], runs={"c2": claim})
    assert automation.versions_to_train(state, commits) == ["c3", "c4"]


@pytest.mark.slow  # two DVC versions and watcher starts: several seconds
def test_a_version_made_while_the_watcher_was_stopped_is_trained_once_it_starts(settings, capsys):
    from jukebox.__main__ import main

    first = new_version(settings, 1, "before continuous training")
    automation.switch_on(settings, start=False)  # the very first switch-on: history
    assert main(["watch", "--once"]) == 0
    assert training_runs(settings) == {}

    made_while_stopped = new_version(settings, 2, "made while the watcher was stopped")
    capsys.readouterr()
    assert main(["watch", "--once"]) == 0  # a start of the watcher, as after an app restart
    (run_id,) = training_runs(settings)[made_while_stopped.commit]
    assert f"started jukebox-training run {run_id}" in capsys.readouterr().out
    assert main(["watch", "--once"]) == 0
    assert training_runs(settings) == {made_while_stopped.commit: [run_id]}
    assert first.commit not in training_runs(settings)

    # For those who want it: a start "from now on" leaves what was made meanwhile alone.
    skipped = new_version(settings, 3, "made while stopped, skipped")
    assert main(["watch", "--once", "--from-now-on"]) == 0
    assert skipped.commit not in training_runs(settings)
    assert skipped.commit in automation.read_state(settings).history
    following = new_version(settings, 4, "made afterwards")
    assert [r.arguments["source_options"]["ref"] for r in automation.tick(settings)] == [
        following.commit
    ]


def test_a_data_pipelines_model_name_and_flags_reach_the_run_of_its_version(settings):
    """The data pipeline's last task hands them over; the loop waits for it before claiming a
    version that a data pipeline run here made and has not handed over yet."""
    from jukebox.pipelines import tasks, trigger
    from jukebox.pipelines.records import create_run, record_task, run_dir

    new_version(settings, 1, "history")
    small = RunParams(training=TrainingParams(epochs=7, width=8))
    automation.switch_on(settings, small, start=False)
    made = new_version(settings, 2, "made by a data pipeline run")
    params = DataRunParams(
        source="synthetic",
        model_name="from-data",
        training=TrainingParams(epochs=1, width=8),
        tolerance=0.2,
    )
    create_run(settings, "data-run", params.arguments("data-run"), pipeline="jukebox-data")
    path = run_dir(settings, "data-run")
    record_task(path, "load-and-version", state="running", started=time.time())
    assert automation.tick(settings) == []  # it may be the one making the version
    record_task(path, "load-and-version", state="succeeded", outputs={"data_commit": made.commit})
    assert automation.tick(settings) == []  # it made this one: its hand-over comes next

    # What the task trigger-training does here, in the run's environment.
    os.environ[tasks.RUN_DIR_ENV] = str(path)
    try:
        trigger.trigger_training(made.commit, "from-data", 0.2, params.training.to_dict())
    finally:
        del os.environ[tasks.RUN_DIR_ENV]
    assert load_run_task(path, "trigger-training").state == "succeeded"
    (started,) = automation.tick(settings)
    assert started.arguments["model_name"] == "from-data"
    assert started.arguments["tolerance"] == 0.2
    assert started.arguments["hyperparameters"]["epochs"] == 1
    assert started.arguments["source_options"] == {"ref": made.commit}

    # A version nobody handed anything over for takes the loop's own arguments.
    by_hand = new_version(settings, 3, "versioned by hand")
    (own,) = automation.tick(settings)
    assert own.arguments["source_options"] == {"ref": by_hand.commit}
    assert own.arguments["model_name"] == "jukebox"
    assert own.arguments["hyperparameters"]["epochs"] == 7


def load_run_task(path, name: str):
    from jukebox.pipelines.records import load_run

    return load_run(path).tasks[name]


def _killed_at(settings, point: str) -> None:
    """Tick in a child process killed (SIGKILL) at ``point``: as a watcher dies."""
    pid = os.fork()
    if pid == 0:  # the child: nothing of it may run past its death
        try:
            die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)  # noqa: E731
            if point == "after the claim":
                local.start_in_background = die
            elif point == "after recording the run":
                local.start_job = die
            else:
                real = local.start_in_background

                def started_then_killed(*args, **kwargs):
                    real(*args, **kwargs)
                    die()

                local.start_in_background = started_then_killed
            automation.tick(settings)
        finally:
            os._exit(3)  # only if it was not killed: the parent says so
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL


@pytest.mark.slow  # forks a watcher and kills it, three times
@pytest.mark.parametrize("point", ["after the claim", "after recording the run", "after the start"])
def test_a_watcher_killed_between_version_and_run_neither_loses_nor_doubles_it(settings, point):
    new_version(settings, 1, "history")
    automation.switch_on(settings, start=False)
    made = new_version(settings, 2, "new")
    _killed_at(settings, point)
    (claim,) = automation.read_state(settings).runs.values()
    assert claim.commit == made.commit and claim.started is None  # decided, written down

    restarted = automation.tick(settings)
    if point == "after the start":
        assert restarted == []  # it did start: not again
    else:
        assert [r.id for r in restarted] == [claim.run_id]
    assert automation.tick(settings) == []
    assert training_runs(settings) == {made.commit: [claim.run_id]}
    assert automation.read_state(settings).runs[made.commit].started is not None
    jobs = settings.jobs_dir(local.JOB_KIND)
    assert [d.name for d in jobs.iterdir()] == [claim.run_id]


@pytest.mark.slow  # three watcher processes
def test_two_watchers_start_one_run_per_version(settings):
    new_version(settings, 1, "history")
    automation.switch_on(settings, start=False)
    made = new_version(settings, 2, "new")
    environment = {**os.environ, "JUKEBOX_HOME": str(settings.home)}
    watchers = [
        subprocess.Popen(
            [sys.executable, "-m", "jukebox", "watch", "--once"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    said = [watcher.communicate(timeout=120)[0] for watcher in watchers]
    assert [w.returncode for w in watchers] == [0, 0, 0]
    (run_id,) = training_runs(settings)[made.commit]
    assert sum(out.count("started jukebox-training run") for out in said) == 1
    assert automation.read_state(settings).trained == {made.commit: run_id}


@pytest.mark.slow
def test_a_data_pipeline_run_hands_its_flags_to_the_training_run_and_kfp_stays_quiet(
    settings, capsys
):
    """The whole way: ``pipeline run --pipeline data`` with a model name and training flags
    makes a version, then the loop's run for it carries them; kfp's own lines stay in the
    run's log, the task lines on the terminal."""
    from jukebox.__main__ import main
    from jukebox.pipelines.records import run_dir

    new_version(settings, 1, "history")
    automation.switch_on(settings, start=False)
    flags = ["--songs", "300", "--days", "20", "--countries", "6", "--data-seed", "5"]
    flags += ["--model-name", "from-data", "--epochs", "1", "--width", "8", "--tolerance", "0.3"]
    assert main(["pipeline", "run", "--pipeline", "data", *flags]) == 0
    out = capsys.readouterr().out
    for task in ("extract-data", "load-and-version", "trigger-training"):
        assert f"[{task}] succeeded" in out
    assert "Executing task" not in out and "KFP Executor" not in out
    assert "[trigger-training] The continuous-training loop starts the training run" in out
    (data_run,) = list_runs(settings)
    assert "Executing task" in (run_dir(settings, data_run.id) / local.KFP_LOG).read_text()

    (started,) = automation.tick(settings)
    assert started.arguments["source_options"] == {"ref": data_run.new_data_version}
    assert started.arguments["model_name"] == "from-data"
    assert started.arguments["tolerance"] == 0.3
    assert started.arguments["hyperparameters"]["epochs"] == 1
    assert started.arguments["hyperparameters"]["width"] == 8
