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
    """A real training of the default architecture on the tiny set: 6 short epochs."""
    from jukebox.model.network import TrainingParams
    from jukebox.model.training import train

    events = []
    result = train(
        prepared,
        TrainingParams(epochs=6, batch_size=64, learning_rate=0.01, seed=5),
        listeners=[events.append],
        batch_interval=0.0,
    )
    return result, events


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """JUKEBOX_HOME in a fresh temporary directory; returns the settings."""
    from jukebox.config import load_settings

    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path / "home"))
    return load_settings()


def wait_for_job(job_dir, timeout: float = 240.0) -> dict:
    """Poll a job's status.json until it reports a final state; returns the status."""
    import time

    from jukebox.jobs import load_job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = load_job(job_dir)
        status = job.status() if job else {}
        if status.get("state") in ("done", "stopped", "failed", "cancelled"):
            return status
        if job is not None and not job.is_alive() and time.monotonic() > deadline - timeout + 5:
            status = job.status()
            if status.get("state") not in ("done", "stopped", "failed", "cancelled"):
                raise AssertionError(f"job died without a final state:\n{job.log_tail()}")
        time.sleep(0.5)
    raise AssertionError(f"job in {job_dir} did not finish in {timeout} s")
