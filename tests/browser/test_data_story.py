"""The data's story in a real browser, on an app of its own (its own JUKEBOX_HOME, so nothing is
shared with the golden path): version the data, make each simulated change from the Data
versions page (each becomes a new version through the data pipeline and keeps the charts'
invariants), then revert from the page to the first version."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jukebox.config import load_settings
from tests.browser.harness import AppServer, generate_data, outside_requests, wait_until_idle
from tests.data.charts import DATE, assert_full_charts, new_songs_per_day

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(1200)]

ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
SONGS = 3_000  # 72 countries' top 50 over 30 days, every chart day full, ~200 newcomers
APPENDED = 30
PIPELINE = 300  # s: a data pipeline run on a loaded 2-core machine


@pytest.fixture(scope="module")
def story_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("data-story-home")
    generate_data(home, songs=SONGS)
    return home


@pytest.fixture(scope="module")
def story_server(story_home, tmp_path_factory) -> Iterator[str]:
    server = AppServer(story_home, tmp_path_factory.mktemp("logs") / "streamlit.log").start()
    try:
        yield server.url
    finally:
        server.stop()
        from jukebox.registry.server import stop_server

        stop_server(load_settings({"JUKEBOX_HOME": str(story_home)}))


def open_data_versions(page, url: str) -> None:
    page.goto(f"{url}/data_versions")
    page.get_by_role("heading", name="Data versions").first.wait_for(timeout=120_000)
    wait_until_idle(page, timeout=180)


def no_errors(page, requests_made) -> None:
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
    assert outside_requests(requests_made) == []


def next_version(settings, count: int):
    """Wait for the data pipeline's version number ``count``; the versions, newest first."""
    from jukebox.data.versions import list_versions

    deadline = time.monotonic() + PIPELINE
    while len(versions := list_versions(settings)) < count:
        assert time.monotonic() < deadline, f"no data version {count} after {PIPELINE} s"
        time.sleep(1)
    return versions


def simulate(page, url: str, change: str, set_up=None) -> None:
    """Make ``change`` from the page, freshly opened: the version the last change made adds a
    section above the button, which a page still drawing it would move under the click."""
    open_data_versions(page, url)
    page.get_by_role("tab", name="Simulate a change").click()
    page.get_by_text(change, exact=True).click()
    wait_until_idle(page)
    if set_up:
        set_up()
    page.get_by_role("button", name="Make the change and version it").click()
    page.get_by_text("The data pipeline runs").wait_for(timeout=120_000)


def test_each_change_keeps_the_charts_and_a_revert_undoes_them(
    story_server, story_home, page, requests_made, tmp_path
):
    try:
        tell_the_story(story_server, story_home, page, requests_made)
    except Exception:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        print(f"what the page showed: {tmp_path / 'failure.png'}")
        raise


def tell_the_story(story_server, story_home, page, requests_made) -> None:
    from jukebox.data.versions import diff_versions, read_version

    settings = load_settings({"JUKEBOX_HOME": str(story_home)})
    open_data_versions(page, story_server)
    page.get_by_text("No data version yet").wait_for()
    page.get_by_role("tab", name="Version the current data set").click()
    page.get_by_role("button", name="Version the current data set").click()
    (first,) = next_version(settings, 1)
    wait_until_idle(page)
    no_errors(page, requests_made)
    before = read_version(settings, first.commit)
    assert_full_charts(before, 50)

    # Append: new chart days, full, with songs entering at the data's own rate; nothing removed.
    def thirty_songs() -> None:
        box = page.get_by_label("Songs", exact=True)
        box.click()
        box.press("ControlOrMeta+a")
        box.press_sequentially(str(APPENDED))
        box.press("Tab")
        wait_until_idle(page)

    simulate(page, story_server, "Append new songs", thirty_songs)
    appended = next_version(settings, 2)[0]
    data = read_version(settings, appended.commit)
    assert_full_charts(data, 50)
    said = diff_versions(settings, first.commit, appended.commit).summary()
    assert (said["songs_added"], said["songs_removed"], said["rankings_removed"]) == (30, 0, 0)
    entering = new_songs_per_day(data)
    new_days = entering[entering.index > before.rankings[DATE].max()]
    lately = new_songs_per_day(before).tail(10)
    assert lately.min() <= new_days.mean() <= lately.max()
    assert f"{APPENDED} songs appended" in appended.message

    # Drop chart rows: whole daily charts go; every chart left is full, no song goes.
    simulate(page, story_server, "Drop chart rows")
    dropped = next_version(settings, 3)[0]
    assert_full_charts(read_version(settings, dropped.commit), 50)
    said = diff_versions(settings, appended.commit, dropped.commit).summary()
    assert said["rankings_removed"] > 0 and said["songs_removed"] == said["rankings_added"] == 0

    # Shift a feature: the charts stay as they were, one feature of some songs moves.
    simulate(page, story_server, "Shift a feature")
    shifted = next_version(settings, 4)[0]
    assert_full_charts(read_version(settings, shifted.commit), 50)
    said = diff_versions(settings, dropped.commit, shifted.commit).summary()
    assert said["largest_shift"] == "energy" and said["songs_changed"] > 0
    assert said["rankings_added"] == said["rankings_removed"] == said["songs_removed"] == 0

    # Revert from the page to the first version: its content becomes a new, current version.
    open_data_versions(page, story_server)
    no_errors(page, requests_made)
    picker = page.locator('[data-testid="stSelectbox"]').filter(
        has_text="Make an older version current again"
    )
    picker.locator("input").first.click()
    page.get_by_role("option", name=first.short).click()
    wait_until_idle(page)
    page.get_by_role("button", name="Revert to it").click()
    page.get_by_text(f"Reverted to {first.short}").wait_for(timeout=120_000)
    wait_until_idle(page)
    no_errors(page, requests_made)
    reverted = next_version(settings, 5)[0]
    assert reverted.md5 == first.md5
    page.get_by_text(f"the new version {reverted.short}").wait_for()
    history = page.locator('[data-testid="stDataFrame"]').first
    history.locator("table").first.wait_for(state="attached", timeout=30_000)
    cells = history.locator("table td").all_text_contents()
    assert reverted.short in cells[:3], cells[:10]  # the first row: the current version
