"""Explore in a real browser: the map draws its countries and the heatmap draws, offline,
and a filter redraws them."""

import pytest

from tests.browser.harness import outside_requests, timed_rerun, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def open_explore(page, base_url: str) -> None:
    """Open the app and go to Explore the way a person does, through the sidebar."""
    page.goto(base_url)
    page.get_by_text("The model's life").wait_for(timeout=120_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Explore").click()
    page.locator(".geo path.choroplethlocation").first.wait_for(timeout=120_000)
    wait_until_idle(page)
    assert page.locator('[data-testid="stSidebar"]').get_by_text("Connections").count() == 1


def open_tab(page, label: str) -> None:
    """Explore draws only the open tab; opening one reruns the page."""
    timed_rerun(page, lambda: page.get_by_role("tab", name=label).click())
    wait_until_idle(page)


def test_explore_draws_and_filters_without_leaving_the_machine(app_server, page, requests_made):
    open_explore(page, app_server)

    # Country shapes, not only a colour bar: 72 chart countries, all but the few too small
    # for the 110m outlines (drawn as dots), and the borders layer from the served outlines.
    shapes = page.locator(".geo path.choroplethlocation")
    assert shapes.count() >= 65
    assert page.locator(".geo .layer.countries path").count() >= 1
    assert page.locator(".geo .scattergeo path.point").count() >= 1  # Hong Kong, Singapore
    box = shapes.nth(0).bounding_box()
    assert box and box["width"] > 0 and box["height"] > 0

    assert page.locator(ERRORS).count() == 0
    assert any(url.endswith("/app/static/world_110m.json") for url in requests_made)

    open_tab(page, "Correlations")
    page.locator(".heatmaplayer .hm image").first.wait_for(timeout=60_000)
    heatmap_labels = page.locator(".heatmaplayer .heatmap-label")
    assert heatmap_labels.count() == 15 * 15  # 13 features, popularity, country
    assert page.locator(ERRORS).count() == 0
    open_tab(page, "Map")

    # Issue 11: the map opens on something that differs between countries, and a colouring
    # chosen survives the filter change below.
    colour = page.locator('[data-testid="stSelectbox"]', has_text="Colour countries by")
    assert colour.locator("input").input_value() not in ("Chart entries", "")
    chosen = next(
        c
        for c in ("Mean valence", "Mean tempo (BPM)")
        if c != colour.locator("input").input_value()
    )
    colour.locator("input").click()
    colour.locator("input").fill(chosen)
    timed_rerun(page, lambda: page.keyboard.press("Enter"))
    page.keyboard.press("Escape")
    wait_until_idle(page)

    # A filter redraws the map: one country picked, one shape coloured.
    countries = page.locator('[data-testid="stMultiSelect"]', has_text="Countries")
    countries.locator("input").first.click()
    countries.locator("input").first.fill("Germany")
    timed_rerun(page, lambda: page.keyboard.press("Enter"))
    page.keyboard.press("Escape")
    wait_until_idle(page)
    page.wait_for_function(
        "() => document.querySelectorAll('.geo path.choroplethlocation').length === 1",
        timeout=60_000,
    )
    assert "in 1 country" in page.get_by_text("In view:").inner_text()
    assert colour.locator("input").input_value() == chosen
    assert page.locator(ERRORS).count() == 0
    assert outside_requests(requests_made) == []
