"""Issue 17: Home, Predict and the sidebar speak to a stakeholder; the details stay one click
away for those who need them."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from jukebox.config import ServiceStatus
from jukebox.ui.home import accuracy_context
from jukebox.ui.sidebar import where_it_runs
from jukebox.ui.song_words import DIALS, no_match_sentence

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_the_sidebar_says_where_things_run_and_keeps_paths_one_click_away(tmp_path, monkeypatch):
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path))
    for name in ("MODEL_REGISTRY_URL", "AWS_S3_ENDPOINT", "KFP_HOST", "TRUSTYAI_URL"):
        monkeypatch.delenv(name, raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    sidebar = " ".join(e.value for e in [*at.sidebar.markdown, *at.sidebar.caption])
    assert "Everything runs on this computer" in sidebar
    assert "registry.sqlite" not in sidebar and str(tmp_path) not in sidebar
    at.sidebar.button(key="connections").click().run()
    assert not at.exception
    details = " ".join(m.value for m in at.markdown)
    assert "registry.sqlite" in details and "kfp.local" in details


def test_where_it_runs_names_the_remote_services():
    local, remote = ServiceStatus("Registry", False, "x"), ServiceStatus("Serving", True, "y")
    assert where_it_runs([local]) == "Everything runs on this computer."
    assert "serving" in where_it_runs([local, remote]) and "this computer" in where_it_runs(
        [local, remote]
    )
    assert where_it_runs([remote]) == "Every service runs elsewhere."


def test_accuracy_gets_chance_and_the_best_possible_beside_it():
    sentence = accuracy_context(72, 0.31)
    assert "72 countries" in sentence and "1.4%" in sentence and "31%" in sentence
    assert "best possible" not in accuracy_context(72, None)
    assert accuracy_context(None, None) == ""


def test_units_are_never_an_abbreviation_alone():
    assert DIALS["tempo"].unit_label == "beats per minute, BPM"
    assert DIALS["loudness"].unit_label == "decibels, dB"


def test_a_search_that_finds_nothing_says_why_and_what_is_there():
    invented = no_match_sentence("Blinding Lights", ["Echo Rain", "Velvet"], invented=True)
    assert "invented" in invented and "“Echo Rain”" in invented and "real songs" in invented
    real = no_match_sentence("zzz", ["Flowers", "Espresso"])
    assert "fewer words" in real and "“Flowers”" in real and "invented" not in real
