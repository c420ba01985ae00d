"""What ``pipeline`` and ``train`` refuse before a run starts, what ``pipeline schedule`` and
``pipeline show`` do with their flags, through the CLI's own entry point."""

from __future__ import annotations

import re

import pytest

from jukebox.__main__ import main
from jukebox.config import load_settings
from jukebox.pipelines import automation, local
from jukebox.pipelines.params import DataRunParams, RunParams, RunParamsError
from jukebox.pipelines.records import list_runs


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path))
    for name in ("KFP_HOST", "KFP_TOKEN", "MODEL_REGISTRY_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    yield settings
    for run in list_runs(settings):  # what a test started: it must not go on training
        if not local.refresh(settings, run).finished:
            local.stop(settings, run)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["pipeline", "run", "--songs", "-5"], "songs must be a whole number from 50"),
        (
            ["pipeline", "run", "--songs", "300", "--days", "-3"],
            r"days must be .* from 1 .*\(now -3\)",
        ),
        (
            ["pipeline", "run", "--pipeline", "data", "--songs", "300", "--countries", "99"],
            r"countries must be a whole number from 1 to 72 \(now 99\)",
        ),
        (["pipeline", "schedule", "--every", "60", "--songs", "300", "--data-seed", "-1"], "seed"),
        (["train", "--songs", "-5", "--epochs", "1"], "songs must be a whole number from 50"),
    ],
)
def test_out_of_range_data_flags_are_refused_before_anything_runs(settings, capsys, flags, message):
    assert main(flags) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and re.search(message, error), error
    assert list_runs(settings) == []
    assert automation.read_state(settings).schedules == []
    assert not settings.models_dir.exists() or not any(settings.models_dir.iterdir())


def test_the_page_and_the_cli_share_the_data_checks():
    with pytest.raises(RunParamsError, match="songs"):
        RunParams(source="synthetic", source_options={"songs": 10})
    with pytest.raises(RunParamsError, match="songs"):
        DataRunParams(source="synthetic", source_options={"songs": 2.5})
    # JSON carries whole numbers as floats; 0 days or countries mean the defaults.
    RunParams(source="synthetic", source_options={"songs": 300.0, "days": 0, "countries": 0})


def test_an_explicit_version_the_registry_holds_is_refused_before_training(
    settings, monkeypatch, capsys
):
    from jukebox.registry.register import register_bundle
    from tests.bundles import make_tiny_bundle
    from tests.registry.conftest import registry_in_thread

    with registry_in_thread(settings.home / "registry.sqlite") as url:
        monkeypatch.setenv("MODEL_REGISTRY_URL", url)
        settings = load_settings()
        register_bundle(make_tiny_bundle(settings.home / "bundle").path, "taken", "1")
        flags = ["--model-name", "taken", "--songs", "300", "--epochs", "1"]
        assert main(["pipeline", "run", *flags, "--version", "1"]) == 2
        assert "'taken' already has a version 1" in capsys.readouterr().err
        assert list_runs(settings) == []
        from jukebox.pipelines.params import check_version_free

        check_version_free(RunParams(model_name="taken", version="2"), settings)
        check_version_free(RunParams(model_name="taken", version="next"), settings)
        check_version_free(RunParams(model_name="never-registered", version="1"), settings)


def test_pipeline_schedule_with_training_schedules_the_training_pipeline(settings):
    flags = ["--every", "60", "--epochs", "1", "--width", "8", "--model-name", "nightly"]
    assert main(["pipeline", "schedule", "--pipeline", "training", *flags]) == 0
    assert main(["pipeline", "schedule", "--songs", "300", "--every", "60"]) == 0
    training, data = automation.read_state(settings).schedules
    assert (training.pipeline, data.pipeline) == ("jukebox-training", "jukebox-data")
    assert isinstance(training.params(), RunParams)
    assert training.params().training.epochs == 1
    assert isinstance(data.params(), DataRunParams)
    automation.remove_schedule(settings, data.id)
    (started,) = automation.tick(settings, now=training.created + 61)
    assert started.pipeline == "jukebox-training"
    assert started.arguments["model_name"] == "nightly"
    assert started.arguments["hyperparameters"]["width"] == 8


def test_pipeline_show_shows_a_run_on_the_cluster(settings, monkeypatch, capsys):
    from jukebox.pipelines import remote
    from jukebox.pipelines.training import compile_pipeline
    from tests.pipelines.kfp_standin import StandIn

    server = StandIn(token="t", polls_until_done=2)
    server.start()
    try:
        monkeypatch.setenv("KFP_HOST", server.url)
        monkeypatch.setenv("KFP_TOKEN", "t")
        settings = load_settings()
        package = compile_pipeline(settings.home / "training.yaml")
        run = remote.submit_run(settings, package, RunParams().arguments(), run_name="shown")
        assert main(["pipeline", "show", run.id]) == 0
        shown = capsys.readouterr().out
        assert f"Run {run.id} on {server.url}" in shown and "shown" in shown
        for task in ("fetch-data", "train", "verify-onnx"):
            assert f"  {task} " in shown
        assert main(["pipeline", "show", "no-such-run"]) == 2
        assert "There is no run 'no-such-run'" in capsys.readouterr().err
    finally:
        server.stop()


def test_a_pipeline_run_draws_its_own_seed_unless_given_one():
    """With the Train page's seed on the same data a run would train that very model again,
    which the registry refuses to register twice: so a run names a seed of its own."""
    from jukebox.__main__ import build_parser
    from jukebox.cli.pipeline import params_of

    parser = build_parser()
    drawn = {params_of(parser.parse_args(["pipeline", "run"])).training.seed for _ in range(5)}
    assert len(drawn) > 1
    given = params_of(parser.parse_args(["pipeline", "run", "--seed", "7"]))
    assert given.training.seed == 7
