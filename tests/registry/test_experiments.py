"""Experiment runs logged by :mod:`jukebox.registry.experiments`, read back through the official
client's public methods (``get_experiments``, ``get_experiment_runs``, ``get_experiment_run``,
``get_experiment_run_logs``) and its generated metric-history call, against the embedded
registry server."""

from __future__ import annotations

import uuid

import pytest
from model_registry.types import Metric, ModelArtifact, Parameter

from jukebox.registry import experiments
from jukebox.registry.connection import connect
from jukebox.registry.official_api import _generated, all_pages


@pytest.fixture
def experiment():
    return f"exp-{uuid.uuid4().hex[:8]}"


def test_a_training_run_reads_back_through_the_official_client(registry_env, experiment):
    run = experiments.start_run(
        registry_env,
        params={"width": 64, "learning_rate": 0.003, "early_stopping": True, "rows": "songs"},
        source="cli",
        experiment=experiment,
        data_version="abc123",
    )
    for epoch, (loss, accuracy) in enumerate([(3.5, 0.10), (3.3, 0.12), (3.2, 0.13)], start=1):
        experiments.log_metrics(
            registry_env, run, {"loss": loss, "val_accuracy": accuracy}, step=epoch
        )
    experiments.finish_run(
        registry_env, run, metrics={"test_accuracy": 0.14}, step=3, bundle_uri="file:///b"
    )

    client = connect(registry_env)
    assert experiment in [e.name for e in all_pages(client.get_experiments())]
    [official] = all_pages(client.get_experiment_runs(experiment_name=experiment))
    assert official.id == run.run_id and official.name == run.name
    logs = all_pages(client.get_experiment_run_logs(run_id=run.run_id))
    params = {log.name: log.value for log in logs if isinstance(log, Parameter)}
    metrics = {log.name: log.value for log in logs if isinstance(log, Metric)}
    assert params == {"width": 64, "learning_rate": 0.003, "early_stopping": True, "rows": "songs"}
    assert metrics == {"loss": 3.2, "val_accuracy": 0.13, "test_accuracy": 0.14}
    assert any(isinstance(log, ModelArtifact) and log.uri == "file:///b" for log in logs)

    # The whole history, through the generated API of the same package.
    history = _generated(
        client, lambda api: api.get_experiment_run_metric_history(run.run_id, name="val_accuracy")
    )
    assert sorted((m.step, m.value) for m in history.items) == [(1, 0.10), (2, 0.12), (3, 0.13)]

    [summary] = experiments.list_runs(registry_env, experiment)
    assert summary.status == "FINISHED" and summary.ended >= summary.started
    assert summary.params["width"] == 64 and summary.params["early_stopping"] is True
    assert summary.source == "cli" and summary.properties["data.version"] == "abc123"
    assert summary.bundle_uri == "file:///b"
    assert experiments.metric_history(registry_env, run.run_id)["loss"] == [
        (1, 3.5),
        (2, 3.3),
        (3, 3.2),
    ]


def test_runs_list_newest_first_and_a_failed_run_says_so(registry_env, experiment):
    first = experiments.start_run(registry_env, params={}, source="page", experiment=experiment)
    second = experiments.start_run(registry_env, params={}, source="page", experiment=experiment)
    experiments.finish_run(registry_env, first, "FAILED")
    runs = experiments.list_runs(registry_env, experiment)
    assert [r.run_id for r in runs] == [second.run_id, first.run_id]
    assert [r.status for r in runs] == ["RUNNING", "FAILED"]
    assert experiments.list_runs(registry_env, f"{experiment}-none") == []
    with pytest.raises(ValueError, match="FINISHED, FAILED or KILLED"):
        experiments.finish_run(registry_env, second, "RUNNING")


def test_a_registered_version_links_back_to_its_run(registry_env, experiment):
    client = connect(registry_env)
    model = f"m-{experiment}"
    client.register_model(
        model, "file:///bundle", model_format_name="onnx", model_format_version="1", version="1"
    )
    version = client.get_model_version(model, "1")
    run = experiments.start_run(registry_env, params={}, source="page", experiment=experiment)
    experiments.finish_run(registry_env, run)
    experiments.link_version(registry_env, run, model, "1", version.id)

    logs = all_pages(client.get_experiment_run_logs(run_id=run.run_id))
    [artifact] = [log for log in logs if isinstance(log, ModelArtifact)]
    assert artifact.uri == "file:///bundle"
    assert client.get_model_artifact(model, "1").id == artifact.id
    summary = experiments.get_run(registry_env, run.run_id)
    assert summary.registered_as == f"{model} 1"
    assert summary.status == "FINISHED"  # linking later does not reopen the run
