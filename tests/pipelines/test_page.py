"""The Pipelines page through the app (AppTest), and a background run stopped from it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from jukebox.config import load_settings
from jukebox.model.network import TrainingParams
from jukebox.pipelines import local
from jukebox.pipelines.params import RunParams
from jukebox.pipelines.records import create_run, list_runs, record_task, task_log, update_run

ROOT = Path(__file__).resolve().parents[2]


def page(home: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("JUKEBOX_HOME", str(home))
    monkeypatch.delenv("KFP_HOST", raising=False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/pipelines.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def recorded_run(settings, run_id: str, *, registered: str | None, accuracy: float) -> None:
    """A finished run as the runner and its tasks record it (no pipeline is run)."""
    params = RunParams(training=TrainingParams(epochs=3 if registered else 1))
    path = create_run(settings, run_id, params.arguments(run_id)).path
    for name in ("fetch-data", "validate-and-prepare", "train", "evaluate"):
        record_task(path, name, state="succeeded", started=1.0, ended=2.0)
    record_task(path, "fetch-data", outputs={"data_version": "sha256:" + "ab" * 32})
    record_task(path, "evaluate", metrics={"accuracy": accuracy})
    task_log(path, "train").write_text("epoch 1/1 done: loss 1.2\n")
    if registered:
        record_task(path, "register", state="succeeded", outputs={"version": registered})
        update_run(path, state="succeeded", ended=time.time(), registered_version=registered)
    else:
        record_task(path, "register", state="skipped", error="Not registered: worse.")
        update_run(path, state="succeeded", ended=time.time(), note="Not registered: worse.")


def test_a_new_home_says_how_to_start_and_offers_the_yaml(tmp_path, monkeypatch):
    at = page(tmp_path, monkeypatch)
    assert any("No pipeline run yet" in i.value for i in at.info)
    (download,) = at.get("download_button")
    assert "compiled pipeline" in download.proto.label


def test_recorded_runs_are_listed_shown_and_compared(tmp_path, monkeypatch):
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    recorded_run(settings, "20260101-000000-aaaaaa", registered="1", accuracy=0.61)
    recorded_run(settings, "20260102-000000-bbbbbb", registered=None, accuracy=0.20)
    at = page(tmp_path, monkeypatch)
    table = at.dataframe[0].value
    assert list(table["run"]) == ["20260102-000000-bbbbbb", "20260101-000000-aaaaaa"]
    assert list(table["outcome"]) == ["not registered (gate)", "registered v1"]
    assert "Not registered: worse." in [w.value for w in at.warning]
    graph = json.loads(at.get("plotly_chart")[0].proto.spec)
    nodes = graph["data"][-1]
    assert nodes["customdata"][0] == "fetch-data"
    assert "skipped" in nodes["text"][-1]  # register, gated off
    at.radio(key="pipelines_task").set_value("train").run()
    assert "epoch 1/1 done" in at.code[0].value
    # Both finished: compared side by side, parameters and metrics.
    compared = at.dataframe[-1].value
    assert compared.loc["param · epochs"].tolist() == ["1", "3"]
    assert compared.loc["evaluate · accuracy"].tolist() == ["0.2", "0.61"]
    # The link of a registered version's page opens its run.
    at.query_params["run"] = "20260101-000000-aaaaaa"
    at.run()
    assert any("Registered jukebox version 1" in s.value for s in at.success)


@pytest.mark.slow
def test_a_background_run_can_be_stopped_and_ends_its_processes(tmp_path):
    from jukebox.jobs import load_job

    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    params = RunParams(source="synthetic", source_options={"songs": 300, "days": 20})
    run = local.start_in_background(settings, params)
    deadline = time.monotonic() + 120
    while "fetch-data" not in list_runs(settings)[0].tasks:
        assert time.monotonic() < deadline, "the run never started a task"
        time.sleep(0.2)
    job = load_job(settings.jobs_dir(local.JOB_KIND) / run.job_id)
    stopped = local.stop(settings, list_runs(settings)[0])
    assert stopped.state == "stopped" and "Stopped on request" in stopped.error
    assert not job.is_alive()
    assert all(t.state != "running" for t in stopped.tasks.values())
    assert not (tmp_path / "registry.sqlite").exists()


@pytest.mark.slow
def test_a_run_started_on_the_page_registers_a_version(tmp_path, monkeypatch):
    from jukebox.registry.server.process import stop_server

    at = page(tmp_path, monkeypatch)
    at.radio[0].set_value("synthetic")
    numbers = {n.label: n for n in at.number_input}
    numbers["Songs (synthetic)"].set_value(300)
    numbers["Chart days (synthetic)"].set_value(20)
    numbers["Countries (synthetic)"].set_value(6)
    at.button[0].click().run()  # the form's submit button
    assert not at.exception and not at.error, [e.value for e in at.error]
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    try:
        deadline = time.monotonic() + 400
        while not (run := local.refresh(settings, list_runs(settings)[0])).finished:
            assert time.monotonic() < deadline, "the run did not finish"
            time.sleep(1)
        assert run.state == "succeeded", run.error
        at.run()
        assert any("Registered jukebox version 1" in s.value for s in at.success)
    finally:
        stop_server(settings)
