"""Songs in plain words: presets, dials in real units, feature values and range flags as text.

What the Predict page says about a song, as pure functions over data (no Streamlit): presets
for people with no song in mind, a dial per feature with a question and real units (percent,
m:ss, dB, BPM, note names), the way back from dial values to raw features, and the sentence
for a value outside what the model saw in training (:class:`RangeFlag`, found by
:meth:`jukebox.data.preprocessing.Preprocessing.range_flags`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from jukebox.data.catalogue import Song
from jukebox.data.feature_words import KEY_NAMES
from jukebox.data.preprocessing import RangeFlag
from jukebox.data.schema import FEATURES

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
            "Reggaeton groove at 96 beats per minute, loud, sunny and made for dancing.",
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
    unit_words: str = ""
    """The unit in plain words, said beside its abbreviation ("beats per minute", "BPM")."""

    @property
    def unit_label(self) -> str:
        """``"beats per minute, BPM"``: the abbreviation never alone, for people who do not
        know it."""
        return f"{self.unit_words}, {self.unit}" if self.unit_words else self.unit


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
             unit="BPM", unit_words="beats per minute"),
        Dial("loudness", "How loud?", "Average loudness in decibels; 0 dB is the loudest a "
             "track can be mastered, most chart songs sit between -12 and -3 dB.", "number",
             low=-40.0, high=5.0, step=0.1, unit="dB", unit_words="decibels"),
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
    """One line about a song in plain words: ``"3:20 long · tempo 96 BPM · G major · loudness
    -4.5 dB · 82 % danceable · …"`` (each unit beside the word it measures)."""
    parts = [
        f"{format_value('duration_ms', song['duration_ms'])} long",
        f"tempo {format_value('tempo', song['tempo'])}",
        f"{format_value('key', song['key'])} {format_value('mode', song['mode'])}",
        f"loudness {format_value('loudness', song['loudness'])}",
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


def no_match_sentence(query: str, examples: list[str], invented: bool = False) -> str:
    """What a search that found nothing says: why, and songs of the list that are there.

    On a synthetic data set a person searches for songs they know, which cannot be there, so
    the sentence says the titles are invented rather than asking for fewer words.
    """
    some = " or ".join(f"“{e}”" for e in examples[:2])
    if invented:
        tail = f" such as {some}" if some else ""
        return (
            f"No song here matches “{query}”: this data set's titles are invented, so search "
            f"for one of its own{tail}, or get the workshop's real songs above."
        )
    tail = f", or search for {some}" if some else ""
    return f"No song's title or artists hold “{query}”: try fewer words{tail}."


# --------------------------------------------------------------------------------------------
# What training saw
# --------------------------------------------------------------------------------------------


def flag_sentence(flag: RangeFlag) -> str:
    """A value outside training in words: ``"How fast: 230 BPM is above anything the model saw
    in training (highest 200 BPM), so the model is guessing there."``

    The comparison was made in raw values; the two figures are printed with as many digits as
    it takes for them to differ, so the sentence never reads "100 % is above … (highest 100 %)".
    """
    question = DIALS[flag.feature].question.rstrip("?")
    if flag.below:
        side, which, bound = "below", "lowest", flag.low
    else:
        side, which, bound = "above", "highest", flag.high
    shown, limit = distinct_values(flag.feature, flag.value, bound)
    return (
        f"{question}: {shown} is {side} anything the model saw in training "
        f"({which} {limit}), so the model is guessing there."
    )


def distinct_values(feature: str, value: float, other: float) -> tuple[str, str]:
    """``value`` and ``other`` in words, with more digits than usual when that is what it takes
    to tell them apart (``"100.0 %"`` and ``"99.6 %"`` rather than ``"100 %"`` twice)."""
    first, second = format_value(feature, value), format_value(feature, other)
    dial = DIALS[feature]
    for digits in range(1, 8):
        if first != second:
            break
        if dial.kind == "percent":
            first, second = (f"{v * 100:.{digits}f} %" for v in (value, other))
        elif dial.kind == "seconds":
            first, second = (f"{v / 1000:.{digits}f} s" for v in (value, other))
        else:
            first, second = (f"{v:.{digits}f} {dial.unit}".strip() for v in (value, other))
    return first, second
