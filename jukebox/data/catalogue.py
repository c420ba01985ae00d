"""The song catalogue: the songs of the current data set a person can pick, and finding them.

Two lists can be offered: the current data set's songs, and the workshop's real song list
(:func:`fetch_real_songs`, fetched only when a person asks for it), kept beside the data set so
that a synthetic data set's invented titles are not the only songs one can ask about.

A song is a mapping of the model's features (:data:`jukebox.data.schema.FEATURES`) to raw
values, the same values a model of this project receives. The catalogue is read from the data
set's ``song_properties`` only (never the million ranking rows beside it), keeps the songs that
can be sent to a model, and names each one ``"Water — Tyla"`` for lists and search.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from jukebox.config import Settings
from jukebox.data.schema import FEATURES
from jukebox.data.sources import (
    WORKSHOP_PROPERTIES_URL,
    SourceError,
    Unreachable,
    _shown,
    load_song_list,
)
from jukebox.data.store import PROPERTIES_FILE, current_info
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


def real_songs_path(settings: Settings) -> Path:
    """Where the workshop's real song list is kept once fetched (beside, not in, the data set:
    fetching it never changes what models are trained on)."""
    return settings.home / "song-lists" / "workshop_song_properties.parquet"


def data_set_is_synthetic(settings: Settings) -> bool:
    """True when the current data set is the generated one, whose song titles are invented."""
    return str((current_info(settings) or {}).get("source", "")).startswith("synthetic")


REAL_SONGS_TIMEOUT = 20.0
"""Seconds to wait for the real song list: a demo without internet must not hang for long."""


def fetch_real_songs(
    settings: Settings, url: str | None = None, timeout: float = REAL_SONGS_TIMEOUT
) -> pd.DataFrame:
    """Download the workshop's real song list (``song_properties`` only, about 1.3 MB), keep it
    under ``JUKEBOX_HOME`` and return its catalogue.

    Nothing is written unless the list could be read and holds songs a model can be asked
    about, so a failed fetch loses nothing. Raises ``SourceError`` with one sentence: offline
    (the host cannot be reached) or the file is not a usable song list.
    """
    url = url or WORKSHOP_PROPERTIES_URL
    shown = _shown(url)
    host = shown.split("/")[2] if "://" in shown else shown
    try:
        properties = load_song_list(url, timeout=timeout)
        songs = build_catalogue(properties)
    except Unreachable:
        raise SourceError(
            f"The real song list could not be downloaded: {host} cannot be reached from this "
            "computer (no internet?), so nothing changed here; try again once it is online."
        ) from None
    except (SourceError, ValueError) as error:
        raise SourceError(
            f"The real song list at {shown} cannot be used ({error}), so nothing changed here."
        ) from None
    if songs.empty:
        raise SourceError(
            f"The real song list at {shown} holds no song with every feature, so nothing "
            "changed here."
        )
    path = real_songs_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    properties.to_parquet(partial, index=False)
    os.replace(partial, path)  # a list is either whole or absent, never half written
    return songs


WELL_KNOWN = ("Flowers", "Espresso", "Blinding Lights")
"""Hits of the workshop's real list that people know; offered first when a list holds them."""


def search_examples(catalogue: pd.DataFrame, n: int = 3, prefer: tuple[str, ...] = ()) -> list[str]:
    """A few searches that find songs of ``catalogue``: the titles of ``prefer`` the list holds,
    then short titles spread over the list.

    Deterministic (the same list gives the same examples), so the placeholder and the
    suggestions after a failed search always name songs that are there.
    """
    names = catalogue["name"].astype("string").dropna().str.strip()
    held = set(names.str.lower())
    chosen = [title for title in prefer if title.lower() in held][:n]
    names = names[(names.str.len() >= 3) & (names.str.len() <= 18) & names.str.isascii()]
    names = names.drop_duplicates().reset_index(drop=True)
    if names.empty or len(chosen) == n:
        return chosen
    wanted = n - len(chosen)
    positions = sorted({int(len(names) * (i + 0.5) / wanted) for i in range(wanted)})
    return chosen + [str(names[i]) for i in positions]


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
