"""The why/what-if figures show what the explanation says, in the dials' words."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from jukebox.data.schema import FEATURES
from jukebox.ui.explain import (
    dial_text,
    importance_map,
    importance_table,
    waterfall_figure,
    what_if_figure,
)

SONG = {f: 0.5 for f in FEATURES} | {"tempo": 120.0, "duration_ms": 205_000.0, "mode": 0.0}


def test_values_read_as_the_dials_show_them():
    assert dial_text("danceability", 0.72) == "72 %"
    assert dial_text("duration_ms", 205_000) == "3:25"
    assert dial_text("tempo", 120.0) == "120 BPM"
    assert dial_text("mode", 0.0) == "minor"


def test_the_waterfall_walks_from_the_average_song_to_this_one():
    contributions = {f: 0.0 for f in FEATURES} | {"danceability": 0.06, "mode": -0.02}
    contributions |= {"tempo": 0.005, "energy": 0.001}
    attribution = SimpleNamespace(
        country="BR", probability=0.31, base=0.264, contributions=contributions, song=SONG
    )
    (waterfall,) = waterfall_figure(attribution, top=3).data
    assert waterfall.y[0] == "an average song" and waterfall.y[-1] == "this song"
    assert waterfall.y[1].startswith("How danceable?") and waterfall.y[2].startswith("Major")
    assert list(waterfall.x[1:4]) == [6.0, -2.0, 0.5]
    assert abs(waterfall.x[4] - 0.1) < 1e-9  # the ten others, summed
    assert abs(waterfall.x[0] + sum(waterfall.x[1:-1]) - waterfall.x[-1]) < 1e-9


def test_the_what_if_chart_moves_each_changed_dial():
    counterfactual = SimpleNamespace(
        country="TR", changes={"tempo": (120.0, 95.0), "acousticness": (0.1, 0.45)}
    )
    ranges = {"tempo": (70.0, 170.0), "acousticness": (0.0, 1.0)}
    tempo, acoustic = what_if_figure(counterfactual, ranges).data
    assert list(tempo.x) == [50.0, 25.0] and list(tempo.text) == ["120 BPM", "95 BPM"]
    assert list(acoustic.text) == ["10 %", "45 %"]


def test_importance_by_country_and_on_the_map():
    importance = pd.DataFrame(
        {"danceability": [0.05, 0.01], "tempo": [0.02, 0.03], "energy": [0.0, 0.001]},
        index=["BR", "TR"],
    )
    table = importance_table(importance, top=2)
    assert table["#1"].tolist() == ["How danceable? (5.0 pts)", "How fast? (3.0 pts)"]
    figure = importance_map(importance, "danceability")
    assert sorted(figure.data[0].z) == [1.0, 5.0]
