"""The training pipeline: its compiled IR, its parameters, a cluster submission of it, and real
local runs through kfp's local mode that register (or refuse to register) in the embedded
registry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jukebox.config import Settings, load_settings
from jukebox.pipelines.params import RunParams, RunParamsError
from jukebox.pipelines.training import TASKS, compile_pipeline

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[dict, dict]:
    path = compile_pipeline(tmp_path_factory.mktemp("ir") / "jukebox-training.yaml")
    ir, platform = yaml.safe_load_all(path.read_text())
    return ir, platform


def _dependencies(ir: dict) -> dict[str, set[str]]:
    """Task -> the tasks it waits for; a task inside the gate waits for what the gate waits for."""
    root = ir["root"]["dag"]["tasks"]
    depends = {n: set(t.get("dependentTasks", ())) for n, t in root.items()}
    for name, task in root.items():
        if name.startswith("condition"):
            gated = ir["components"][task["componentRef"]["name"]]["dag"]["tasks"]
            for inner, inner_task in gated.items():
                depends[inner] = depends[name] | set(inner_task.get("dependentTasks", ()))
            del depends[name]
    return depends


def test_the_ir_holds_the_workshops_steps_in_order(compiled):
    ir, _platform = compiled
    depends = _dependencies(ir)
    assert set(depends) == set(TASKS)
    assert depends["fetch-data"] == set()
    assert depends["validate-and-prepare"] == {"fetch-data"}
    assert depends["train"] == {"fetch-data", "validate-and-prepare"}  # its data version
    # Two branches after training: evaluation, and conversion followed by verification.
    assert depends["evaluate"] == {"fetch-data", "validate-and-prepare", "train"}
    assert depends["convert-to-onnx"] == {"validate-and-prepare", "train"}
    assert depends["verify-onnx"] == {"validate-and-prepare", "train", "convert-to-onnx"}
    assert {"evaluate", "verify-onnx", "convert-to-onnx"} <= depends["register"]


def test_registering_is_gated_on_the_evaluation(compiled):
    ir, _platform = compiled
    (condition,) = [t for n, t in ir["root"]["dag"]["tasks"].items() if n.startswith("condition")]
    assert "evaluate" in condition["triggerPolicy"]["condition"]
    assert condition["triggerPolicy"]["condition"].endswith("== true")
    (gated,) = [c for n, c in ir["components"].items() if n.startswith("comp-condition")]
    assert "register" in gated["dag"]["tasks"]


def test_the_parameters_and_their_defaults(compiled):
    ir, _platform = compiled
    parameters = ir["root"]["inputDefinitions"]["parameters"]
    assert set(parameters) == {
        "model_name",
        "version",
        "source",
        "source_options",
        "hyperparameters",
        "tolerance",
        "run_id",
        "registry_url",
        "data_repo_url",
        "trigger",
    }
    assert parameters["version"]["defaultValue"] == "next"
    assert parameters["trigger"]["defaultValue"] == ""
    assert parameters["tolerance"]["parameterType"] == "NUMBER_DOUBLE"
    assert parameters["hyperparameters"]["parameterType"] == "STRUCT"


def test_the_cli_writes_the_yaml_and_says_what_a_pod_will_reach(tmp_path, monkeypatch, capsys):
    from jukebox.__main__ import main

    monkeypatch.setenv("MODEL_REGISTRY_URL", "https://registry.example")
    monkeypatch.delenv("JUKEBOX_DATA_GIT_URL", raising=False)
    assert main(["pipeline", "compile", "--output", str(tmp_path / "p.yaml")]) == 0
    ir = next(yaml.safe_load_all((tmp_path / "p.yaml").read_text()))
    assert ir["pipelineInfo"]["name"] == "jukebox-training"
    assert ir["root"]["inputDefinitions"]["parameters"]["registry_url"]["defaultValue"] == (
        "https://registry.example"
    )
    said = capsys.readouterr().out
    assert "registry_url: https://registry.example" in said
    assert "data_repo_url: none: give it when you start a run" in said


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model_name": "../x"}, "path characters"),
        ({"version": "0"}, '"next"'),
        ({"tolerance": 2.0}, "tolerance must be between 0 and 1"),
        ({"source": "ftp"}, "Unknown data source 'ftp'"),
    ],
)
def test_parameters_are_checked_before_a_run_starts(changes, message):
    with pytest.raises(RunParamsError, match=message):
        RunParams(**changes)


def test_the_real_pipeline_submits_to_a_kfp_api(tmp_path):
    """Submission through kfp.Client, checked by the stand-in KFP v2beta1 server."""
    from jukebox.pipelines import remote
    from tests.pipelines.kfp_standin import StandIn

    server = StandIn(token="t", polls_until_done=2)
    server.start()
    try:
        settings = Settings(home=tmp_path, kfp_host=server.url, kfp_token="t")
        package = compile_pipeline(tmp_path / "p.yaml")
        arguments = RunParams(source="synthetic", source_options={"songs": 500}).arguments()
        run = remote.submit_run(settings, package, arguments, run_name="nightly")
        assert server.problems == []
        (created,) = server.received("POST", "/runs")
        assert created.body["runtime_config"]["parameters"] == arguments
        assert created.body["pipeline_spec"]["pipeline_spec"]["pipelineInfo"]["name"] == (
            "jukebox-training"
        )
        schedule = remote.create_recurring_run(
            settings, package, arguments, name="daily", cron="0 0 3 * * *"
        )
        assert server.problems == []
        (recurring,) = server.received("POST", "/recurringruns")
        assert recurring.body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * *"
        assert schedule.cron == "0 0 3 * * *"
        assert remote.follow_run(settings, run.id, poll=0.01).succeeded
    finally:
        server.stop()


# --- local runs ----------------------------------------------------------------------------------

SMALL = ["--songs", "300", "--days", "20", "--countries", "6", "--width", "8", "--depth", "2"]


def run_cli(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jukebox", "pipeline", *args],
        cwd=ROOT,
        env={**os.environ, "JUKEBOX_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def pipeline_home(tmp_path_factory):
    """A JUKEBOX_HOME in which one local run registered version 1; the registry is stopped after."""
    from jukebox.registry.server.process import stop_server

    home = tmp_path_factory.mktemp("pipeline-home")
    result = run_cli(home, "run", *SMALL, "--epochs", "3", "--learning-rate", "0.01")
    yield home, result
    stop_server(load_settings({"JUKEBOX_HOME": str(home)}))


@pytest.mark.slow
def test_a_local_run_registers_a_version_that_names_the_run(pipeline_home):
    from jukebox.pipelines.records import list_runs
    from jukebox.registry.versions import get_version

    home, result = pipeline_home
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    settings = load_settings({"JUKEBOX_HOME": str(home)})
    (run,) = list_runs(settings)
    assert run.state == "succeeded" and run.registered_version == "1"
    assert set(run.tasks) == set(TASKS)
    ordered = sorted(run.tasks.values(), key=lambda t: t.started)
    assert all(a.ended <= b.started for a, b in zip(ordered, ordered[1:], strict=False))  # serial
    assert all(t.state == "succeeded" and t.seconds > 0 for t in run.tasks.values())
    assert "Registered jukebox version 1." in result.stdout
    # Each task as it ended, then the run's outcome.
    assert result.stdout.index("[fetch-data] succeeded") < result.stdout.index("[register]")
    version = get_version("jukebox", "1", settings)
    assert version.pipeline_run_id == run.id
    assert version.properties["data.version"] == run.data_version
    assert version.properties["param.epochs"] == 3
    assert version.metrics["accuracy"] == pytest.approx(run.tasks["evaluate"].metrics["accuracy"])
    assert run.tasks["validate-and-prepare"].metrics["validation_errors"] == 0
    assert run.tasks["verify-onnx"].metrics["passed"] == 1
    assert (run.path / "tasks" / "train.log").read_text().count("epoch 3/3 done") == 1
    shown = run_cli(home, "show", run.id, "--json")
    assert json.loads(shown.stdout)["registered_version"] == "1"


@pytest.mark.slow
def test_a_local_run_is_an_experiment_run_linked_to_its_version(pipeline_home):
    """The train task logs a run (source pipeline, named after the pipeline run, each epoch's
    figures); evaluate adds the test figures; the registered version is linked to it. Read
    back through the official client."""
    from model_registry.types import Metric, ModelArtifact

    from jukebox.pipelines.records import list_runs
    from jukebox.registry import experiments
    from jukebox.registry.connection import connect
    from jukebox.registry.official_api import all_pages
    from jukebox.registry.versions import get_version

    home, result = pipeline_home
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    settings = load_settings({"JUKEBOX_HOME": str(home)})
    pipeline_run = list_runs(settings)[-1]  # the fixture's run, oldest
    client = connect(settings)
    runs = all_pages(client.get_experiment_runs(experiment_name="jukebox"))
    [run] = [r for r in runs if pipeline_run.id in r.name]
    summary = experiments.get_run(settings, run.id)
    assert summary.status == "FINISHED" and summary.source == "pipeline"
    assert summary.params["epochs"] == 3
    assert summary.properties["data.version"] == pipeline_run.data_version
    history = experiments.metric_history(settings, run.id)
    assert [step for step, _ in history["val_accuracy"]] == [1, 2, 3]
    assert [step for step, _ in history["loss"]] == [1, 2, 3]
    logs = all_pages(client.get_experiment_run_logs(run_id=run.id))
    metrics = {log.name: log.value for log in logs if isinstance(log, Metric)}
    assert metrics["test_accuracy"] == pytest.approx(
        pipeline_run.tasks["evaluate"].metrics["accuracy"]
    )
    version = get_version("jukebox", "1", settings)
    assert version.properties["experiment.run_id"] == run.id
    artifact = client.get_model_artifact("jukebox", "1")
    assert artifact.id in {log.id for log in logs if isinstance(log, ModelArtifact)}
    assert summary.registered_as == "jukebox 1"


@pytest.mark.slow
def test_a_worse_model_is_note(pipeline_home):
    from jukebox.registry.versions import list_versions, mark_production

    home, _result = pipeline_home
    settings = load_settings({"JUKEBOX_HOME": str(home)})
    mark_production("jukebox", "1", settings)
    # One epoch of a one-unit network at a tiny learning rate: far below version 1.
    worse = ["--epochs", "1", "--width", "1", "--depth", "1", "--learning-rate", "0.000001"]
    result = run_cli(home, "run", *SMALL[:6], *worse, "--tolerance", "0")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Not registered: test accuracy" in result.stdout
    assert "worse than production version 1" in result.stdout
    assert [v.version for v in list_versions("jukebox", settings)] == ["1"]
    from jukebox.pipelines.records import list_runs

    latest = list_runs(settings)[0]
    assert latest.registered_version is None and latest.tasks["register"].state == "skipped"


@pytest.mark.slow
def test_a_run_whose_data_fails_validation_registers_nothing(tmp_path):
    from jukebox.pipelines.records import list_runs

    result = run_cli(tmp_path, "run", "--songs", "100", "--days", "1", "--countries", "4")
    assert result.returncode == 1
    (run,) = list_runs(load_settings({"JUKEBOX_HOME": str(tmp_path)}))
    assert run.state == "failed"
    assert run.failed_task.name == "validate-and-prepare"
    assert "single chart date" in run.error
    assert "register" not in run.tasks
    assert not (tmp_path / "s3").exists() and not (tmp_path / "registry.sqlite").exists()


@pytest.mark.slow
def test_two_runs_at_once_each_register_their_own_version(tmp_path):
    """Two local runs started together in one home: the embedded registry started once between
    them, each run's outputs kept apart, and two versions, each naming the run that made it."""
    from jukebox.model.bundle import file_sha256
    from jukebox.pipelines.records import list_runs
    from jukebox.registry.server.process import stop_server
    from jukebox.registry.versions import get_version

    command = [sys.executable, "-m", "jukebox", "pipeline", "run", *SMALL, "--epochs", "2"]
    env = {**os.environ, "JUKEBOX_HOME": str(tmp_path)}
    # Two seeds: the same seed trains the same model.onnx, which the registry refuses twice.
    runs = [
        subprocess.Popen(
            [*command, "--seed", seed], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
        )
        for seed in ("1", "2")
    ]
    try:
        outputs = [run.communicate(timeout=600)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
        finished = list_runs(settings)
        assert len(finished) == 2 and all(r.state == "succeeded" for r in finished)
        assert sorted(str(r.registered_version) for r in finished) == ["1", "2"], outputs
        for run in finished:  # each version holds the ONNX file its own run converted
            version = get_version("jukebox", run.registered_version, settings)
            assert version.pipeline_run_id == run.id
            (onnx_file,) = (p for p in (run.path / "outputs").rglob("onnx_model") if p.is_file())
            assert file_sha256(onnx_file) == version.onnx_sha256
    finally:
        for run in runs:
            run.kill()
        stop_server(load_settings({"JUKEBOX_HOME": str(tmp_path)}))
