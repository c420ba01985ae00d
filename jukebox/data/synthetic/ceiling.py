"""The Bayes ceiling: the best test accuracy any model can reach on a synthetic data set.

The generator knows ``P(country | features)`` for every song (its :class:`TasteModel`). The best
any classifier can do on one chart row is to name the most likely country of the row's song, and
it is right with that country's probability; over all rows, the ceiling is the mean of
``max_c P(c | song)`` weighted by how many rows each song has. A model's accuracy is judged
against it: above it means something leaks (the same songs in training and test).
"""

from __future__ import annotations

import numpy as np


def bayes_ceiling(song_probabilities: np.ndarray, row_songs: np.ndarray) -> float:
    """Mean over chart rows of the largest country probability of the row's song.

    ``song_probabilities`` is ``(n_songs, n_countries)``; ``row_songs`` holds the song index of
    every chart row.
    """
    return float(np.asarray(song_probabilities).max(axis=1)[np.asarray(row_songs)].mean())
