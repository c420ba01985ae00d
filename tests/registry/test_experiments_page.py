"""The Experiments page, driven by Streamlit's AppTest against a real registry server of its
own, with runs logged as trainings log them (tiny bundles with made-up figures)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from jukebox.config import load_settings
from jukebox.model.fit import TrainingEvent
from jukebox.model.runs import TrainingRecord
from jukebox.registry import experiments
from jukebox.registry.tracking import finish_training, training_run
from tests.bundles import make_tiny_bundle
from tests.registry.conftest import registry_in_thread

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def page_env(monkeypatch, jukebox_home, tmp_path):
    """A registry of this test's own, so the page sees only the runs it logs."""
    with registry_in_thread(tmp_path / "r.sqlite") as url:
        monkeypatch.setenv("MODEL_REGISTRY_URL", url)
        yield load_settings()


def log_training(settings, name, *, width, seed, experiment="jukebox", curve=(0.3, 0.5)):
    """A 'training' of ``name`` logged as a run, its bundle where trainings leave them."""
    path = settings.models_dir / name
    bundle = make_tiny_bundle(path, seed=seed)
    params = {"width": width, "depth": 2, "learning_rate": 0.003, "epochs": len(curve)}
    with training_run(
        settings, params=params, source="page", experiment=experiment, name=name
    ) as tracker:
        for epoch, value in enumerate(curve, start=1):
            tracker(TrainingEvent("epoch_end", epoch, len(curve), 1, 1, 1.0 / epoch,
                                  {"val_accuracy": value, "val_loss": 1 - value}))  # fmt: skip
        finish_training(settings, tracker, TrainingRecord(name, path, bundle.report))
    return path


def run_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)  # in the app: its page links resolve
    at.switch_page("app_pages/experiments.py")
    at.run()
    assert not at.exception, at.exception
    return at


def said(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [i.value for i in at.info] + [s.value for s in at.success]
    parts += [w.value for w in at.warning] + [e.value for e in at.error]
    return "\n".join(str(p) for p in parts)


def test_no_runs_yet_says_how_to_make_one(page_env):
    at = run_page()
    assert "No experiment runs yet: train a model on the Train page" in said(at)
    assert not at.dataframe


def test_runs_are_listed_filtered_and_compared(page_env):
    log_training(page_env, "small", width=8, seed=1, curve=(0.2, 0.3))
    log_training(page_env, "wide", width=64, seed=2, curve=(0.3, 0.5, 0.6))
    log_training(page_env, "trial-1", width=16, seed=3, experiment="search-1")
    at = run_page()
    picker = at.selectbox[0]
    assert picker.label == "Experiment" and picker.value == "jukebox"
    assert set(picker.options) == {"jukebox", "search-1"}
    runs = at.dataframe[0].value
    assert list(runs["run"]) == ["wide", "small"]  # newest first
    assert list(runs["width"]) == [64, 8] and list(runs["val_accuracy"]) == [0.6, 0.3]
    assert list(runs["test accuracy"]) == [0.5, 0.5]
    assert set(runs["source"]) == {"page"} and set(runs["status"]) == {"FINISHED"}

    # Two runs compared by default: curves, parameters side by side, parallel coordinates.
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # curves and parallel coordinates
    (params,) = [d for d in at.dataframe[1:] if "wide" in d.value.columns]
    assert params.value.loc["width"].tolist() == ["64", "8"]
    by_label = {r.label: r for r in at.radio}
    by_label["Curve"].set_value("val_loss")
    at.run()
    assert not at.exception, at.exception

    at.text_input[0].set_value("width=8")
    at.run()
    assert list(at.dataframe[0].value["run"]) == ["small"]
    assert "Choose two or more runs" in said(at)

    at.text_input[0].set_value("nothing-like-this")
    at.run()
    assert "None of the 2 runs matches the filter" in said(at)

    at.text_input[0].set_value("")
    at.selectbox[0].set_value("search-1")
    at.run()
    assert list(at.dataframe[0].value["run"]) == ["trial-1"]


def test_register_a_run_through_the_gate_links_it(page_env):
    from jukebox.registry.versions import get_version

    log_training(page_env, "keeper", width=8, seed=4)
    at = run_page()
    (name,) = [t for t in at.text_input if t.label == "Model name"]
    name.set_value("exp-page")
    [submit] = [b for b in at.get("button") if getattr(b, "label", "") == "Register"]
    submit.click()
    at.run()
    assert not at.exception, at.exception
    assert "No production version of exp-page to compare with: registering." in said(at)
    assert "Registered as exp-page version 1, linked to run keeper." in said(at)
    version = get_version("exp-page", "1", page_env)
    (run,) = experiments.list_runs(page_env)
    assert version.properties["experiment.run_id"] == run.run_id
    assert run.registered_as == "exp-page 1"
    assert list(at.dataframe[0].value["registered as"]) == ["exp-page 1"]


def test_a_run_whose_bundle_is_gone_says_so(page_env):
    path = log_training(page_env, "gone", width=8, seed=5)
    shutil.rmtree(path)
    at = run_page()
    assert "The run's training directory" in said(at) and "is gone" in said(at)
    assert not [b for b in at.get("button") if getattr(b, "label", "") == "Register"]
