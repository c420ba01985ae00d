"""The sentences say what the numbers say: sign, rounded points, values in the dials' units."""

from __future__ import annotations

import re

import pytest

from jukebox.data.countries import country_name
from jukebox.data.feature_words import say_value
from jukebox.explain.attributions import Attribution, explain_song
from jukebox.explain.counterfactuals import Counterfactual, find_counterfactual
from jukebox.explain.words import (
    percent,
    points,
    subject,
    what_if_sentence,
    why_headline,
    why_sentences,
    why_table,
)

TECHNICAL = re.compile(r"shap|p-value|probabilit|feature|attribution|_", re.IGNORECASE)


@pytest.mark.parametrize(
    "feature, raw, said",
    [
        ("duration_ms", 185_000, "3:05"),
        ("tempo", 120.4, "120 BPM"),
        ("loudness", -6.63, "-6.6 dB"),
        ("danceability", 0.817, "82 %"),
        ("key", 7, "G"),
        ("key", -1, "no clear key"),
        ("mode", 0, "minor"),
        ("is_explicit", 1, "yes"),
    ],
)
def test_values_are_said_in_the_dials_units(feature, raw, said):
    assert say_value(feature, raw) == said


def _attribution(contributions: dict[str, float], song: dict[str, float]) -> Attribution:
    total = sum(contributions.values())
    return Attribution("BR", 0.2 + total, 0.2, contributions, song)


def test_each_sentence_carries_the_sign_and_rounded_points(predict, song, reference):
    for attribution in explain_song(predict, song, reference, top=4):
        sentences = why_sentences(attribution, n=13)
        assert len(sentences) == 13
        for (feature, value), sentence in zip(attribution.ranked(), sentences, strict=True):
            assert country_name(attribution.country) in sentence
            assert subject(feature, attribution.song[feature])[1:] in sentence
            assert not TECHNICAL.search(sentence), sentence
            n = points(value)
            if n == 0:
                assert "less than a point" in sentence
            else:
                assert re.search(rf"\b{n} points?\b", sentence), (sentence, value)
            assert bool(re.search(r"\badds? ", sentence)) == (value >= 0), (sentence, value)
            assert ("away from" in sentence) == (value < 0), (sentence, value)


def test_sentences_name_the_song_in_plain_words():
    song = {"danceability": 0.82, "mode": 0.0, "tempo": 96.0, "is_explicit": 1.0}
    attribution = _attribution(
        {"danceability": 0.061, "mode": -0.024, "tempo": 0.004, "is_explicit": -0.0101}, song
    )
    assert why_sentences(attribution, n=4) == [
        "Its danceability (82 %) adds 6 points for Brazil.",
        "Being in a minor key takes 2 points away from Brazil.",
        "Its explicit lyrics take 1 point away from Brazil.",
        "Its tempo (96 BPM) adds less than a point for Brazil.",
    ]
    assert why_headline(attribution) == (
        "Brazil: 23 % for this song, against 20 % for a typical song the model learned from."
    )
    table = why_table(attribution)
    assert list(table["points"]) == [6.1, -2.4, -1.0, 0.4]
    assert list(table["this song"]) == ["82 %", "minor", "yes", "96 BPM"]


@pytest.mark.parametrize(
    "share, said", [(0.312, "31 %"), (0.0996, "10 %"), (0.004, "0.4 %"), (0.0001, "under 0.1 %")]
)
def test_chances_are_said_in_percent_and_a_small_one_is_not_zero(share, said):
    assert percent(share) == said


def test_the_what_if_sentence_says_the_changes_in_units():
    cf = Counterfactual(
        country="TR",
        target=0.3,
        reached=True,
        song={"tempo": 120.0, "acousticness": 0.1, "mode": 1.0},
        proposal={"tempo": 95.0, "acousticness": 0.45, "mode": 0.0},
        probability_before=0.12,
        probability_after=0.31,
        changes={"tempo": (120.0, 95.0), "acousticness": (0.1, 0.45), "mode": (1.0, 0.0)},
    )
    assert what_if_sentence(cf) == (
        "To reach 30 % in Türkiye (now 12 %), make it slower (120 BPM → 95 BPM), more acoustic "
        "(10 % → 45 %) and in a minor key (major → minor): that gives 31 %."
    )


def test_what_if_sentences_match_the_search(predict, song, reference):
    reached = find_counterfactual(predict, song, "DE", 0.3, reference)
    unreachable = find_counterfactual(predict, song, "DE", 0.95, reference, ["mode"])
    for cf in (reached, unreachable):
        sentence = what_if_sentence(cf)
        assert not TECHNICAL.search(sentence), sentence
        assert f"{round(cf.target * 100)} %" in sentence and "Germany" in sentence
        for feature, (before, after) in cf.changes.items():
            assert f"{say_value(feature, before)} → {say_value(feature, after)}" in sentence
    assert "not reachable" not in what_if_sentence(reached)
    assert "not reachable within the ranges" in what_if_sentence(unreachable)
    assert "changing only its major or minor key" in what_if_sentence(unreachable)
