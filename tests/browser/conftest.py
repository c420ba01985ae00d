"""Fixtures for browser tests: the app served for real, and headless Chromium to drive it.

``app_server`` starts ``streamlit run app.py`` on a free local port, with ``JUKEBOX_HOME`` in a
temporary directory holding a small data set made by the CLI, and stops it after the session.
``page`` is a fresh browser page that records every request it makes into ``requests_made``, so a
test can prove nothing tried to leave the machine (``harness.outside_requests``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.harness import CHROMIUM, AppServer, generate_data, launch_chromium


@pytest.fixture(scope="session")
def app_home(tmp_path_factory) -> Path:
    """JUKEBOX_HOME of the served app, holding a small generated data set."""
    home = tmp_path_factory.mktemp("jukebox-home")
    generate_data(home)
    return home


@pytest.fixture(scope="session")
def app_server(app_home, tmp_path_factory) -> Iterator[str]:
    """Base URL of the app, served by streamlit on a free local port for the whole session."""
    server = AppServer(app_home, tmp_path_factory.mktemp("logs") / "streamlit.log").start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium through Playwright (never a browser download)."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium package.")
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run browser tests.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def requests_made() -> list[str]:
    """Every URL the ``page`` asked for, in order."""
    return []


@pytest.fixture
def page(browser, requests_made):
    """A fresh page (1400 x 1000) that records each request into ``requests_made``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.on("request", lambda request: requests_made.append(request.url))
    try:
        yield page
    finally:
        context.close()
