"""The synthetic song data set: ``generator`` makes it, ``ceiling`` says how well any model can do.

See :mod:`jukebox.data.synthetic.generator` for how songs, tastes and charts are drawn.
"""

from jukebox.data.synthetic.ceiling import bayes_ceiling
from jukebox.data.synthetic.generator import (
    CHART_SIZE,
    DEFAULT_SONGS,
    FIRST_DAY,
    N_DAYS,
    TASTE_STRENGTH,
    TasteModel,
    generate,
    song_texts,
    taste_model,
)

__all__ = [
    "CHART_SIZE",
    "DEFAULT_SONGS",
    "FIRST_DAY",
    "N_DAYS",
    "TASTE_STRENGTH",
    "TasteModel",
    "bayes_ceiling",
    "generate",
    "song_texts",
    "taste_model",
]
