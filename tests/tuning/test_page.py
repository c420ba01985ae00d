"""The Search page: defaults, a bad range said in a sentence, a running search's trials and its
Stop button, a finished search's best and gate verdict."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from jukebox.jobs import kill_job, list_jobs, start_job
from jukebox.tuning.jobs import KIND, STOP_FILE, update_status
from jukebox.tuning.space import SearchSpace
from tests.tuning.test_figures import TRIALS

ROOT = Path(__file__).resolve().parents[2]


def page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / "search.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def by_label(widgets, label):
    matches = [w for w in widgets if w.label == label]
    assert matches, f"no widget labelled {label!r} in {[w.label for w in widgets]}"
    return matches[0]


@pytest.fixture
def home(jukebox_home):
    from jukebox.config import load_settings

    return load_settings()


@pytest.fixture
def fake_search(home):
    """A live process standing for a search job, whose status the test writes."""
    job = start_job(home, KIND, ["-c", "import time; time.sleep(120)"])
    yield job
    kill_job(job)


def test_the_page_shows_the_default_ranges_and_no_search(home):
    at = page()
    defaults = SearchSpace()
    assert by_label(at.number_input, "Width from").value == defaults.width[0]
    assert by_label(at.number_input, "Learning rate to").value == pytest.approx(
        defaults.learning_rate[1]
    )
    assert any("No search yet" in i.value for i in at.info)


def test_a_bad_range_is_one_sentence_and_nothing_starts(home):
    at = page()
    by_label(at.number_input, "Width from").set_value(64)
    by_label(at.number_input, "Width to").set_value(8)
    by_label(at.button, "Start search").click()
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "width goes from 64 down to 8: give the lower bound first."
    ]
    assert list_jobs(home, KIND) == []


def test_a_running_search_shows_its_trials_and_stops_on_request(home, fake_search):
    update_status(
        fake_search.dir,
        state="running",
        phase="searching",
        trials_planned=5,
        trials=TRIALS,
        best=TRIALS[2],
        current={"number": 3, "params": {}, "epoch": 2, "epochs": 3, "progress": 0.5},
    )
    at = page()
    progress = at.get("progress")
    assert progress and "Trial 3 (3 of 5 done): epoch 2/at most 3" in progress[0].proto.text
    assert any("Best: trial 2" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 1
    assert len(at.dataframe) == 1 and len(at.dataframe[0].value) == 3
    by_label(at.button, "Stop").click()
    at.run()
    assert not at.exception
    assert (fake_search.dir / STOP_FILE).exists()


@pytest.mark.skipif(
    "app_pages/experiments.py" not in (ROOT / "app.py").read_text(),
    reason="links to the Experiments page, which is added on its own branch",
)
def test_a_finished_search_shows_the_best_and_the_gates_verdict(home, fake_search):
    update_status(
        fake_search.dir,
        state="done",
        phase="finished",
        experiment="search-x",
        trials_planned=3,
        trials=TRIALS,
        best=TRIALS[2],
        accuracy=0.31,
        verified=True,
        model_name="jukebox",
        gate="No production version of jukebox to compare with: registering.",
        version="4",
    )
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)  # for the page link
    at.run()
    at.switch_page("app_pages/search.py")
    at.run()
    assert not at.exception, at.exception
    assert any("Finished: 3 trial(s)." in s.value for s in at.success)
    assert any("Registered jukebox version 4." in s.value for s in at.success)
    assert any("test accuracy **0.3100**" in m.value for m in at.markdown)
    (link,) = [x for x in at.get("page_link") if "experiments" in x.proto.page]
    assert "search-x" in link.proto.label
