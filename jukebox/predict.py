"""What the Predict page needs, as plain functions over data: songs, presets, plain words.

A song is a mapping of the model's features (:data:`jukebox.data.schema.FEATURES`) to raw values,
the same values a model of this project receives. This module turns songs from the catalogue,
from presets or from sliders in plain words into such mappings, flags values that training never
saw, and turns the model's answer (a probability per country code) into tables people can read.
Speaking the Open Inference Protocol is the v2 client's job (:mod:`jukebox.serving.client`);
:func:`predict` only hands it the rows. Nothing here imports Streamlit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from jukebox.config import Settings
from jukebox.data.countries import country_name
from jukebox.data.schema import FEATURES
from jukebox.data.store import PROPERTIES_FILE
from jukebox.errors import JukeboxError
from jukebox.model.bundle import BundleError, Preprocessing, read_bundle
from jukebox.serving.client import (
    ServingError,
    base_url,
    infer,
    load_scaling,
    model_path,
    scale_rows,
)

Song = dict[str, float]
"""Raw feature values by feature name, in the units the model reads."""

# --------------------------------------------------------------------------------------------
# The song catalogue
# --------------------------------------------------------------------------------------------

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
    songs = songs[usable]
    pairs = zip(songs["name"], songs["artists"], strict=True)
    songs["label"] = [song_label(name, artists) for name, artists in pairs]
    songs = songs.drop_duplicates("label").sort_values("label", key=lambda s: s.str.casefold())
    songs = songs.reset_index(drop=True)
    songs.attrs["unusable"] = int((~usable).sum())
    return songs


def catalogue_path(settings: Settings) -> Path:
    """Where the current data set's ``song_properties`` lives (see :mod:`jukebox.data.store`);
    only this table is read, never the million ranking rows beside it."""
    return settings.data_dir / PROPERTIES_FILE


def load_catalogue(path: Path) -> pd.DataFrame:
    """The catalogue of the data set at ``path``, reading only the columns it needs."""
    columns = ["spotify_id", "name", "artists", *FEATURES]
    return build_catalogue(pd.read_parquet(path, columns=columns))


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


# --------------------------------------------------------------------------------------------
# Presets: songs that make sense, for people with no song in mind
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A made-up but plausible song: a name, one line about it, and its raw features."""

    name: str
    description: str
    features: Mapping[str, float]


def _preset(name: str, description: str, **values: float) -> Preset:
    return Preset(name, description, {f: float(values[f]) for f in FEATURES})


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _preset(
            "Typical chart song",
            "The median of today's charts: mid-tempo, danceable, fairly upbeat pop.",
            is_explicit=0, duration_ms=181_000, danceability=0.70, energy=0.67, key=6,
            loudness=-6.6, mode=1, speechiness=0.07, acousticness=0.20, instrumentalness=0.0,
            liveness=0.13, valence=0.54, tempo=122,
        ),
        _preset(
            "Latin dance hit",
            "Reggaeton groove at 96 BPM, loud, sunny and made for dancing.",
            is_explicit=0, duration_ms=200_000, danceability=0.82, energy=0.78, key=7,
            loudness=-4.5, mode=1, speechiness=0.09, acousticness=0.14, instrumentalness=0.0,
            liveness=0.11, valence=0.80, tempo=96,
        ),
        _preset(
            "Acoustic ballad",
            "Voice and guitar, slow and quiet, a little sad.",
            is_explicit=0, duration_ms=235_000, danceability=0.45, energy=0.30, key=2,
            loudness=-9.5, mode=1, speechiness=0.035, acousticness=0.85, instrumentalness=0.0,
            liveness=0.11, valence=0.25, tempo=76,
        ),
        _preset(
            "Hard rock anthem",
            "Distorted guitars, pounding drums, full energy from start to finish.",
            is_explicit=0, duration_ms=245_000, danceability=0.45, energy=0.93, key=4,
            loudness=-4.0, mode=1, speechiness=0.06, acousticness=0.01, instrumentalness=0.02,
            liveness=0.20, valence=0.50, tempo=140,
        ),
        _preset(
            "K-pop banger",
            "Polished, punchy and bright, with a big chorus.",
            is_explicit=0, duration_ms=185_000, danceability=0.76, energy=0.88, key=1,
            loudness=-3.5, mode=1, speechiness=0.09, acousticness=0.05, instrumentalness=0.0,
            liveness=0.15, valence=0.70, tempo=125,
        ),
        _preset(
            "Chill lo-fi",
            "Mellow beats to study to: soft, slow, mostly instrumental.",
            is_explicit=0, duration_ms=150_000, danceability=0.70, energy=0.30, key=9,
            loudness=-11.5, mode=0, speechiness=0.08, acousticness=0.70, instrumentalness=0.80,
            liveness=0.10, valence=0.40, tempo=85,
        ),
        _preset(
            "Rap track",
            "Explicit lyrics over a trap beat, lots of words.",
            is_explicit=1, duration_ms=170_000, danceability=0.82, energy=0.62, key=1,
            loudness=-6.5, mode=1, speechiness=0.30, acousticness=0.10, instrumentalness=0.0,
            liveness=0.12, valence=0.45, tempo=140,
        ),
    )
}  # fmt: skip


# --------------------------------------------------------------------------------------------
# Sliders in plain words, with real units
# --------------------------------------------------------------------------------------------

KEY_NAMES: dict[int, str] = {
    -1: "no clear key",
    0: "C",
    1: "C♯/D♭",
    2: "D",
    3: "D♯/E♭",
    4: "E",
    5: "F",
    6: "F♯/G♭",
    7: "G",
    8: "G♯/A♭",
    9: "A",
    10: "A♯/B♭",
    11: "B",
}


@dataclass(frozen=True)
class Dial:
    """One feature as a person sets it: a question, a widget kind and values in real units.

    ``kind`` says which widget fits and how display values map to raw ones:

    - ``"percent"``: a 0-100 slider; raw = display / 100.
    - ``"seconds"``: a slider in seconds, shown as m:ss; raw milliseconds = display * 1000.
    - ``"number"``: a slider in the feature's own unit (dB, BPM); raw = display.
    - ``"key"``: a choice of note names; raw = the key's number (-1 = no clear key).
    - ``"mode"``: ``"major"`` or ``"minor"``; raw 1 or 0.
    - ``"yes/no"``: a toggle; raw 1 or 0.
    """

    feature: str
    question: str
    help: str
    kind: str
    low: float = 0
    high: float = 100
    step: float = 1
    unit: str = ""
    ends: tuple[str, str] = ("", "")


DIALS: dict[str, Dial] = {
    d.feature: d
    for d in (
        Dial("danceability", "How danceable?", "How suitable for dancing, from tempo, rhythm "
             "stability and beat strength.", "percent", unit="%", ends=("stiff", "irresistible")),
        Dial("energy", "How energetic?", "Intensity and activity: fast, loud and noisy songs "
             "score high.", "percent", unit="%", ends=("calm", "intense")),
        Dial("valence", "How happy does it sound?", "Musical positiveness: cheerful and "
             "euphoric songs score high, sad and angry ones low.", "percent", unit="%",
             ends=("sad", "joyful")),
        Dial("acousticness", "How acoustic?", "Confidence that the song is played on acoustic "
             "instruments rather than electronic ones.", "percent", unit="%",
             ends=("electronic", "acoustic")),
        Dial("speechiness", "How much talking or rapping?", "Spoken words: rap and spoken "
             "word score high, sung melodies low.", "percent", unit="%",
             ends=("all singing", "all speech")),
        Dial("instrumentalness", "How instrumental?", "Likelihood that the song has no vocals "
             "at all.", "percent", unit="%", ends=("vocals", "no vocals")),
        Dial("liveness", "How live does it sound?", "Presence of an audience: a live "
             "recording scores high.", "percent", unit="%", ends=("studio", "on stage")),
        Dial("tempo", "How fast?", "Beats per minute.", "number", low=40.0, high=220.0, step=1.0,
             unit="BPM"),
        Dial("loudness", "How loud?", "Average loudness in decibels; 0 dB is the loudest a "
             "track can be mastered, most chart songs sit between -12 and -3 dB.", "number",
             low=-40.0, high=5.0, step=0.1, unit="dB"),
        Dial("duration_ms", "How long?", "Length of the song in minutes and seconds.",
             "seconds", low=30, high=600, step=1, unit="s"),
        Dial("key", "In which key?", "The key the song is in.", "key", low=-1, high=11),
        Dial("mode", "Major or minor?", "Major keys tend to sound bright, minor keys dark.",
             "mode", low=0, high=1),
        Dial("is_explicit", "Explicit lyrics?", "Whether the song is marked as having explicit "
             "lyrics.", "yes/no", low=0, high=1),
    )
}  # fmt: skip
"""Every feature, in the order the page shows them (most telling first)."""


def to_display(feature: str, raw: float) -> float | int | str | bool:
    """The value a person sees for a raw feature value (see :class:`Dial` for each kind)."""
    kind = DIALS[feature].kind
    if kind == "percent":
        return int(round(float(raw) * 100))
    if kind == "seconds":
        return int(round(float(raw) / 1000))
    if kind == "number":
        return round(float(raw), 1)
    if kind == "key":
        return KEY_NAMES.get(int(round(raw)), KEY_NAMES[-1])
    if kind == "mode":
        return "major" if round(raw) == 1 else "minor"
    return bool(round(raw))


_KEY_NUMBERS = {name: number for number, name in KEY_NAMES.items()}


def from_display(feature: str, value: float | int | str | bool) -> float:
    """The raw value a display value stands for; raises ValueError for one that cannot be."""
    kind = DIALS[feature].kind
    if kind == "percent":
        return float(value) / 100
    if kind == "seconds":
        return float(value) * 1000
    if kind == "number":
        return float(value)
    if kind == "key":
        if value not in _KEY_NUMBERS:
            raise ValueError(f"{value!r} is not a key; use one of {', '.join(_KEY_NUMBERS)}")
        return float(_KEY_NUMBERS[value])
    if kind == "mode":
        if value not in ("major", "minor"):
            raise ValueError(f"mode is 'major' or 'minor', not {value!r}")
        return 1.0 if value == "major" else 0.0
    return 1.0 if value else 0.0


def dial_values(song: Mapping[str, float]) -> dict[str, float | int | str | bool]:
    """Every feature of ``song`` as its dial shows it: in real units, within the dial's range.

    A real song can lie beyond a dial (a 15-minute track, a tempo of 0 in the data); its dial
    then sits at the end, and :func:`describe_song` still sends the song's exact value unless the
    dial is moved.
    """
    values = {}
    for feature in FEATURES:
        dial, value = DIALS[feature], to_display(feature, song[feature])
        if dial.kind in ("percent", "seconds", "number"):
            value = type(value)(min(max(value, dial.low), dial.high))
        values[feature] = value
    return values


def describe_song(
    dials: Mapping[str, float | int | str | bool],
    start: Mapping[str, float] | None = None,
) -> Song:
    """Raw features from dial values, e.g. the sliders of the page.

    With ``start`` (the song the dials were loaded from with :func:`dial_values`), a feature
    whose dial is unchanged keeps ``start``'s exact raw value, so a catalogue song sent untouched
    is sent exactly, not rounded to the dials' steps.
    """
    loaded = dial_values(start) if start is not None else {}
    song: Song = {}
    for feature in FEATURES:
        value = dials[feature]
        if start is not None and loaded[feature] == value:
            song[feature] = float(start[feature])
        else:
            song[feature] = from_display(feature, value)
    return song


def minutes_seconds(seconds: float) -> str:
    """``185`` -> ``"3:05"``."""
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def format_value(feature: str, raw: float) -> str:
    """A raw value in words and units: ``"3:05"``, ``"-6.6 dB"``, ``"120 BPM"``, ``"70 %"``."""
    dial = DIALS[feature]
    shown = to_display(feature, raw)
    if dial.kind == "percent":
        return f"{shown:.0f} %"
    if dial.kind == "seconds":
        return minutes_seconds(float(raw) / 1000)
    if dial.kind == "number":
        return f"{shown:g} {dial.unit}"
    if dial.kind == "yes/no":
        return "yes" if shown else "no"
    return str(shown)


def song_summary(song: Mapping[str, float]) -> str:
    """One line about a song: ``"3:20 · 96 BPM · G major · -4.5 dB · 82 % danceable"``."""
    parts = [
        format_value("duration_ms", song["duration_ms"]),
        format_value("tempo", song["tempo"]),
        f"{format_value('key', song['key'])} {format_value('mode', song['mode'])}",
        format_value("loudness", song["loudness"]),
        f"{format_value('danceability', song['danceability'])} danceable",
        f"{format_value('energy', song['energy'])} energy",
        f"{format_value('valence', song['valence'])} happy",
    ]
    if song["is_explicit"] >= 0.5:
        parts.append("explicit")
    return " · ".join(parts)


def feature_table(songs: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """Songs side by side in plain words: one row per feature, one column per song."""
    rows = {
        DIALS[f].question: {title: format_value(f, song[f]) for title, song in songs.items()}
        for f in DIALS
    }
    return pd.DataFrame.from_dict(rows, orient="index")


# --------------------------------------------------------------------------------------------
# What training saw
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RangeFlag:
    """A feature value outside what the model saw in training."""

    feature: str
    value: float
    low: float
    high: float

    @property
    def sentence(self) -> str:
        question = DIALS[self.feature].question.rstrip("?")
        shown = format_value(self.feature, self.value)
        if self.value < self.low:
            bound = f"below anything the model saw in training (lowest {self._fmt(self.low)})"
        else:
            bound = f"above anything the model saw in training (highest {self._fmt(self.high)})"
        return f"{question}: {shown} is {bound}, so the model is guessing there."

    def _fmt(self, raw: float) -> str:
        return format_value(self.feature, raw)


def range_flags(
    song: Mapping[str, float],
    features: Sequence[str],
    minima: Sequence[float],
    maxima: Sequence[float],
) -> list[RangeFlag]:
    """Features of ``song`` outside ``[minimum, maximum]`` of training, in feature order.

    Such values are still sent (the model answers for them), but the page says they are outside
    what the model learnt from.
    """
    flags = []
    for feature, low, high in zip(features, minima, maxima, strict=True):
        if feature not in song:
            continue
        value = float(song[feature])
        if value < low or value > high:
            flags.append(RangeFlag(feature, value, float(low), float(high)))
    return flags


# --------------------------------------------------------------------------------------------
# Training ranges, and scaling for models from elsewhere
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeatureRanges:
    """A minimum and a maximum per feature, in :data:`FEATURES` order.

    The same numbers serve twice: they are what training saw (a model's ``preprocessing.json``),
    and they are the min-max scaling a model from elsewhere expects its inputs in.
    """

    minima: tuple[float, ...]
    maxima: tuple[float, ...]
    features: tuple[str, ...] = FEATURES

    @classmethod
    def from_preprocessing(cls, preprocessing: Preprocessing) -> FeatureRanges:
        """The training ranges a bundle's preprocessing.json records."""
        low = dict(zip(preprocessing.features, preprocessing.minima, strict=True))
        high = dict(zip(preprocessing.features, preprocessing.maxima, strict=True))
        return cls(tuple(low[f] for f in FEATURES), tuple(high[f] for f in FEATURES))

    def flags(self, song: Mapping[str, float]) -> list[RangeFlag]:
        """Features of ``song`` outside these ranges."""
        return range_flags(song, self.features, self.minima, self.maxima)


class ScalingError(JukeboxError, ValueError):
    """An uploaded scaling file is unusable; the message says why and how to fix it."""


def read_scaling(filename: str, data: bytes) -> FeatureRanges:
    """Minima and maxima from an uploaded JSON file, in :data:`FEATURES` order.

    The formats are those of :func:`jukebox.serving.client.load_scaling`, which also refuses
    a pickled scaler before anything reads it.
    """
    try:
        minima, maxima = load_scaling(data, name=filename)
    except ServingError as error:
        raise ScalingError(f"{filename}: {error}") from None
    return FeatureRanges(tuple(minima), tuple(maxima))


# --------------------------------------------------------------------------------------------
# The model's answer, for people
# --------------------------------------------------------------------------------------------


def flag_emoji(code: str) -> str:
    """The flag of an ISO alpha-2 code (``"DE"`` -> 🇩🇪); empty for anything else."""
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        return ""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code.upper())


def country_label(code: str) -> str:
    """``"🇩🇪 Germany"``."""
    flag = flag_emoji(code)
    return f"{flag} {country_name(code)}" if flag else country_name(code)


def _sorted(probabilities: Mapping[str, float]) -> list[tuple[str, float]]:
    # Ties are broken by code, so equal answers always list in the same order.
    return sorted(((c, float(p)) for c, p in probabilities.items()), key=lambda i: (-i[1], i[0]))


def top_countries(probabilities: Mapping[str, float], n: int | None = 10) -> pd.DataFrame:
    """The ``n`` most likely countries, best first: rank, code, country (flag and name), chance."""
    ranked = _sorted(probabilities)[:n] if n else _sorted(probabilities)
    return pd.DataFrame(
        {
            "rank": range(1, len(ranked) + 1),
            "code": [c for c, _ in ranked],
            "country": [country_label(c) for c, _ in ranked],
            "probability": [p for _, p in ranked],
        }
    )


def comparison_table(
    left: Mapping[str, float],
    right: Mapping[str, float],
    labels: tuple[str, str] = ("A", "B"),
    n: int | None = None,
) -> pd.DataFrame:
    """Two answers side by side: country, each probability and the difference (right - left).

    Sorted by the larger of the two probabilities, so the countries that matter to either answer
    come first; a country only one model knows gets 0 in the other.
    """
    codes = sorted(set(left) | set(right))
    table = pd.DataFrame(
        {
            "code": codes,
            "country": [country_label(c) for c in codes],
            labels[0]: [float(left.get(c, 0.0)) for c in codes],
            labels[1]: [float(right.get(c, 0.0)) for c in codes],
        }
    )
    table["difference"] = table[labels[1]] - table[labels[0]]
    table["_best"] = table[[labels[0], labels[1]]].max(axis=1)
    table = table.sort_values(["_best", "code"], ascending=[False, True], kind="stable")
    table = table.drop(columns="_best").reset_index(drop=True)
    return table.head(n) if n else table


def headline(probabilities: Mapping[str, float]) -> str:
    """One sentence for the answer: where it is most likely to chart, and how sure."""
    ranked = _sorted(probabilities)
    if not ranked:
        return "The model returned no countries."
    code, best = ranked[0]
    even = 1 / len(ranked)
    sentence = f"Most likely to chart in {country_label(code)} ({best:.1%})"
    if best < 1.5 * even:
        return sentence + ", but the model sees no clear favourite."
    return sentence + "."


def rows_for(songs: Iterable[Mapping[str, float]]) -> pd.DataFrame:
    """Songs as request rows: one row per song, one column per feature, in model order."""
    return pd.DataFrame([{f: float(song[f]) for f in FEATURES} for song in songs], columns=FEATURES)


# --------------------------------------------------------------------------------------------
# Asking a model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A model to ask: server address, model name and version, and what is known about it.

    ``training`` holds the features' minima and maxima seen in training and ``labels`` the
    country codes in output order (both from the bundle's preprocessing.json, when known; an
    uploaded scaling also tells the training ranges). ``scaling`` is set only for models from
    elsewhere that expect min-max scaled inputs. ``auth`` says the server wants a bearer token.
    """

    url: str
    model_name: str
    version: str | None = None
    token: str | None = field(default=None, repr=False)
    label: str = ""
    training: FeatureRanges | None = None
    scaling: FeatureRanges | None = None
    labels: tuple[str, ...] | None = None
    auth: bool = False

    @property
    def title(self) -> str:
        if self.label:
            return self.label
        version = f" v{self.version}" if self.version else ""
        return f"{self.model_name}{version}"

    @property
    def infer_url(self) -> str:
        return base_url(self.url) + model_path(self.model_name, self.version) + "/infer"


@dataclass(frozen=True)
class Prediction:
    """A model's answer for some songs: one probability per label (country code) for each
    song, and the exact JSON that went over the wire (the token is never part of it)."""

    target: Target
    probabilities: tuple[dict[str, float], ...]
    request: dict
    response: dict
    elapsed_ms: float
    notes: tuple[str, ...] = ()

    @property
    def infer_url(self) -> str:
        return self.target.infer_url


def predict(
    target: Target, songs: Sequence[Mapping[str, float]], timeout: float = 5.0
) -> Prediction:
    """Ask ``target`` about ``songs`` in one request of one row per song.

    Raises :class:`~jukebox.serving.client.ServingError` with a sentence a person can act on
    when the endpoint is dead, slow, wants a token or refuses the request.
    """
    rows = rows_for(songs)
    if target.scaling is not None:
        rows = scale_rows(rows, target.scaling.minima, target.scaling.maxima)
    result = infer(
        target.url,
        target.model_name,
        rows,
        version=target.version,
        token=target.token,
        timeout=timeout,
        labels=target.labels,
    )
    probabilities = tuple(
        {str(code): float(p) for code, p in row.items()}
        for row in result.probabilities.to_dict(orient="records")
    )
    notes = list(result.notes)
    if result.labels_source == "indices":
        notes.append("The model did not say which country each output is, so outputs are numbered.")
    return Prediction(
        target, probabilities, result.request, result.response, result.elapsed_ms, tuple(notes)
    )


def curl_command(infer_url: str, request: Mapping, with_token: bool = False) -> str:
    """The same request from a terminal; a token is referred to as ``$TOKEN``, never written."""
    body = json.dumps(request, separators=(",", ":"))
    auth = ' -H "Authorization: Bearer $TOKEN"' if with_token else ""
    return f"curl -s -X POST {infer_url} -H 'Content-Type: application/json'{auth} -d '{body}'"


def deployment_targets(settings: Settings) -> list[Target]:
    """Every deployment of the Deploy page that answers now, with its labels and training
    ranges read from the bundle it serves (so values outside training can be flagged)."""
    from jukebox.serving.deploy import list_deployments

    targets = []
    for deployment in list_deployments(settings):
        if not deployment.ready:
            continue
        preprocessing = _served_preprocessing(settings, deployment)
        targets.append(
            Target(
                url=deployment.endpoint,
                model_name=deployment.name,
                token=settings.serving_token,
                label=f"{deployment.name} · {deployment.source} · {deployment.endpoint}",
                training=FeatureRanges.from_preprocessing(preprocessing) if preprocessing else None,
                labels=preprocessing.labels if preprocessing else None,
                auth=deployment.auth,
            )
        )
    return targets


def _served_preprocessing(settings: Settings, deployment) -> Preprocessing | None:
    """The preprocessing.json of the bundle a local deployment serves: the deployment's own
    bundle directory, or the one its server job fetched from the registry (its status.json)."""
    from jukebox.jobs import load_job
    from jukebox.serving.deploy import JOB_KIND

    bundle = deployment.bundle
    if not bundle:
        job = load_job(settings.jobs_dir(JOB_KIND) / deployment.job_id)
        bundle = job.status().get("bundle") if job else None
    if not bundle:
        return None
    try:
        return read_bundle(bundle).preprocessing
    except BundleError:
        return None
