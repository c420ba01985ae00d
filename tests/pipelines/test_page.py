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
from jukebox.pipelines.params import DataRunParams, RunParams
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
        record_task(
            path, "evaluate", outputs={"gate_passed": False, "gate": "Not registered: worse."}
        )
        record_task(path, "register", state="skipped", error="Not registered: worse.")
        update_run(path, state="succeeded", ended=time.time(), note="Not registered: worse.")


def recorded_data_run(settings, run_id: str, commit: str | None) -> None:
    """A finished data pipeline run, as its tasks record it."""
    params = DataRunParams(source="synthetic", source_options={"songs": 300}, message="more")
    path = create_run(settings, run_id, params.arguments(run_id), pipeline="jukebox-data").path
    for name in ("extract-data", "transform-data", "validate-data", "load-and-version"):
        record_task(path, name, state="succeeded", started=1.0, ended=2.0)
    record_task(path, "transform-data", metrics={"rows_dropped": 73.0})
    record_task(path, "load-and-version", outputs={"changed": bool(commit), "data_commit": commit})
    record_task(path, "trigger-training", state="succeeded" if commit else "skipped")
    update_run(path, state="succeeded", ended=time.time(), new_data_version=commit)


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
    assert list(table["outcome"]) == [
        "not registered: worse than production (gate)",
        "registered v1",
    ]
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
    assert compared.loc["evaluate · Accuracy (test)"].tolist() == ["0.2", "0.61"]
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
    at.radio[0].set_value("synthetic").run()
    numbers = {n.label: n for n in at.number_input}
    numbers["Songs"].set_value(300)
    numbers["Chart days"].set_value(20)
    numbers["Countries"].set_value(6)
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


def test_a_data_run_is_drawn_and_compared_as_a_data_run(tmp_path, monkeypatch):
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    recorded_run(settings, "20260101-000000-aaaaaa", registered="1", accuracy=0.61)
    recorded_data_run(settings, "20260102-000000-bbbbbb", "c" * 40)
    recorded_data_run(settings, "20260103-000000-cccccc", None)
    at = page(tmp_path, monkeypatch)
    table = at.dataframe[0].value
    assert list(table["pipeline"]) == ["data", "data", "training"]
    assert list(table["outcome"])[:2] == [
        "data unchanged: no new version",
        "new data version ccccccc",
    ]
    graph = json.loads(at.get("plotly_chart")[0].proto.spec)
    nodes = graph["data"][-1]
    assert nodes["customdata"] == [
        "extract-data", "transform-data", "validate-data", "load-and-version", "trigger-training"
    ]  # fmt: skip
    assert "skipped" in nodes["text"][-1] and "pending" not in " ".join(nodes["text"])
    assert [r.value for r in at.radio if r.key == "pipelines_task"][0] == "extract-data"
    at.radio(key="pipelines_task").set_value("transform-data").run()
    assert at.dataframe[1].value.to_dict("records") == [{"metric": "Rows dropped", "value": "73"}]
    # Compared with the other data run only, by what a data run is given.
    compared = at.dataframe[-1].value
    assert list(compared.columns) == ["20260103-000000-cccccc", "20260102-000000-bbbbbb"]
    assert compared.loc["source · songs"].tolist() == ["300", "300"]
    assert "param · epochs" not in compared.index


def test_a_run_that_trained_a_registered_model_says_which_version_it_is(tmp_path, monkeypatch):
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    path = create_run(settings, "20260101-000000-aaaaaa", RunParams().arguments()).path
    record_task(path, "evaluate", state="succeeded", outputs={"gate_passed": True, "gate": "ok"})
    note = "Not registered: This bundle is already registered as version 2 of 'jukebox'."
    record_task(path, "register", state="succeeded", outputs={"note": note, "duplicate_of": "2"})
    local.finish(settings, path)
    at = page(tmp_path, monkeypatch)
    assert at.dataframe[0].value["outcome"][0] == "not registered: the same model is v2"
    assert any("already registered as version 2" in w.value for w in at.warning)


def test_only_the_button_submits_the_form(tmp_path, monkeypatch):
    """Enter in a field submits nothing (the browser test presses it; here the form's setting)."""
    at = page(tmp_path, monkeypatch)
    forms = {f.proto.form.form_id: f.proto.form for f in at.get("form")}
    assert forms["pipeline_run"].enter_to_submit is False
    at.switch_page("app_pages/train.py").run()
    forms = {f.proto.form.form_id: f.proto.form for f in at.get("form")}
    assert forms["train_params"].enter_to_submit is False
