"""The Predict page's answer for people: top countries, two answers side by side, a headline,
and the figures (a model's answer over every country, two answers compared).

Pure functions (probabilities in, table or plotly figure out) so tests check them without a
browser. Maps come from :func:`jukebox.ui.maps.world_map`, which draws from outlines the app
serves itself.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from jukebox.data.countries import country_name, is_country_code
from jukebox.ui.maps import world_map

HIGHLIGHT = "#E4572E"
REST = "#8DA0CB"
PAIR = ("#4C72B0", "#E4572E")


def country_text(code: str) -> str:
    """``"Germany (DE)"``: the name, and the code beside it rather than a flag emoji, which
    shows as a box or a letter pair where the system has no emoji font."""
    return f"{country_name(code)} ({code.upper()})" if is_country_code(code) else str(code)


def _sorted(probabilities: Mapping[str, float]) -> list[tuple[str, float]]:
    # Ties are broken by code, so equal answers always list in the same order.
    return sorted(((c, float(p)) for c, p in probabilities.items()), key=lambda i: (-i[1], i[0]))


def top_countries(probabilities: Mapping[str, float], n: int | None = 10) -> pd.DataFrame:
    """The ``n`` most likely countries, best first: rank, code, country (name and code), chance."""
    ranked = _sorted(probabilities)[:n] if n else _sorted(probabilities)
    return pd.DataFrame(
        {
            "rank": range(1, len(ranked) + 1),
            "code": [c for c, _ in ranked],
            "country": [country_text(c) for c, _ in ranked],
            "probability": [p for _, p in ranked],
        }
    )


def comparison_table(
    left: Mapping[str, float],
    right: Mapping[str, float],
    labels: tuple[str, str] = ("A", "B"),
    n: int | None = None,
) -> pd.DataFrame:
    """Two answers side by side: country, each probability and the difference (right - left).

    Sorted by the larger of the two probabilities, so the countries that matter to either answer
    come first; a country only one model knows gets 0 in the other.
    """
    codes = sorted(set(left) | set(right))
    table = pd.DataFrame(
        {
            "code": codes,
            "country": [country_text(c) for c in codes],
            labels[0]: [float(left.get(c, 0.0)) for c in codes],
            labels[1]: [float(right.get(c, 0.0)) for c in codes],
        }
    )
    table["difference"] = table[labels[1]] - table[labels[0]]
    table["_best"] = table[[labels[0], labels[1]]].max(axis=1)
    table = table.sort_values(["_best", "code"], ascending=[False, True], kind="stable")
    table = table.drop(columns="_best").reset_index(drop=True)
    return table.head(n) if n else table


def headline(probabilities: Mapping[str, float]) -> str:
    """One sentence for the answer: where it is most likely to chart, and how sure."""
    ranked = _sorted(probabilities)
    if not ranked:
        return "The model returned no countries."
    code, best = ranked[0]
    even = 1 / len(ranked)
    sentence = f"Most likely to chart in {country_name(code)} ({best:.1%})"
    if best < 1.5 * even:
        return sentence + ", but the model sees no clear favourite."
    return sentence + "."


def chance_sentence(probabilities: Mapping[str, float], best_possible: float | None = None) -> str:
    """Why a top probability of 10-20 % is a strong answer, in one sentence: how many countries
    share the answer, what a blind guess would give each, and (when known, as on synthetic data)
    how often even the best possible model names a song's country right."""
    ranked = _sorted(probabilities)
    if len(ranked) < 2:
        return ""
    code, best = ranked[0]
    even = 1 / len(ranked)
    sentence = (
        f"A song charts in many countries at once, so the model shares its answer among all "
        f"{len(ranked)} countries it knows: a blind guess would give each {even:.1%}, so "
        f"{best:.1%} for {country_name(code)} is {best / even:.0f} times that"
    )
    if best_possible is not None:
        sentence += (
            f", and even the best possible model picks a chart's country right only "
            f"{best_possible:.0%} of the time on this data"
        )
    return sentence + "."


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
    """The world coloured by each country's probability (maps.world_map, as percentages), with
    the most likely country starred and named, however small it is on the map.

    ``top`` fixes the top of the colour scale, so two maps compared side by side share one
    scale and the same colour means the same probability on both.
    """
    ranked = _sorted(probabilities)
    best = ranked[0] if ranked else None
    figure = world_map(
        dict(probabilities),
        title,
        "Probability",
        value_format=".1%",
        colorscale="YlOrRd",
        height=420,
        mark=best[0] if best else None,
        mark_label=f"Most likely: {country_name(best[0])} ({best[1]:.1%})" if best else "",
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
