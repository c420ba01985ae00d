"""The Data versions page through the app (AppTest), on a real git + DVC repository."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from jukebox.config import load_settings
from jukebox.data import changes
from jukebox.data.schema import CHART_COUNTRIES
from jukebox.data.store import clean_flagged, load_current, save_current
from jukebox.data.synthetic import generate
from jukebox.data.versions import list_versions, version_current

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _stop_the_registry(tmp_path):
    """The page lists the model versions trained on each data version: it starts the embedded
    registry on demand, which is stopped after each test."""
    yield
    from jukebox.registry.server.process import stop_server

    stop_server(load_settings({"JUKEBOX_HOME": str(tmp_path)}))


def page(home: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("JUKEBOX_HOME", str(home))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/data_versions.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


@pytest.fixture
def two_versions(tmp_path):
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    # Cleaned as `data load` would (versioning would drop the flagged songs itself, and say so).
    data = clean_flagged(generate(300, 4, n_days=10, countries=CHART_COUNTRIES[:6]))
    save_current(data, settings)
    version_current(settings, "first charts")
    shifted = clean_flagged(changes.shift_feature(data, "energy", 0.3, fraction=0.5))
    save_current(shifted, settings)
    version_current(settings, "energy up")
    return tmp_path, settings, [len(shifted.properties), len(data.properties)]


@pytest.mark.slow  # initialises a git + DVC repository, then the page
def test_a_new_home_says_how_to_make_a_version(tmp_path, monkeypatch):
    at = page(tmp_path, monkeypatch)
    assert any("No data version yet" in i.value for i in at.info)


@pytest.mark.slow  # two DVC versions, then the page
def test_history_diff_and_distributions_of_two_versions(two_versions, monkeypatch):
    home, settings, shifted_songs = two_versions
    at = page(home, monkeypatch)
    history = at.dataframe[0].value
    assert list(history["message"]) == ["energy up", "first charts"]
    assert list(history["songs (stored)"]) == shifted_songs
    assert list(history["current"]) == ["✓", ""]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Songs added"] == "0" and metrics["Chart rows added"] == "0"
    assert int(metrics["Songs changed"].replace(",", "")) > 100  # half the songs, energy moved
    # The feature that moved most is the one drawn first, both versions overlaid.
    (feature,) = [s for s in at.selectbox if s.label == "Feature"]
    assert feature.value == "energy"
    overlay = json.loads(at.get("plotly_chart")[1].proto.spec)
    assert [trace["type"] for trace in overlay["data"]] == ["bar", "bar"]
    # Versioning the current data set again makes nothing: it is the newest version.
    (button,) = [b for b in at.button if b.label == "Version the current data set"]
    button.click().run()
    assert any("already the newest version" in i.value for i in at.info)
    assert len(list_versions(settings)) == 2


@pytest.mark.slow
def test_a_simulated_change_goes_through_the_data_pipeline_to_a_new_version(
    two_versions, monkeypatch
):
    home, settings, _ = two_versions
    at = page(home, monkeypatch)
    (change,) = [r for r in at.radio if r.label == "Change"]
    change.set_value("Drop chart rows").run()
    (make,) = [b for b in at.button if b.label == "Make the change and version it"]
    make.click().run()
    assert not at.error, [e.value for e in at.error]
    assert any("The data pipeline runs" in s.value for s in at.success)
    deadline = time.monotonic() + 180
    while len(list_versions(settings)) < 3:
        assert time.monotonic() < deadline, "no new data version"
        time.sleep(1)
    newest = list_versions(settings)[0]
    assert "chart rows dropped" in newest.message
    assert len(load_current(settings).rankings) == newest.tables["song_rankings"].rows


@pytest.mark.slow  # two DVC versions, then the page
def test_a_link_may_name_the_version_by_any_printed_form(two_versions, monkeypatch):
    home, settings, _ = two_versions
    older = list_versions(settings)[1]
    monkeypatch.setenv("JUKEBOX_HOME", str(home))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/data_versions.py")
    at.query_params["version"] = older.md5[:12]  # as the page's own table prints it
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    (after,) = [s for s in at.selectbox if s.label == "To"]
    assert after.value == older.commit


@pytest.mark.slow  # two DVC versions, a revert, then the page again
def test_revert_from_the_page_makes_the_older_content_current(two_versions, monkeypatch):
    home, settings, _ = two_versions
    newest, older = list_versions(settings)
    at = page(home, monkeypatch)
    (target,) = [s for s in at.selectbox if s.label == "Make an older version current again"]
    assert target.value == older.commit  # the only older content there is
    (revert,) = [b for b in at.button if b.label == "Revert to it"]
    revert.click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    made = list_versions(settings)[0]
    assert made.md5 == older.md5 and made.commit not in (older.commit, newest.commit)
    said = " ".join(s.value for s in at.success)
    assert f"Reverted to {older.short}" in said and made.short in said
    history = at.dataframe[0].value
    assert list(history["version"]) == [made.short, newest.short, older.short]
    assert history["current"].iloc[0] == "✓"
    # The current data set is the reverted content, and what changed says so: the energy shift
    # is undone, nothing else.
    assert len(load_current(settings).properties) == older.tables["song_properties"].rows
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Songs added"] == metrics["Songs removed"] == "0"
    assert int(metrics["Songs changed"].replace(",", "")) > 100
    # Nothing older holds other content now: the newest is the only content left to revert to.
    (target,) = [s for s in at.selectbox if s.label == "Make an older version current again"]
    assert target.options == [ui_label(newest)]


def ui_label(version) -> str:
    from jukebox.ui.data_versions import version_label

    return version_label(version)


@pytest.mark.slow  # two DVC versions, then the page
def test_interactions_after_the_first_read_never_read_a_version_again(two_versions, monkeypatch):
    """Versions never change, so each is read once: picking another feature, or the same two
    versions again, is answered from memory (issue 17: every click re-read both, ~10 s)."""
    import jukebox.ui.data_versions as ui

    home, settings, _ = two_versions
    at = page(home, monkeypatch)

    def unreadable(settings, ref):
        raise AssertionError(f"version {ref} read again")

    monkeypatch.setattr(ui, "read_contents", unreadable)
    (feature,) = [s for s in at.selectbox if s.label == "Feature"]
    feature.set_value("valence").run()
    assert not at.exception, [e.value for e in at.exception]
    (before,) = [s for s in at.selectbox if s.label == "From"]
    (after,) = [s for s in at.selectbox if s.label == "To"]
    after.set_value(before.value)
    before.set_value(list_versions(settings)[0].commit).run()  # the same two, swapped
    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Songs changed"].replace(",", "")) > 100


@pytest.mark.slow  # three DVC versions, then the page
def test_a_version_never_looked_at_is_read_ahead(two_versions, monkeypatch):
    """After the first answer, the page reads the other versions in the background: picking one
    never looked at is answered from memory too."""
    import threading

    import jukebox.ui.data_versions as ui

    home, settings, _ = two_versions
    data = load_current(settings)
    save_current(
        clean_flagged(changes.shift_feature(data, "valence", -0.2, fraction=0.5)), settings
    )
    version_current(settings, "valence down")
    at = page(home, monkeypatch)
    for thread in threading.enumerate():
        if thread.name == "data-versions-read-ahead":
            thread.join(timeout=120)

    def unreadable(settings, ref):
        raise AssertionError(f"version {ref} read on a click")

    monkeypatch.setattr(ui, "read_contents", unreadable)
    oldest = list_versions(settings)[-1]
    (before,) = [s for s in at.selectbox if s.label == "From"]
    assert before.value != oldest.commit  # the page opened on the two newest
    before.set_value(oldest.commit).run()
    assert not at.exception, [e.value for e in at.exception]
    assert {m.label for m in at.metric} >= {"Songs changed"}
