"""Songs in plain words: presets, dials in real units and back, summaries, range flags."""

from __future__ import annotations

import pytest

from jukebox.data.schema import FEATURE_SPECS, FEATURES
from jukebox.ui import song_words
from tests.bundles import tiny_preprocessing


def _song(**overrides: float) -> dict[str, float]:
    return {**song_words.PRESETS["Typical chart song"].features, **overrides}


def test_presets_are_plausible_songs_near_real_charts():
    assert {"Latin dance hit", "Acoustic ballad", "Hard rock anthem", "K-pop banger",
            "Chill lo-fi"} <= set(song_words.PRESETS)  # fmt: skip
    for preset in song_words.PRESETS.values():
        assert tuple(preset.features) == FEATURES
        for feature, value in preset.features.items():
            spec = FEATURE_SPECS[feature]
            assert spec.low <= value <= spec.high, (preset.name, feature)
        # Within the 1 %-99 % band of real chart songs, so the model is never asked nonsense.
        assert 60_000 <= preset.features["duration_ms"] <= 400_000
        assert -20 <= preset.features["loudness"] <= -1.9
        assert 70 <= preset.features["tempo"] <= 195
        assert preset.description
    presets = song_words.PRESETS
    assert presets["Acoustic ballad"].features["acousticness"] > 0.7
    assert presets["Hard rock anthem"].features["energy"] > 0.85
    assert presets["Chill lo-fi"].features["instrumentalness"] > 0.5
    assert presets["Latin dance hit"].features["danceability"] > 0.75


def test_every_feature_has_a_dial_with_a_question():
    assert set(song_words.DIALS) == set(FEATURES)
    for dial in song_words.DIALS.values():
        assert dial.question.endswith("?")
        assert dial.help


@pytest.mark.parametrize(
    ("feature", "raw", "display", "words"),
    [
        ("duration_ms", 185_000, 185, "3:05"),
        ("duration_ms", 60_000, 60, "1:00"),
        ("loudness", -6.6, -6.6, "-6.6 dB"),
        ("tempo", 120.0, 120.0, "120 BPM"),
        ("key", 1, "C♯/D♭", "C♯/D♭"),
        ("key", -1, "no clear key", "no clear key"),
        ("mode", 0, "minor", "minor"),
        ("mode", 1, "major", "major"),
        ("is_explicit", 1, True, "yes"),
        ("is_explicit", 0, False, "no"),
        ("danceability", 0.7, 70, "70 %"),
    ],
)
def test_dials_show_real_units_and_convert_back(feature, raw, display, words):
    assert song_words.to_display(feature, raw) == display
    assert song_words.from_display(feature, display) == pytest.approx(raw)
    assert song_words.format_value(feature, raw) == words


def test_a_described_song_round_trips_through_the_dials():
    for preset in song_words.PRESETS.values():
        dials = song_words.dial_values(preset.features)
        assert song_words.describe_song(dials) == pytest.approx(dict(preset.features), abs=0.005)
        assert song_words.dial_values(song_words.describe_song(dials)) == dials


def test_untouched_dials_send_the_exact_song_and_moved_ones_their_value():
    song = _song(danceability=0.6954, tempo=121.83, duration_ms=0.0, loudness=-61.0)
    dials = song_words.dial_values(song)
    # Values beyond a dial sit at its end ...
    assert dials["duration_ms"] == song_words.DIALS["duration_ms"].low
    assert dials["loudness"] == song_words.DIALS["loudness"].low
    # ... and the song still goes out exactly as it is, until a dial moves.
    assert song_words.describe_song(dials, song) == song
    moved = song_words.describe_song({**dials, "danceability": 80, "key": "A"}, song)
    assert moved["danceability"] == 0.8
    assert moved["key"] == 9
    assert moved["tempo"] == 121.83


def test_display_values_that_mean_nothing_are_refused():
    with pytest.raises(ValueError, match="not a key"):
        song_words.from_display("key", "H")
    with pytest.raises(ValueError, match="major"):
        song_words.from_display("mode", "dorian")


def test_song_summary_and_feature_table_speak_plainly():
    song = song_words.PRESETS["Latin dance hit"].features
    assert song_words.song_summary(song).startswith(
        "3:20 long · tempo 96 BPM · G major · loudness -4.5 dB"
    )
    table = song_words.feature_table({"A": song, "B": song_words.PRESETS["Rap track"].features})
    assert list(table.columns) == ["A", "B"]
    assert table.loc["How fast?", "A"] == "96 BPM"
    assert table.loc["Explicit lyrics?", "B"] == "yes"


def test_range_flags_name_values_outside_training_in_words():
    scaling = tiny_preprocessing().reordered(FEATURES)
    assert scaling.range_flags(_song()) == []
    flags = scaling.range_flags(_song(tempo=230.0, loudness=-50.0, duration_ms=400_000))
    assert [f.feature for f in flags] == ["loudness", "tempo"]  # boundaries are inside
    tempo = flags[1]
    assert (tempo.value, tempo.low, tempo.high) == (230.0, 50.0, 200.0)
    sentence = song_words.flag_sentence(tempo)
    assert "230 BPM" in sentence and "above" in sentence and "200 BPM" in sentence
    below = song_words.flag_sentence(flags[0])
    assert "below" in below and "-50 dB" in below


def test_a_flag_never_prints_the_same_figure_on_both_sides():
    """Issue 11, bug 4: "100 % is above anything the model saw (highest 100 %)"."""
    from jukebox.data.preprocessing import RangeFlag

    energy = song_words.flag_sentence(RangeFlag("energy", 1.0, 0.01, 0.996))
    assert "100.0 %" in energy and "highest 99.6 %" in energy
    tempo = song_words.flag_sentence(RangeFlag("tempo", 200.04, 50.0, 200.01))
    assert "200.04 BPM" in tempo and "highest 200.01 BPM" in tempo
    low = song_words.flag_sentence(RangeFlag("duration_ms", 30_000.0, 30_400.0, 400_000.0))
    assert "30.0 s" in low and "lowest 30.4 s" in low
    # When the usual figures already differ, they are printed as usual.
    usual = song_words.flag_sentence(RangeFlag("energy", 1.0, 0.0, 0.8))
    assert "100 %" in usual and "highest 80 %" in usual
