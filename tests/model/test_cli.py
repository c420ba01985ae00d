"""``python -m jukebox train`` in a real process, as a user and the Train page run it."""

from __future__ import annotations

import json

import pytest

from jukebox.model.bundle import read_bundle
from tests.model.conftest import run_cli, tiny_data

pytestmark = pytest.mark.slow  # each test starts `python -m jukebox train`


def test_cli_trains_exports_and_prints_metrics(cli_run):
    root, result, _ = cli_run
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    phases = ["[preparing]", "[training]", "[evaluating]", "[saving]", "[exporting]"]
    assert [line for line in out.splitlines() if line in phases] == phases
    assert "epoch 2/2 done" in out
    assert "accuracy " in out and "log_loss" in out and "bayes_accuracy" in out
    assert "Export verification: PASSED" in out
    bundle = read_bundle(root / "home" / "models" / "cli-tiny")
    assert bundle.verification_passed
    assert bundle.report.params["epochs"] == 2
    # Trained on the current data set, whose file hashes identify the data version.
    from jukebox.config import load_settings
    from jukebox.data.store import current_info

    info = current_info(load_settings({"JUKEBOX_HOME": str(root / "home")}))
    version = bundle.report.data.version
    assert version.startswith("sha256:") and len(version) == len("sha256:") + 64
    assert bundle.report.data.source == info["source"]


def test_cli_reports_progress_into_the_job_status(cli_run):
    root, _, job_dir = cli_run
    status = json.loads((job_dir / "status.json").read_text())
    assert status["state"] == "done" and status["phase"] == "finished"
    assert status["progress"] == 1.0
    assert len(status["history"]["val_accuracy"]) == 2
    assert status["curve"] and {"x", "loss", "accuracy"} <= set(status["curve"][0])
    assert status["model_dir"] == str(root / "home" / "models" / "cli-tiny")
    assert status["results"]["accuracy"] == pytest.approx(
        read_bundle(status["model_dir"]).report.evaluation.accuracy
    )


def test_bad_parameters_stop_with_a_message(tmp_path):
    result = run_cli(
        ["--learning-rate", "-1", "--dropout", "3", "--job-dir", str(tmp_path)], tmp_path / "home"
    )
    assert result.returncode == 2
    assert "learning rate must be between 1e-06 and 1" in result.stderr
    assert "dropout must be between 0 and 0.9" in result.stderr
    assert "Traceback" not in result.stderr
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "failed" and "learning rate" in status["error"]


def test_data_too_small_stops_with_a_message(tmp_path):
    from jukebox.data.store import write_data_dir

    data = tiny_data(seed=3, n_songs=60, n_days=1)  # one chart date: nothing left to test on
    write_data_dir(data, tmp_path / "data")
    result = run_cli(["--data", str(tmp_path / "data")], tmp_path / "home")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "single chart date" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_only_names_a_missing_training(tmp_path):
    result = run_cli(["--export-only", "nope"], tmp_path / "home")
    assert result.returncode == 2
    assert "there is no training 'nope'" in result.stderr


def test_a_cli_training_is_an_experiment_run_with_each_epoch(cli_run):
    """Read back through the official client from the registry the CLI logged to (the
    embedded one of its JUKEBOX_HOME)."""
    from model_registry.types import Metric, ModelArtifact, Parameter

    from jukebox.config import load_settings
    from jukebox.model.runs import read_run_ref
    from jukebox.registry import experiments
    from jukebox.registry.connection import connect
    from jukebox.registry.official_api import all_pages

    root, result, job_dir = cli_run
    assert result.returncode == 0, result.stderr[-3000:]
    settings = load_settings({"JUKEBOX_HOME": str(root / "home")})
    model_dir = root / "home" / "models" / "cli-tiny"
    ref = read_run_ref(model_dir)
    assert ref is not None and ref["experiment"] == "jukebox" and ref["name"] == "cli-tiny"
    assert "Logged as run cli-tiny of experiment jukebox" in result.stdout
    status = json.loads((job_dir / "status.json").read_text())
    assert status["run"] == ref  # the Train page names it

    client = connect(settings)
    [run] = all_pages(client.get_experiment_runs(experiment_name="jukebox"))
    assert run.id == ref["run_id"]
    logs = all_pages(client.get_experiment_run_logs(run_id=run.id))
    params = {log.name: log.value for log in logs if isinstance(log, Parameter)}
    assert params["epochs"] == 2 and params["width"] == 8
    metrics = {log.name: log.value for log in logs if isinstance(log, Metric)}
    bundle = read_bundle(model_dir)
    assert metrics["test_accuracy"] == pytest.approx(bundle.report.evaluation.accuracy)
    assert {"test_log_loss", "test_top5_accuracy", "accuracy_to_bayes", "val_loss"} <= set(metrics)
    assert any(isinstance(log, ModelArtifact) and log.uri == model_dir.as_uri() for log in logs)
    history = experiments.metric_history(settings, run.id)
    assert [step for step, _ in history["val_accuracy"]] == [1, 2]
    assert [step for step, _ in history["loss"]] == [1, 2]
    summary = experiments.get_run(settings, run.id)
    # The job dir names it a page training; the data version is the current set's content id.
    assert summary.status == "FINISHED" and summary.source == "page"
    assert summary.properties["data.version"] == bundle.report.data.version


def test_a_training_logs_to_the_experiment_it_is_told(tmp_path):
    from jukebox.config import load_settings
    from jukebox.data.store import write_data_dir
    from jukebox.registry import experiments
    from jukebox.registry.server.process import stop_server

    write_data_dir(tiny_data(seed=4, n_songs=200, n_days=12), tmp_path / "data")
    args = ["--data", str(tmp_path / "data"), "--epochs", "1", "--width", "4", "--depth", "1"]
    result = run_cli([*args, "--no-export", "--experiment", "mine"], tmp_path / "home")
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path / "home")})
    try:
        assert result.returncode == 0, result.stderr[-3000:]
        [run] = experiments.list_runs(settings, "mine")
        assert run.source == "cli" and run.status == "FINISHED"
        assert experiments.list_runs(settings, "jukebox") == []
        # Not exported: registering the run (as the Experiments page does) exports it first.
        from jukebox.pipelines.gate import register_run

        outcome = register_run(settings, run, "mine-model", tolerance=1.0)
        assert outcome.registered and outcome.version == "1"
        assert experiments.get_run(settings, run.run_id).registered_as == "mine-model 1"
    finally:
        stop_server(settings)
