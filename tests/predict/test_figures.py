"""Figures of the Predict page: every country in the bar chart, both answers in the comparison."""

from __future__ import annotations

import numpy as np
import pytest

from jukebox.data.countries import country_name
from jukebox.data.schema import CHART_COUNTRIES
from jukebox.ui.predict import comparison_bar_chart, probability_bar_chart, probability_map


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
    for trace in figure.data:
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
    row = [i for i, label in enumerate(left.y) if label.endswith(" " + country_name(best))][0]
    assert left.x[row] == pytest.approx(answer[best])
    assert right.x[row] == pytest.approx(other[best])
    everything = comparison_bar_chart(answer, other, n=None)
    assert len(everything.data[0].y) == len(CHART_COUNTRIES)
