"""``python -m jukebox tune`` end to end on tiny data, Ctrl-C, and the background search job
stopped by its STOP file; the registry is the session's embedded one, reached over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jukebox.registry import experiments

pytestmark = pytest.mark.slow  # real searches in child processes

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--songs", "300", "--days", "30", "--countries", "6", "--data-seed", "1"]
SMALL = ["--width-min", "4", "--width-max", "16", "--depth-max", "2", "--epochs", "3"]
SMALL += ["--patience", "2", "--lr-min", "0.003"]


def tune(args, env, **kwargs):
    return subprocess.Popen(
        [sys.executable, "-m", "jukebox", "tune", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )


@pytest.fixture
def env(registry_env, jukebox_home):
    return {**os.environ, "JUKEBOX_HOME": str(jukebox_home)}


def test_tune_prints_each_trial_the_best_and_registers_it_through_the_gate(registry_env, env):
    model = f"tune-{time.time_ns() % 10**8}"
    args = ["--trials", "3", "--experiment", f"{model}-exp", "--model-name", model, *TINY, *SMALL]
    process = tune(args, env)
    out, _ = process.communicate(timeout=600)
    assert process.returncode == 0, out[-3000:]
    lines = out.splitlines()
    trials = [line for line in lines if line.startswith("trial ")]
    assert len(trials) == 3 and all("val_loss" in line for line in trials)
    assert any(line.startswith("Best: trial") for line in lines)
    assert "Export verification PASSED" in out.replace("export verification", "Export verification")
    assert f"No production version of {model} to compare with: registering." in out
    assert f"Registered {model} version 1." in out
    runs = experiments.list_runs(registry_env, f"{model}-exp")
    assert sorted(r.name for r in runs) == ["trial-0", "trial-1", "trial-2"]
    registered = [r for r in runs if r.registered_as]
    assert [r.registered_as for r in registered] == [f"{model} 1"]
    assert registered[0].bundle_uri


def test_bad_ranges_are_one_sentence_and_exit_2(env):
    process = tune(["--width-min", "64", "--width-max", "8"], env)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "error: width goes from 64 down to 8: give the lower bound first." in out
    assert "Traceback" not in out


def test_ctrl_c_ends_the_running_trial_killed_and_stops(registry_env, env):
    experiment = f"ctrl-c-{time.time_ns() % 10**8}"
    # Trials of ten epochs that early stopping will not cut short: long enough to interrupt.
    longer = ["--epochs", "10", "--patience", "9", "--width-min", "4", "--width-max", "8"]
    longer += ["--depth-max", "1"]
    args = ["--trials", "20", "--experiment", experiment, "--no-register", *TINY, *longer]
    process = tune(args, env)
    deadline = time.monotonic() + 300
    seen = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("trial "):
            break
        assert time.monotonic() < deadline, "".join(seen)
    time.sleep(1.5)  # into the next trial's training
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=300)
    out = "".join(seen) + out
    assert process.returncode == 0, out[-3000:]
    assert "Stopping: the running trial ends KILLED" in out
    runs = {r.name: r for r in experiments.list_runs(registry_env, experiment)}
    assert len(runs) < 20
    assert runs["trial-0"].status == "FINISHED"
    assert runs[f"trial-{len(runs) - 1}"].status == "KILLED"


def test_a_search_job_reports_its_trials_and_stops_on_its_stop_file(registry_env, jukebox_home):
    from jukebox.config import load_settings
    from jukebox.tuning.jobs import request_stop, start_search, view
    from jukebox.tuning.space import SearchSpace

    settings = load_settings()
    space = SearchSpace.from_dict({"width": [4, 8], "depth": [1, 2], "epochs": 30, "patience": 29,
                                   "learning_rate": [0.0001, 0.0002]})  # fmt: skip
    job = start_search(
        settings,
        space,
        10,
        register=False,
        synthetic={"songs": 300, "seed": 1, "days": 30, "countries": 6},
    )
    try:
        deadline = time.monotonic() + 300
        while not view(job).status.current.get("epoch"):
            assert job.is_alive(), job.log_tail()
            assert time.monotonic() < deadline, job.log_tail()
            time.sleep(0.5)
        request_stop(job.dir)
        while view(job).alive:
            assert time.monotonic() < deadline, job.log_tail()
            time.sleep(0.5)
        seen = view(job)
        assert seen.state == "stopped", job.log_tail()
        status = seen.status
        assert [t["state"] for t in status.trials] == ["stopped"]
        assert status.trials[0]["run_id"]
        (run,) = experiments.list_runs(registry_env, status.experiment)
        assert run.status == "KILLED"
    finally:
        from jukebox.jobs import kill_job

        if job.is_alive():
            kill_job(job)
