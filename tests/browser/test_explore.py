"""Explore in a real browser: the map draws its countries and the heatmap draws, offline,
and a filter redraws them."""

import pytest

from tests.browser.harness import outside_requests, timed_rerun, wait_until_idle

pytestmark = pytest.mark.browser

ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def open_explore(page, base_url: str) -> None:
    page.goto(f"{base_url}/explore")
    page.locator(".geo path.choroplethlocation").first.wait_for(timeout=120_000)
    page.locator(".heatmaplayer .hm image").first.wait_for(timeout=60_000)
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

    heatmap_labels = page.locator(".heatmaplayer .heatmap-label")
    assert heatmap_labels.count() == 15 * 15  # 13 features, popularity, country

    assert page.locator(ERRORS).count() == 0
    assert any(url.endswith("/app/static/world_110m.json") for url in requests_made)

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
    assert page.locator(ERRORS).count() == 0
    assert outside_requests(requests_made) == []
