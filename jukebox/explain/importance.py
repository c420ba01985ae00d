"""What each country listens for: the features that move a model's answers most, per country.

Global importance is the mean absolute attribution (:mod:`.attributions`) over a sample of
songs: how many points, on average, a feature moves a country's probability away from the
background's. A pure function of its inputs, so a page can cache it per model version.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from jukebox.explain.attributions import shapley_values
from jukebox.explain.predictor import Predictor, sample_rows

GLOBAL_SONGS = 50
GLOBAL_BACKGROUND = 10
"""Songs explained and background songs per explanation: at most 50 × 2^13 × 10 = 4 million
model rows (about a third of that run, see
:func:`jukebox.explain.attributions.coalition_values`), a few seconds for the workshop's
network. A background of 10 is coarse for one song, but each value is still an exact Shapley
value against those 10 songs, and the mean over 50 songs is what the table shows."""


def global_importance(
    predict: Predictor,
    sample: pd.DataFrame,
    background: pd.DataFrame,
    countries: Sequence[str] | None = None,
    *,
    max_songs: int = GLOBAL_SONGS,
    max_background: int = GLOBAL_BACKGROUND,
) -> pd.DataFrame:
    """Mean absolute attribution of each feature for each country over ``sample``'s songs.

    Returns a frame indexed by country (all the model's countries, or ``countries`` in that
    order) with one column per feature, in probability (0.02 = 2 points). ``sample`` and
    ``background`` are frames of raw songs (e.g. both a bundle's reference); at most
    ``max_songs`` and ``max_background`` rows of them are used, drawn with different fixed
    seeds so the same inputs give the same table.
    """
    features = list(predict.features)
    songs = sample_rows(sample.loc[:, features], max_songs, seed=1).to_numpy(np.float64)
    used = sample_rows(background.loc[:, features], max_background, seed=0).to_numpy(np.float64)
    values, _ = shapley_values(predict, songs, used)
    table = pd.DataFrame(
        np.abs(values).mean(axis=0).T, index=list(predict.labels), columns=features
    )
    table.index.name = "country"
    if countries is not None:
        table = table.loc[[predict.labels[predict.country_index(c)] for c in countries]]
    return table
