"""Train and Export pages with a real tiny training: train on one page, export on the other."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from jukebox.jobs import list_jobs, read_status, stop_job
from tests.model.conftest import wait_for_job

ROOT = Path(__file__).resolve().parents[2]


def page(name: str) -> AppTest:
    """The page inside the app, where its links to other pages resolve."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(f"app_pages/{name}.py")
    at.run()
    assert not at.exception, at.exception
    return at


def by_label(widgets, label):
    matches = [w for w in widgets if w.label == label]
    assert matches, f"no widget labelled {label!r} in {[w.label for w in widgets]}"
    return matches[0]


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += (
        [i.value for i in at.info] + [s.value for s in at.success] + [e.value for e in at.error]
    )
    return "\n".join(str(p) for p in parts)


def test_pages_say_what_to_do_before_any_training(home):
    train = page("train")
    assert "No training yet" in texts(train)
    assert not train.error
    export = page("export")
    assert "No trained model yet" in texts(export)


def test_out_of_range_parameters_are_explained_and_nothing_starts(home):
    at = page("train")
    by_label(at.number_input, "Learning rate").set_value(0.0)
    by_label(at.button, "Train").click()
    at.run()
    assert not at.exception
    assert any("learning rate must be between 1e-06 and 1" in e.value for e in at.error)
    assert list_jobs(home, "train") == []


def stop_from_the_page(at: AppTest, job) -> None:
    """While it trains, the page shows progress and a Stop button that works."""
    deadline = time.monotonic() + 180
    while read_status(job.dir).get("phase") != "training" or not read_status(job.dir).get(
        "history"
    ):
        assert job.is_alive(), job.log_tail()
        assert time.monotonic() < deadline, job.log_tail()
        time.sleep(0.5)
    at.run()
    assert not at.exception, at.exception
    progress = at.get("progress")
    assert progress, "no progress bar while training"
    assert "Training: epoch" in progress[0].proto.text
    by_label(at.button, "Stop and keep the model").click()
    at.run()
    status = wait_for_job(job.dir)
    assert status["state"] == "stopped", job.log_tail()
    assert status["epoch"] < 300


@pytest.mark.slow  # trains in a background job
def test_train_on_the_page_stop_it_then_export_it(home):
    at = page("train")
    at.radio[0].set_value("synthetic")
    at.run()
    by_label(at.number_input, "Songs").set_value(300)
    by_label(at.number_input, "Chart days").set_value(20)
    by_label(at.number_input, "Countries").set_value(5)
    by_label(at.number_input, "Epochs").set_value(300)  # far more than it will get to run
    by_label(at.checkbox, "Stop early").set_value(False)  # it must still run when stopped
    by_label(at.number_input, "Batch size").set_value(64)
    by_label(at.number_input, "Width").set_value(8)
    by_label(at.number_input, "Depth").set_value(2)
    by_label(at.button, "Train").click()
    at.run()
    assert not at.exception, at.exception
    jobs = list_jobs(home, "train")
    assert len(jobs) == 1
    try:
        stop_from_the_page(at, jobs[0])
    finally:
        stop_job(jobs[0])  # never leave a training running when the test failed

    # A fresh page (as after a reload) finds the training, the model it kept, and its figures.
    at = page("train")
    assert not at.error
    assert "Stopped early on request" in "\n".join(w.value for w in at.warning)
    # The job was logged as a run (source page), stopped on request: FINISHED, and says so.
    from jukebox.registry import experiments

    (run,) = experiments.list_runs(home)
    assert f"Logged as run **{run.name}** of experiment **jukebox**" in texts(at)
    assert run.source == "page" and run.status == "FINISHED"
    assert run.properties[experiments.STOPPED] is True
    assert run.name == jobs[0].id
    history = experiments.metric_history(home, run.run_id)
    epochs = [step for step, _ in history["val_accuracy"]]
    assert epochs == list(range(1, len(epochs) + 1)) and epochs
    assert "Bayes ceiling" in texts(at)
    assert "songs held out whole" in texts(at)  # the page says what the split is
    metrics = {m.label: m.value for m in at.metric}
    assert 0 < float(metrics["Accuracy"]) <= 1
    charts = at.get("plotly_chart")
    assert len(charts) >= 4  # ceiling, curves, confusion matrix, per country
    assert "Not exported yet" in texts(at)

    export = page("export")
    assert "not exported" in export.selectbox[0].format_func(export.selectbox[0].value)
    by_label(export.button, "Export to ONNX").click()
    export.run(timeout=180)
    assert not export.exception, export.exception
    assert any("Passed: both runtimes match Keras" in s.value for s in export.success)
    assert "export verified" in export.selectbox[0].format_func(export.selectbox[0].value)
    diffs = {m.label: m.value for m in export.metric}
    assert float(diffs["onnxruntime max diff"]) <= 1e-5
    assert float(diffs["OpenVINO max diff"]) <= 1e-5
    inputs = export.dataframe[0].value
    assert list(inputs["name"])[:2] == ["is_explicit", "duration_ms"]
    assert set(inputs["shape"]) == {"[N, 1]"}
    assert export.dataframe[1].value["name"].tolist() == ["output"]
    assert len(export.get("download_button")) == 2


@pytest.mark.slow  # starts a Python process
def test_pages_and_their_modules_do_not_import_tensorflow():
    """Pages draw fast: TensorFlow loads only in the training job or on the Export button."""
    import subprocess
    import sys

    code = (
        "import sys, runpy\n"
        "import jukebox.model.runs, jukebox.model.jobs, jukebox.model.workflow\n"
        "import jukebox.model.export, jukebox.model.report, jukebox.model.card\n"
        "import jukebox.ui.model, jukebox.cli.train, jukebox.model.progress\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


def picker_label(at: AppTest) -> str:
    picker = by_label(at.selectbox, "Training run")
    return picker.format_func(picker.value)


@pytest.mark.slow  # trains in a background job
def test_cancel_keeps_nothing_and_no_page_shows_the_training(home):
    """Issue 11, bugs 1 and 5: Cancel saved a one-batch model that Home and Export then showed;
    the picker and the panel disagreed about the state."""
    from jukebox.lifecycle import training_stage
    from jukebox.model.runs import list_trainings, training_dir

    at = page("train")
    at.radio[0].set_value("synthetic")
    at.run()
    by_label(at.number_input, "Songs").set_value(300)
    by_label(at.number_input, "Chart days").set_value(20)
    by_label(at.number_input, "Countries").set_value(5)
    by_label(at.number_input, "Epochs").set_value(300)  # far more than it will get to run
    by_label(at.checkbox, "Stop early").set_value(False)  # it must still run when stopped
    by_label(at.number_input, "Batch size").set_value(64)
    by_label(at.button, "Train").click()
    at.run()
    (job,) = list_jobs(home, "train")
    try:
        deadline = time.monotonic() + 180
        while not read_status(job.dir).get("history"):  # a model exists that Stop would keep
            assert job.is_alive(), job.log_tail()
            assert time.monotonic() < deadline, job.log_tail()
            time.sleep(0.3)
        at.run()
        assert "running" in picker_label(at)
        by_label(at.button, "Cancel").click()
        at.run()
        assert not at.exception, at.exception
    finally:
        stop_job(job)
    assert not job.is_alive()
    assert read_status(job.dir)["state"] == "cancelled"
    from jukebox.registry import experiments

    (run,) = experiments.list_runs(home)  # the killed job's run was ended by the page
    assert run.status == "KILLED"
    assert not training_dir(home, job.id).exists()
    assert list_trainings(home) == []
    assert not training_stage(home).reached  # Home's "Latest training"
    assert "cancelled" in picker_label(at)
    assert "Cancelled: no model was kept." in texts(at)
    assert "No trained model yet" in texts(page("export"))
