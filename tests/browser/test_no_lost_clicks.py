"""No lost clicks, in a real browser on an app of its own: Enter in a form field starts nothing
(only the button does); Mark for production, Archive and Restore on one pick of the Registry,
each saying what it did; a data pipeline run drawn as a data pipeline run."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from jukebox.config import load_settings
from tests.browser.harness import AppServer, generate_data, outside_requests, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]

ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A home with a small data set, two registered versions and a recorded data pipeline run."""
    from jukebox.pipelines.params import DataRunParams
    from jukebox.pipelines.records import create_run, record_task, update_run
    from jukebox.registry.register import register_bundle
    from jukebox.registry.server.process import stop_server
    from tests.bundles import make_tiny_bundle

    home = tmp_path_factory.mktemp("no-lost-clicks")
    generate_data(home, songs=500, days=10)
    settings = load_settings({"JUKEBOX_HOME": str(home)})
    for version in (1, 2):
        bundle = make_tiny_bundle(home / f"bundle-{version}", seed=version)
        register_bundle(bundle.path, "clicks", version, settings=settings)
    params = DataRunParams(source="synthetic", source_options={"songs": 300}, message="more")
    path = create_run(
        settings, "20260101-000000-data", params.arguments(), pipeline="jukebox-data"
    ).path
    for name in ("extract-data", "transform-data", "validate-data", "load-and-version"):
        record_task(path, name, state="succeeded", started=1.0, ended=2.0)
    record_task(path, "load-and-version", outputs={"changed": True, "data_commit": "d" * 40})
    record_task(path, "trigger-training", state="succeeded", started=2.0, ended=3.0)
    update_run(path, state="succeeded", ended=time.time(), new_data_version="d" * 40)
    yield home
    stop_server(settings)


@pytest.fixture(scope="module")
def app(home, tmp_path_factory):
    server = AppServer(home, tmp_path_factory.mktemp("logs") / "streamlit.log").start()
    try:
        yield server.url
    finally:
        server.stop()


def open_page(page, app: str, path: str, heading: str) -> None:
    page.goto(f"{app}/{path}")
    page.get_by_role("heading", name=heading).first.wait_for(timeout=120_000)
    wait_until_idle(page, timeout=120)


def no_errors(page, requests_made) -> None:
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
    assert outside_requests(requests_made) == []


FRESH = '[data-testid="stElementContainer"]:not([data-stale="true"])'


def button(page, name: str):
    """The button as the page shows it now, not a stale copy a rerun is about to remove."""
    return page.locator(FRESH).get_by_role("button", name=name, exact=True)


def said(page, text: str) -> None:
    page.get_by_text(text).first.wait_for(timeout=60_000)
    wait_until_idle(page)


def press_enter_in(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.click()
    box.press("ControlOrMeta+a")
    box.press_sequentially(value)
    box.press("Enter")
    page.wait_for_timeout(1500)  # time for a submit to start a run, had Enter submitted
    wait_until_idle(page, timeout=60)


def test_enter_in_a_form_field_starts_nothing(app, home, page, requests_made):
    from jukebox.model.runs import list_trainings
    from jukebox.pipelines.records import list_runs

    settings = load_settings({"JUKEBOX_HOME": str(home)})
    open_page(page, app, "train", "Train")
    press_enter_in(page, "Epochs", "3")
    open_page(page, app, "pipelines", "Pipelines")
    press_enter_in(page, "Epochs", "3")
    assert list_trainings(settings) == []
    assert [run.id for run in list_runs(settings)] == ["20260101-000000-data"]
    assert not any(settings.jobs_dir("train").glob("*"))  # no training job was started
    no_errors(page, requests_made)


def test_production_archive_and_restore_on_one_pick(app, page, requests_made):
    open_page(page, app, "registry", "Registry")
    picker = page.locator('[data-testid="stSelectbox"]').filter(has_text="Version").locator("input")
    expect(picker).to_have_value("v2")
    button(page, "Mark for production").click()
    said(page, "version 2 is now the production version")
    expect(page.get_by_text("State: production")).to_be_visible()

    picker.click()
    page.get_by_role("option", name="v1", exact=True).click()
    wait_until_idle(page)
    button(page, "Archive").click()
    said(page, "version 1 is archived")
    # The same pick, its label as it was, its state anew: the next click applies to it.
    expect(picker).to_have_value("v1")
    expect(page.get_by_text("State: archived")).to_be_visible()
    button(page, "Restore").click()
    said(page, "version 1 is live again")
    expect(page.get_by_text("State: live")).to_be_visible()
    no_errors(page, requests_made)


def test_a_data_pipeline_run_is_drawn_as_one(app, page, requests_made):
    open_page(page, app, "pipelines", "Pipelines")
    graph = page.locator('[data-testid="stPlotlyChart"]').first
    graph.wait_for(timeout=60_000)
    drawn = graph.inner_text()
    for task in ("extract-data", "transform-data", "validate-data", "load-and-version"):
        assert task in drawn
    assert "fetch-data" not in drawn and "pending" not in drawn
    no_errors(page, requests_made)
