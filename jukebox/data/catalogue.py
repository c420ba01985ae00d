"""The song catalogue: the songs of the current data set a person can pick, and finding them.

A song is a mapping of the model's features (:data:`jukebox.data.schema.FEATURES`) to raw
values, the same values a model of this project receives. The catalogue is read from the data
set's ``song_properties`` only (never the million ranking rows beside it), keeps the songs that
can be sent to a model, and names each one ``"Water — Tyla"`` for lists and search.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from jukebox.config import Settings
from jukebox.data.schema import FEATURES
from jukebox.data.store import PROPERTIES_FILE
from jukebox.data.validation import PROPERTIES_TABLE, clean
from jukebox.errors import JukeboxError

Song = dict[str, float]
"""Raw feature values by feature name, in the units the model reads."""

LABEL_SEPARATOR = " — "


def song_label(name: object, artists: object) -> str:
    """How a song is named in lists: ``"Water — Tyla"``."""
    name = str(name).strip() if _present(name) else "(untitled)"
    artists = str(artists).strip() if _present(artists) else "unknown artist"
    return f"{name}{LABEL_SEPARATOR}{artists}"


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def build_catalogue(properties: pd.DataFrame) -> pd.DataFrame:
    """The songs a person can pick: one row per distinct label, sorted by label.

    Songs with a missing feature cannot be sent to a model, so they are left out; the number left
    out is in ``catalogue.attrs["unusable"]`` so the page can say so. Rows keep ``spotify_id``,
    ``name``, ``artists``, ``label`` and the features.
    """
    columns = ["spotify_id", "name", "artists", *FEATURES]
    songs = properties.loc[:, [c for c in columns if c in properties.columns]].copy()
    missing_features = [f for f in FEATURES if f not in songs.columns]
    if missing_features:
        raise ValueError(f"song_properties lacks the feature columns {missing_features}")
    usable = songs[list(FEATURES)].notna().all(axis=1)
    rows = len(songs)
    songs = songs[usable]
    pairs = zip(songs["name"], songs["artists"], strict=True)
    songs["label"] = [song_label(name, artists) for name, artists in pairs]
    labelled = len(songs)
    songs = songs.drop_duplicates("label").sort_values("label", key=lambda s: s.str.casefold())
    songs = songs.reset_index(drop=True)
    songs.attrs.update(songs=rows, unusable=int((~usable).sum()), merged=labelled - len(songs))
    return songs


def catalogue_sentence(catalogue: pd.DataFrame) -> str:
    """How many songs there are to pick, and why that is not the data set's song count when it
    is not (Explore counts the songs after cleaning, as here)."""
    attrs = catalogue.attrs
    said = f"{len(catalogue):,} songs to pick from"
    reasons = []
    if attrs.get("merged"):
        reasons.append(
            f"{attrs['merged']:,} share their title and artists with another song and are "
            "listed once"
        )
    if attrs.get("unusable"):
        reasons.append(f"{attrs['unusable']:,} lack a feature a model needs")
    if not reasons:
        return said + "."
    songs = attrs.get("songs", len(catalogue))
    return f"{said}: of the data set's {songs:,} songs, " + "; ".join(reasons) + "."


def catalogue_path(settings: Settings) -> Path:
    """Where the current data set's ``song_properties`` lives (see :mod:`jukebox.data.store`);
    only this table is read, never the million ranking rows beside it."""
    return settings.data_dir / PROPERTIES_FILE


def load_catalogue(path: Path) -> pd.DataFrame:
    """The catalogue of the data set at ``path``, after the cleaning training and Explore apply
    (so a song whose duration is 0 is not offered, and the counts agree with Explore's)."""
    properties = pd.read_parquet(path)
    try:
        cleaned = clean(properties, PROPERTIES_TABLE)
    except JukeboxError:  # a table that no longer validates: offer what can be sent
        properties, flagged = properties, 0
    else:
        properties, flagged = cleaned.frame, cleaned.dropped
    catalogue = build_catalogue(properties)
    catalogue.attrs["flagged"] = flagged
    return catalogue


def search_songs(catalogue: pd.DataFrame, query: str, limit: int | None = 50) -> pd.DataFrame:
    """Songs whose name or artists contain every word of ``query``, ignoring case.

    Best matches first: the exact name, then a name that starts with the query, a word of the
    name or of the artists that starts with it, a name or artists that merely contain it, and
    last songs whose words are spread over name and artists (``"drake yeat"``).
    """
    words = query.lower().split()
    if not words:
        return catalogue.head(limit) if limit else catalogue
    # lower(), not casefold(): pyarrow does it natively, casefold goes row by row in Python.
    names = catalogue["name"].astype("string").fillna("").str.lower()
    artists = catalogue["artists"].astype("string").fillna("").str.lower()
    haystack = names + " " + artists
    mask = pd.Series(True, index=catalogue.index)
    for word in words:
        mask &= haystack.str.contains(word, regex=False)
    # Rank only the matches: usually a handful of the catalogue.
    names, artists = names[mask], artists[mask]
    phrase = " ".join(words)
    word_start = r"(?:^|\W)" + re.escape(phrase)
    rank = pd.Series(6, index=names.index)
    rank[artists.str.contains(phrase, regex=False)] = 5
    rank[names.str.contains(phrase, regex=False)] = 4
    rank[artists.str.contains(word_start)] = 3
    rank[names.str.contains(word_start)] = 2
    rank[names.str.startswith(phrase)] = 1
    rank[names == phrase] = 0
    found = catalogue[mask].assign(_rank=rank).sort_values("_rank", kind="stable")
    found = found.drop(columns="_rank")
    return found.head(limit) if limit else found


def song_features(row: Mapping) -> Song:
    """The raw features of a catalogue row (or any mapping holding them)."""
    return {f: float(row[f]) for f in FEATURES}
