"""Explanations in a stakeholder's words: points of probability, values in the dials' units.

"Its danceability (82 %) adds 6 points for Brazil." "To reach 30 % in Turkey (now 12 %),
make it slower (120 BPM → 95 BPM) and more acoustic (10 % → 45 %)." A point is one percent of
probability; values are said as the Predict page's dials show them (percent, m:ss, dB, BPM,
key names, major/minor). No technical term: no "SHAP", no "feature", no "probability".
The vocabulary shared with other parts lives in :mod:`jukebox.data.feature_words`.
"""

from __future__ import annotations

import pandas as pd

from jukebox.data.countries import country_name
from jukebox.data.feature_words import DIRECTIONS, NOUNS, say_value
from jukebox.explain.attributions import Attribution
from jukebox.explain.counterfactuals import Counterfactual

PLURAL = ("is_explicit", "speechiness")
"""Features whose subject is plural: "its explicit lyrics", "its spoken words"."""


def points(share: float) -> int:
    """A share of probability in whole points: ``0.063`` -> ``6`` (sign dropped)."""
    return int(round(abs(share) * 100))


def percent(share: float) -> str:
    """``0.312`` -> ``"31 %"``; under one percent with a decimal (``"0.3 %"``, ``"under 0.1
    %"``), so a small chance does not read as none."""
    if 0 < share < 0.0005:
        return "under 0.1 %"
    if share < 0.0095:
        return f"{share * 100:.1f} %"
    return f"{round(share * 100):.0f} %"


def subject(feature: str, raw: float) -> str:
    """What a song's value is called as the subject of a sentence: ``"its tempo (120 BPM)"``,
    ``"being in a minor key"``, ``"its explicit lyrics"``."""
    if feature == "mode":
        return f"being in a {say_value('mode', raw)} key"
    if feature == "key":
        name = say_value("key", raw)
        return "having no clear key" if round(raw) == -1 else f"being in {name}"
    if feature == "is_explicit":
        return "its explicit lyrics" if round(raw) == 1 else "its clean lyrics"
    return f"its {NOUNS[feature]} ({say_value(feature, raw)})"


def contribution_sentence(feature: str, raw: float, contribution: float, country: str) -> str:
    """One feature's part in words: ``"Its tempo (120 BPM) adds 6 points for Brazil."``."""
    name = country_name(country)
    n = points(contribution)
    amount = "less than a point" if n == 0 else f"{n} point{'s' if n != 1 else ''}"
    s = "" if feature in PLURAL else "s"  # "its explicit lyrics add", "its tempo adds"
    verb = f"add{s} {amount} for" if contribution >= 0 else f"take{s} {amount} away from"
    first = subject(feature, raw)
    return f"{first[0].upper()}{first[1:]} {verb} {name}."


def why_headline(attribution: Attribution) -> str:
    """``"Brazil: 31 % for this song, against 12 % for a typical song the model learned
    from."``"""
    return (
        f"{country_name(attribution.country)}: {percent(attribution.probability)} for this song, "
        f"against {percent(attribution.base)} for a typical song the model learned from."
    )


def why_sentences(attribution: Attribution, n: int = 3) -> list[str]:
    """The ``n`` largest parts of ``attribution`` (either way), largest first, one sentence
    each, with the points rounded as :func:`points` does."""
    return [
        contribution_sentence(f, attribution.song[f], value, attribution.country)
        for f, value in attribution.ranked()[:n]
    ]


def why_table(attribution: Attribution) -> pd.DataFrame:
    """Every part of ``attribution`` for a table: what (in words), the song's value (in its
    unit) and points (signed, one decimal), largest effect first."""
    rows = [
        {
            "what": NOUNS[f],
            "this song": say_value(f, attribution.song[f]),
            "points": round(value * 100, 1),
        }
        for f, value in attribution.ranked()
    ]
    return pd.DataFrame(rows, columns=["what", "this song", "points"])


def change_phrase(feature: str, before: float, after: float) -> str:
    """One change in words: ``"slower (120 BPM → 95 BPM)"``, ``"in a minor key (major →
    minor)"``, ``"in G (C → G)"``, ``"with explicit lyrics (no → yes)"``."""
    shown = f"({say_value(feature, before)} → {say_value(feature, after)})"
    if feature == "mode":
        return f"in a {say_value('mode', after)} key {shown}"
    if feature == "key":
        return f"in {say_value('key', after)} {shown}"
    if feature == "is_explicit":
        lyrics = "with explicit lyrics" if round(after) == 1 else "without explicit lyrics"
        return f"{lyrics} {shown}"
    lower, higher = DIRECTIONS[feature]
    return f"{higher if after > before else lower} {shown}"


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def what_if_sentence(counterfactual: Counterfactual) -> str:
    """The counterfactual in one sentence: what to change to reach the target, or that the
    song already does, or that it is not reachable within the ranges of the training songs."""
    cf = counterfactual
    name, goal = country_name(cf.country), percent(cf.target)
    now = percent(cf.probability_before)
    changes = [change_phrase(f, before, after) for f, (before, after) in cf.changes.items()]
    if cf.already:
        return f"It already reaches {goal} in {name}: {now} as it is."
    if cf.reached:
        return (
            f"To reach {goal} in {name} (now {now}), make it {_listed(changes)}: "
            f"that gives {percent(cf.probability_after)}."
        )
    allowed = _listed([NOUNS[f] for f in cf.allowed])
    closest = (
        f"; the closest is {percent(cf.probability_after)}, by making it {_listed(changes)}"
        if changes
        else ""
    )
    return (
        f"{goal} in {name} (now {now}) is not reachable within the ranges of the songs the "
        f"model learned from, changing only its {allowed}{closest}."
    )
