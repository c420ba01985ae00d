"""Fixtures of the model lab: one tiny synthetic data set, prepared and trained once per session.

The data set is small (a few thousand ranking rows, six countries with strong tastes) so a real
training learns in seconds; session scope keeps TensorFlow's start-up and the training to one.
"""

from __future__ import annotations

import pytest

COUNTRIES = ("BR", "DE", "FR", "JP", "MX", "US")


def tiny_data(seed: int = 1, n_songs: int = 400, n_days: int = 40):
    from jukebox.data.synthetic import generate

    return generate(
        n_songs, seed, n_days=n_days, chart_size=20, countries=COUNTRIES, taste_strength=3.0
    )


def merged_table(data):
    from jukebox.data.merge import merge_tables

    return merge_tables(data.properties, data.rankings)


@pytest.fixture(scope="session")
def data():
    return tiny_data()


@pytest.fixture(scope="session")
def merged(data):
    return merged_table(data)


@pytest.fixture(scope="session")
def prepared(merged):
    from jukebox.data.preparation import prepare

    return prepare(merged, seed=3)


@pytest.fixture(scope="session")
def trained(prepared):
    """A real training of the default architecture on the tiny set: 4 short epochs."""
    from jukebox.model.fit import train
    from jukebox.model.network import TrainingParams

    events = []
    result = train(
        prepared,
        TrainingParams(epochs=4, batch_size=64, learning_rate=0.01, seed=5),
        listeners=[events.append],
        batch_interval=0.0,
    )
    return result, events


def run_cli(args, home, timeout=300):
    """``python -m jukebox train ARGS`` in a child process with JUKEBOX_HOME=home."""
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "jukebox", "train", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "JUKEBOX_HOME": str(home)},
    )


@pytest.fixture(scope="session")
def cli_run(tmp_path_factory):
    """One real CLI training with export on a tiny set: (root, completed process, job dir).

    The bundle lands in ``root/home/models/cli-tiny``.
    """
    from jukebox.config import load_settings
    from jukebox.data.store import save_current

    root = tmp_path_factory.mktemp("cli")
    # The current data set of JUKEBOX_HOME: what the CLI trains on when given no data option.
    save_current(
        tiny_data(seed=3, n_songs=300, n_days=20),
        load_settings({"JUKEBOX_HOME": str(root / "home")}),
    )
    job_dir = root / "job"
    args = ["--epochs", "2", "--batch-size", "64", "--width", "8"]
    args += ["--depth", "2", "--job-dir", str(job_dir), "--training-id", "cli-tiny"]
    return root, run_cli(args, root / "home"), job_dir


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """JUKEBOX_HOME in a fresh temporary directory; returns the settings."""
    from jukebox.config import load_settings

    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path / "home"))
    return load_settings()


def wait_for_job(job_dir, timeout: float = 240.0) -> dict:
    """Poll a job's status.json until it reports a final state; returns the status."""
    import time

    from jukebox.jobs import load_job, read_status

    final = ("done", "stopped", "failed", "cancelled")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = load_job(job_dir)
        if job is not None:
            alive = job.is_alive()
            status = read_status(job.dir)  # read after the alive check: a job writes, then exits
            if status.get("state") in final:
                return status
            if not alive:
                raise AssertionError(f"job died without a final state:\n{job.log_tail()}")
        time.sleep(0.5)
    raise AssertionError(f"job in {job_dir} did not finish in {timeout} s")
