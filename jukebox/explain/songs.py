"""Finding the song a person names: by Spotify id or by words of its title and artists.

The catalogue is the current data set's (:mod:`jukebox.data.catalogue`); a synthetic data set
invents its titles, so "Not Like Us" may not be there, and the answer then says so and names
songs that are.
"""

from __future__ import annotations

import pandas as pd

from jukebox.data.catalogue import Song, search_examples, search_songs, song_features
from jukebox.explain.predictor import ExplainError


def find_song(
    catalogues: pd.DataFrame | list[pd.DataFrame], query: str, *, invented: bool = False
) -> tuple[str, Song]:
    """``(label, song)`` of the song ``query`` names: its exact Spotify id, else the best match
    of :func:`jukebox.data.catalogue.search_songs` (the exact title first), searching each
    catalogue in turn (e.g. the data set's, then the workshop's real songs when fetched).

    ExplainError with one sentence when nothing matches, naming songs that are there;
    ``invented`` says the first catalogue's titles are made up (a synthetic data set).
    """
    if isinstance(catalogues, pd.DataFrame):
        catalogues = [catalogues]
    query = query.strip()
    if not query:
        raise ExplainError("name a song: words of its title or artists, or its Spotify id")
    for catalogue in catalogues:
        if "spotify_id" in catalogue.columns:
            exact = catalogue[catalogue["spotify_id"].astype(str) == query]
            if len(exact):
                row = exact.iloc[0]
                return str(row["label"]), song_features(row)
    for catalogue in catalogues:
        found = search_songs(catalogue, query, limit=1)
        if len(found):
            row = found.iloc[0]
            return str(row["label"]), song_features(row)
    examples = search_examples(catalogues[0]) if catalogues and len(catalogues[0]) else []
    some = " or ".join(f"“{e}”" for e in examples[:2])
    why = (
        "this data set's titles are invented"
        if invented
        else "no title or artist holds those words"
    )
    tail = f": try {some}" if some else ""
    fetch = " (or fetch the workshop's real songs on the Predict page)" if invented else ""
    raise ExplainError(f"no song matches “{query}”, {why}{tail}{fetch}")
