"""A training tracked as an experiment run (:mod:`jukebox.registry.tracking`) and a bundle
registered from it linked back to its run, read through the official client against the
embedded registry. The trainings here are tiny bundles with made-up figures; real trainings are
tracked in tests/model/test_tracking.py and tests/pipelines."""

from __future__ import annotations

import uuid

import pytest
from model_registry.types import Metric, ModelArtifact

from jukebox.model.runs import TrainingRecord, read_run_ref
from jukebox.registry import experiments
from jukebox.registry.connection import connect
from jukebox.registry.official_api import all_pages
from jukebox.registry.register import register_bundle
from jukebox.registry.tracking import finish_training, training_run
from tests.bundles import make_tiny_bundle


@pytest.fixture
def experiment():
    return f"track-{uuid.uuid4().hex[:8]}"


def tracked_bundle(settings, path, experiment, name="t1"):
    """A tiny bundle whose 'training' was logged as a run of ``experiment``."""
    bundle = make_tiny_bundle(path)
    record = TrainingRecord(path.name, path, bundle.report)
    with training_run(
        settings, params={"width": 4}, source="cli", experiment=experiment, name=name
    ) as tracker:
        assert tracker is not None
        tracker(_epoch_end(1, 1.2, {"val_accuracy": 0.4, "val_loss": 1.1}))
        run = finish_training(settings, tracker, record)
    return run


def _epoch_end(epoch, loss, metrics):
    from jukebox.model.fit import TrainingEvent

    return TrainingEvent("epoch_end", epoch, 1, 1, 1, loss, metrics)


def test_a_finished_training_is_a_finished_run_with_its_figures(registry_env, experiment, tmp_path):
    run = tracked_bundle(registry_env, tmp_path / "b", experiment)
    assert read_run_ref(tmp_path / "b") == run.to_dict()
    client = connect(registry_env)
    [official] = all_pages(client.get_experiment_runs(experiment_name=experiment))
    assert official.name == "t1"
    logs = all_pages(client.get_experiment_run_logs(run_id=run.run_id))
    metrics = {log.name: log.value for log in logs if isinstance(log, Metric)}
    assert metrics["test_accuracy"] == 0.5 and metrics["test_log_loss"] == 1.0
    assert metrics["val_accuracy"] == 0.4 and metrics["loss"] == 1.2
    assert "accuracy" not in metrics  # the test accuracy never overwrites the training one
    [artifact] = [log for log in logs if isinstance(log, ModelArtifact)]
    assert artifact.uri == (tmp_path / "b").resolve().as_uri()
    summary = experiments.get_run(registry_env, run.run_id)
    assert summary.status == "FINISHED" and summary.source == "cli"
    assert experiments.STOPPED not in summary.properties


def test_a_run_name_taken_falls_back_to_a_unique_one(registry_env, experiment, tmp_path):
    first = tracked_bundle(registry_env, tmp_path / "a", experiment, name="same")
    second = tracked_bundle(registry_env, tmp_path / "b", experiment, name="same")
    assert first.name == "same" and second.name != "same"


def test_a_failing_training_fails_its_run(registry_env, experiment):
    with (
        pytest.raises(RuntimeError),
        training_run(registry_env, params={}, source="cli", experiment=experiment) as tracker,
    ):
        raise RuntimeError("diverged")
    assert experiments.get_run(registry_env, tracker.run.run_id).status == "FAILED"


def test_no_registry_is_a_warning_not_a_failed_training(monkeypatch, jukebox_home):
    from jukebox.config import load_settings

    monkeypatch.setenv("MODEL_REGISTRY_URL", "http://127.0.0.1:9")
    said = []
    with training_run(load_settings(), params={}, source="cli", warn=said.append) as tracker:
        assert tracker is None
    assert said and said[0].startswith("This training is not logged as an experiment run:")


def test_registering_a_tracked_bundle_links_the_version_and_the_run(
    registry_env, experiment, tmp_path
):
    run = tracked_bundle(registry_env, tmp_path / "b", experiment)
    model = f"m-{experiment}"
    info = register_bundle(tmp_path / "b", model, "1", settings=registry_env)
    assert info.properties["experiment.run_id"] == run.run_id
    assert info.properties["experiment.id"] == run.experiment_id

    client = connect(registry_env)
    version_artifact = client.get_model_artifact(model, "1")
    logs = all_pages(client.get_experiment_run_logs(run_id=run.run_id))
    assert version_artifact.id in {log.id for log in logs if isinstance(log, ModelArtifact)}
    assert experiments.get_run(registry_env, run.run_id).registered_as == f"{model} 1"


def test_a_failed_link_leaves_the_registration_standing(
    registry_env, experiment, tmp_path, monkeypatch, caplog
):
    tracked_bundle(registry_env, tmp_path / "b", experiment)

    def broken(*_args, **_kwargs):
        from jukebox.registry.errors import RegistryError

        raise RegistryError("the registry went away")

    monkeypatch.setattr(experiments, "link_version", broken)
    model = f"m-{experiment}"
    with pytest.warns(UserWarning, match="is registered, but linking it"):
        info = register_bundle(tmp_path / "b", model, "1", settings=registry_env)
    assert info.complete and info.version == "1"
    from jukebox.registry.versions import get_version

    assert get_version(model, "1", registry_env).complete


def test_a_bundle_without_a_run_registers_as_before(registry_env, experiment, tmp_path):
    make_tiny_bundle(tmp_path / "b", seed=7)
    info = register_bundle(tmp_path / "b", f"m-{experiment}", "1", settings=registry_env)
    assert "experiment.run_id" not in info.properties


def test_a_run_this_registry_does_not_hold_is_not_linked(registry_env, experiment, tmp_path):
    from jukebox.model.runs import save_run_ref

    make_tiny_bundle(tmp_path / "b", seed=8)
    elsewhere = {"experiment": "jukebox", "experiment_id": "999", "run_id": "99999", "name": "x"}
    save_run_ref(tmp_path / "b", elsewhere)  # trained against another registry
    with pytest.warns(UserWarning, match="is not in this registry"):
        info = register_bundle(tmp_path / "b", f"m-{experiment}", "1", settings=registry_env)
    assert info.complete and "experiment.run_id" not in info.properties
