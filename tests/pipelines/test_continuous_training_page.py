"""The continuous-training switch of the Data versions page (AppTest), on a real git + DVC
repository: what it says of the versions made while it was off, and "From now on"."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from jukebox.config import load_settings
from jukebox.data.schema import CHART_COUNTRIES
from jukebox.data.store import save_current
from jukebox.data.synthetic import generate
from jukebox.data.versions import version_current
from jukebox.pipelines import automation, local
from jukebox.pipelines.records import list_runs

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(tmp_path, monkeypatch):
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path))
    settings = load_settings()
    yield settings
    from jukebox.registry.server.process import stop_server

    automation.switch_off(settings)
    for run in list_runs(settings):
        if not local.refresh(settings, run).finished:
            local.stop(settings, run)
    stop_server(settings)  # the page lists the models trained on each version: it starts one


def made(settings, seed: int, message: str):
    save_current(generate(300, seed, n_days=10, countries=CHART_COUNTRIES[:6]), settings)
    return version_current(settings, message)


@pytest.mark.slow  # DVC versions, then the page, which starts the embedded registry
def test_switching_on_from_now_on_skips_the_versions_made_while_it_was_off(settings):
    made(settings, 1, "first charts")
    automation.switch_on(settings, start=False)  # on once: "first charts" is history
    automation.switch_off(settings)
    while_off = made(settings, 2, "made while it was off")

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/data_versions.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("1 data version made while it was off" in c.value for c in at.caption)
    (from_now_on,) = [c for c in at.checkbox if c.label == "From now on"]
    from_now_on.check()
    at.toggle[0].set_value(True)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    state = automation.read_state(settings)
    assert state.enabled
    assert while_off.commit in state.history
    assert automation.waiting_versions(settings) == []
