"""Issue 17, in a real browser: a stakeholder goes from Home to an answer in at most three
clicks, picking a song by typing its name, and sees the most likely country on the map.

The app is served from a home of its own (a small synthetic data set and a model deployed by
the library), so this does not depend on the golden path having run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from jukebox.config import load_settings
from jukebox.data.schema import CHART_COUNTRIES
from tests.browser.harness import AppServer, generate_data, outside_requests, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


@pytest.fixture(scope="module")
def stakeholder_home(tmp_path_factory) -> Iterator[Path]:
    """A home with a small synthetic data set and a model over all 72 countries answering."""
    from jukebox.serving import deploy
    from tests.bundles import make_tiny_bundle

    home = tmp_path_factory.mktemp("stakeholder-home")
    generate_data(home, songs=300, days=5)
    settings = load_settings({"JUKEBOX_HOME": str(home)})
    bundle = make_tiny_bundle(home.parent / "bundle", labels=CHART_COUNTRIES, seed=3)
    deploy.deploy_local(settings, "jukebox", bundle_dir=bundle.path, version="1")
    try:
        yield home
    finally:
        for deployment in deploy.list_deployments(settings):
            deploy.stop_deployment(settings, deployment.name)


@pytest.fixture(scope="module")
def stakeholder_app(stakeholder_home, tmp_path_factory) -> Iterator[str]:
    server = AppServer(stakeholder_home, tmp_path_factory.mktemp("logs") / "streamlit.log")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("JUKEBOX_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return Path(folder)
    return tmp_path_factory.mktemp("stakeholder-shots")


def test_home_to_an_answer_in_three_clicks_by_typing_a_song(
    stakeholder_app, stakeholder_home, page, requests_made, shots
):
    from jukebox.data import catalogue

    songs = catalogue.load_catalogue(
        catalogue.catalogue_path(load_settings({"JUKEBOX_HOME": str(stakeholder_home)}))
    )
    title = catalogue.search_examples(songs)[0]  # a song the page itself suggests
    clicks = 0
    try:
        page.goto(stakeholder_app)
        ask = page.get_by_role("button", name="Ask the model where a song would chart")
        ask.wait_for(timeout=120_000)
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert "registry.sqlite" not in sidebar and "kfp.local" not in sidebar

        ask.click()
        clicks += 1
        page.get_by_role("heading", name="Where will this song chart?").wait_for(timeout=60_000)
        wait_until_idle(page)
        # Typing alone picks the best match: no Enter, no click in the list.
        search = page.get_by_role("textbox", name="Search by title or artist")
        search.press_sequentially(title, delay=40)
        song = (
            page.locator(
                '[data-testid="stElementContainer"]:not([data-stale="true"]) '
                '[data-testid="stSelectbox"]'
            )
            .filter(has_text="Song or artist")
            .locator("input")
        )
        expect(song).to_have_value(re.compile("^" + re.escape(title)), timeout=60_000)
        wait_until_idle(page)

        page.get_by_role("button", name=re.compile(r"Predict$")).click()
        clicks += 1
        headline = page.get_by_text("Most likely to chart in")
        headline.wait_for(timeout=60_000)
        wait_until_idle(page)
        top = re.search(r"in (.+) \((\d+\.\d)%\)", headline.inner_text())
        assert top, headline.inner_text()

        # The most likely country is starred and named on the map, inside the map's frame.
        label = page.locator(".geo text", has_text=f"Most likely: {top.group(1)}")
        label.wait_for(timeout=60_000)
        box, frame = label.bounding_box(), page.locator(".geo").first.bounding_box()
        assert box and frame and box["width"] > 0
        assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"]
        # Tiny countries (Luxembourg, Singapore, ...) are dots, so every country shows.
        assert page.locator(".geo .scattergeo path.point").count() >= 5
        assert "times that" in page.get_by_text("a blind guess would give each").inner_text()
        page.screenshot(path=str(shots / "stakeholder-answer.png"), full_page=True)

        assert clicks <= 3
        assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
        assert outside_requests(requests_made) == []
    except Exception:
        page.screenshot(path=str(shots / "stakeholder-failure.png"), full_page=True)
        print(f"screenshots in {shots}")
        raise
