"""The Monitor page's figures show what their data says."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jukebox.monitoring.overview import top_countries
from jukebox.ui.monitor import (
    countries_figure,
    distribution_figure,
    drift_figure,
    requests_figure,
)


def test_requests_are_counted_per_slice_of_time():
    times = pd.Series([1000.0] * 5 + [1100.0] * 3 + [1390.0])
    figure = requests_figure(times, buckets=4)
    (bars,) = figure.data
    assert sum(bars.y) == 9 and max(bars.y) == 5


def test_an_empty_log_draws_an_empty_chart():
    assert requests_figure(pd.Series([], dtype=float)).data == ()


def test_drift_lines_per_feature_and_the_threshold():
    history = pd.DataFrame(
        {
            "time": pd.to_datetime([1, 2, 1, 2], unit="s", utc=True),
            "column": ["tempo", "tempo", "acousticness", "acousticness"],
            "value": [0.5, 0.4, 0.3, 1e-12],
        }
    )
    figure = drift_figure(history, 0.05, ["acousticness", "tempo", "energy"])
    names = [trace.name for trace in figure.data]
    assert names == ["How acoustic?", "How fast?"]  # energy has no history: no line
    assert list(figure.data[0].y) == [0.3, 1e-12]
    assert figure.layout.shapes[0].y0 == 0.05 and figure.layout.yaxis.type == "log"


def test_distributions_are_shares_in_the_dials_units():
    reference = pd.Series(np.linspace(0.0, 0.4, 100))
    live = pd.Series(np.linspace(0.6, 1.0, 10))
    figure = distribution_figure(reference, live, "acousticness")
    training, sent = figure.data
    assert training.histnorm == sent.histnorm == "percent"
    assert max(sent.x) == 100 and max(training.x) == 40  # percent, as the dial shows it


def test_top_countries_now_against_at_training():
    rows = pd.DataFrame({"output-0": [0.6, 0.1, 0.7, 0.2], "output-1": [0.4, 0.9, 0.3, 0.8]})
    now = top_countries(rows, ("BR", "TR"))
    assert now.to_dict() == {"BR": 0.5, "TR": 0.5}
    figure = countries_figure(pd.Series({"BR": 0.75, "TR": 0.25}), now)
    at_training, current = figure.data
    assert len(at_training.x) == 2 and at_training.x[0] == "Brazil"
    assert list(at_training.y) == [75.0, 25.0] and list(current.y) == [50.0, 50.0]
