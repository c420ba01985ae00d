"""The Predict page's answer for people: top countries, two answers compared, the headline, and
the figures (every country in the bar chart, both answers in the comparison)."""

from __future__ import annotations

import numpy as np
import pytest

from jukebox.data.countries import country_name
from jukebox.data.schema import CHART_COUNTRIES
from jukebox.ui.predict import (
    chance_sentence,
    comparison_bar_chart,
    comparison_table,
    headline,
    probability_bar_chart,
    probability_map,
    top_countries,
)


@pytest.fixture
def answer() -> dict[str, float]:
    weights = np.random.default_rng(1).random(len(CHART_COUNTRIES))
    return dict(zip(CHART_COUNTRIES, (weights / weights.sum()).tolist(), strict=True))


def test_bar_chart_has_every_country_most_likely_first(answer):
    figure = probability_bar_chart(answer, highlight=5)
    bars = figure.data[0]
    assert sorted(bars.x) == sorted(CHART_COUNTRIES)
    assert list(bars.y) == sorted(answer.values(), reverse=True)
    assert bars.x[0] == max(answer, key=answer.get)
    colours = list(bars.marker.color)
    assert len(set(colours[:5])) == 1 and colours[5] != colours[0]
    # Hover names the country: codes alone mean little to most people.
    assert "Germany" in " ".join(str(c) for c in bars.customdata)


def test_map_colours_every_country_by_its_probability(answer):
    figure = probability_map(answer)
    placed = {}
    for trace in figure.data[:-1]:  # the last one stars the most likely country
        values = trace.z if trace.type == "choropleth" else trace.marker.color
        placed.update(zip(trace.text, values, strict=True))
    assert len(placed) == len(CHART_COUNTRIES)
    assert placed["Germany"] == pytest.approx(answer["DE"])
    assert placed["Singapore"] == pytest.approx(answer["SG"])  # too small to outline: a dot
    # Two maps side by side share one colour scale when given the same top.
    shared = probability_map(answer, top=0.5)
    assert (shared.layout.coloraxis.cmin, shared.layout.coloraxis.cmax) == (0.0, 0.5)


def test_comparison_chart_pairs_both_answers_per_country(answer):
    other = dict(zip(answer, reversed(list(answer.values())), strict=True))
    figure = comparison_bar_chart(answer, other, ("Model 1", "Model 2"), n=10)
    assert [trace.name for trace in figure.data] == ["Model 1", "Model 2"]
    left, right = figure.data
    assert list(left.y) == list(right.y) and len(left.y) == 10
    best = max(answer, key=answer.get)
    row = [i for i, label in enumerate(left.y) if label.startswith(country_name(best) + " (")][0]
    assert left.x[row] == pytest.approx(answer[best])
    assert right.x[row] == pytest.approx(other[best])
    everything = comparison_bar_chart(answer, other, n=None)
    assert len(everything.data[0].y) == len(CHART_COUNTRIES)


def test_top_countries_are_ordered_with_names_and_codes():
    probabilities = {"US": 0.1, "DE": 0.5, "JP": 0.1, "BR": 0.3}
    top = top_countries(probabilities, 3)
    assert top["code"].tolist() == ["DE", "BR", "JP"]  # a tie breaks by code
    assert top["rank"].tolist() == [1, 2, 3]
    # Codes, not flag emoji: those show as boxes where the system has no emoji font (issue 17).
    assert top["country"].tolist() == ["Germany (DE)", "Brazil (BR)", "Japan (JP)"]
    assert top["probability"].tolist() == [0.5, 0.3, 0.1]
    assert len(top_countries(probabilities, None)) == 4
    assert headline(probabilities) == "Most likely to chart in Germany (50.0%)."
    assert "no clear favourite" in headline({"DE": 0.26, "US": 0.25, "JP": 0.25, "BR": 0.24})


def test_comparison_table_puts_what_matters_to_either_first():
    left = {"DE": 0.6, "US": 0.3, "JP": 0.1}
    right = {"DE": 0.1, "US": 0.2, "JP": 0.7}
    table = comparison_table(left, right, ("old", "new"))
    assert table["code"].tolist() == ["JP", "DE", "US"]
    assert table.columns.tolist() == ["code", "country", "old", "new", "difference"]
    assert table.loc[0, "difference"] == pytest.approx(0.6)
    only_left = comparison_table({"DE": 1.0}, {"US": 1.0})
    assert set(only_left["code"]) == {"DE", "US"} and only_left["A"].sum() == 1.0


def test_the_map_stars_and_names_the_most_likely_country_however_small(answer):
    answer = dict(answer, LU=0.175)  # Luxembourg: a few pixels on a world map
    figure = probability_map(answer)
    star = figure.data[-1]
    assert star.marker.symbol == "star"
    assert list(star.text) == ["Most likely: Luxembourg (17.5%)"]


def test_a_small_top_probability_gets_its_context_in_one_sentence(answer):
    answer = dict(answer, LU=0.175)
    sentence = chance_sentence(answer)
    assert "all 72 countries" in sentence and "1.4%" in sentence
    assert f"{0.175 / (1 / 72):.0f} times" in sentence and "Luxembourg" in sentence
    assert sentence.count(".") == 3 and sentence.endswith(".")  # 1.4%, 17.5%, full stop
    assert "best possible model" in chance_sentence(answer, best_possible=0.31)
    assert "31%" in chance_sentence(answer, best_possible=0.31)
