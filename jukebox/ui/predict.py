"""Figures of the Predict page: a model's answer over every country, and two answers compared.

Pure functions (probabilities in, plotly figure out) so tests check them without a browser. Maps
come from :func:`jukebox.ui.maps.world_map`, which draws from outlines the app serves itself.
"""

from __future__ import annotations

from collections.abc import Mapping

import plotly.graph_objects as go

from jukebox.predict import comparison_table, top_countries
from jukebox.ui.maps import world_map

HIGHLIGHT = "#E4572E"
REST = "#8DA0CB"
PAIR = ("#4C72B0", "#E4572E")


def probability_bar_chart(
    probabilities: Mapping[str, float], *, highlight: int = 5, title: str = ""
) -> go.Figure:
    """One bar per country, most likely first, the ``highlight`` best in a stronger colour.

    Bars are labelled by country code (72 names would not fit); the hover names the country.
    """
    table = top_countries(probabilities, n=None)
    colours = [HIGHLIGHT if rank <= highlight else REST for rank in table["rank"]]
    figure = go.Figure(
        go.Bar(
            x=table["code"],
            y=table["probability"],
            customdata=table["country"],
            marker_color=colours,
            hovertemplate="<b>%{customdata}</b><br>%{y:.1%}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title or None,
        height=340,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        yaxis=dict(title="Probability", tickformat=".0%", rangemode="tozero"),
        # Every code gets its tick: plotly would otherwise skip every other one.
        xaxis=dict(title=None, tickangle=-90, type="category", dtick=1, tickfont=dict(size=10)),
        bargap=0.15,
    )
    return figure


def probability_map(
    probabilities: Mapping[str, float], *, title: str = "", top: float | None = None
) -> go.Figure:
    """The world coloured by each country's probability (maps.world_map, as percentages).

    ``top`` fixes the top of the colour scale, so two maps compared side by side share one
    scale and the same colour means the same probability on both.
    """
    figure = world_map(
        dict(probabilities),
        title,
        "Probability",
        value_format=".1%",
        colorscale="YlOrRd",
        height=420,
    )
    if top is not None:
        figure.update_layout(coloraxis=dict(cmin=0.0, cmax=float(top)))
    return figure


def comparison_bar_chart(
    left: Mapping[str, float],
    right: Mapping[str, float],
    labels: tuple[str, str] = ("A", "B"),
    *,
    n: int | None = 15,
    title: str = "",
) -> go.Figure:
    """Two answers as paired bars per country, countries that matter to either answer first.

    ``n`` keeps the figure readable (the best ``n`` countries of either answer); ``None`` shows
    every country either model knows.
    """
    table = comparison_table(left, right, labels, n=n)
    figure = go.Figure()
    for label, colour in zip(labels, PAIR, strict=True):
        figure.add_trace(
            go.Bar(
                name=label,
                y=table["country"],
                x=table[label],
                orientation="h",
                marker_color=colour,
                hovertemplate=f"<b>%{{y}}</b><br>{label}: %{{x:.1%}}<extra></extra>",
            )
        )
    figure.update_layout(
        title=title or None,
        barmode="group",
        height=120 + 34 * len(table),
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        xaxis=dict(title="Probability", tickformat=".0%", rangemode="tozero"),
        yaxis=dict(autorange="reversed", type="category"),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
    )
    return figure
