"""The Predict page's logic: catalogue search, presets, dials in real units, flags, tables."""

from __future__ import annotations

import json
import pickle

import pandas as pd
import pytest

from jukebox import predict
from jukebox.data.schema import FEATURE_SPECS, FEATURES
from tests.bundles import tiny_preprocessing


def _song(**overrides: float) -> dict[str, float]:
    return {**predict.PRESETS["Typical chart song"].features, **overrides}


@pytest.fixture
def catalogue() -> pd.DataFrame:
    rows = [
        ("1", "Water", "Tyla"),
        ("2", "Water Packet", "A.R. Rahman"),
        ("3", "IDGAF (feat. Yeat)", "Drake, Yeat"),
        ("4", "Espresso", "Sabrina Carpenter"),
        ("5", "Please Please Please", "Sabrina Carpenter"),
        ("6", "Broken", "Nobody"),
    ]
    frame = pd.DataFrame(rows, columns=["spotify_id", "name", "artists"])
    for feature in FEATURES:
        frame[feature] = predict.PRESETS["Typical chart song"].features[feature]
    frame.loc[5, "tempo"] = None  # a song the model cannot be asked about
    frame.loc[6] = ["7", "Water", "Tyla", *[0.5] * len(FEATURES)]  # a duplicate listing
    return predict.build_catalogue(frame)


def test_catalogue_keeps_usable_songs_once_and_counts_the_rest(catalogue):
    assert catalogue.attrs["unusable"] == 1
    assert "Broken — Nobody" not in set(catalogue["label"])
    assert catalogue["label"].tolist().count("Water — Tyla") == 1
    assert catalogue["label"].tolist() == sorted(catalogue["label"], key=str.casefold)


@pytest.mark.parametrize(
    ("query", "first", "expected"),
    [
        ("water", "Water — Tyla", {"Water — Tyla", "Water Packet — A.R. Rahman"}),
        ("WATER", "Water — Tyla", {"Water — Tyla", "Water Packet — A.R. Rahman"}),
        ("sabrina", None, {"Espresso — Sabrina Carpenter",
                           "Please Please Please — Sabrina Carpenter"}),
        ("tYlA", "Water — Tyla", {"Water — Tyla"}),
        ("drake yeat", "IDGAF (feat. Yeat) — Drake, Yeat", {"IDGAF (feat. Yeat) — Drake, Yeat"}),
        ("espresso carpenter", "Espresso — Sabrina Carpenter", {"Espresso — Sabrina Carpenter"}),
        ("nothing like this", None, set()),
    ],
)  # fmt: skip
def test_search_finds_by_name_and_artist_ignoring_case(catalogue, query, first, expected):
    found = predict.search_songs(catalogue, query)
    assert set(found["label"]) == expected
    if first:
        assert found["label"].iloc[0] == first


def test_search_ranks_exact_name_before_longer_names(catalogue):
    assert predict.search_songs(catalogue, "water")["label"].tolist()[0] == "Water — Tyla"
    assert len(predict.search_songs(catalogue, "", limit=3)) == 3


def test_presets_are_plausible_songs_near_real_charts():
    assert {"Latin dance hit", "Acoustic ballad", "Hard rock anthem", "K-pop banger",
            "Chill lo-fi"} <= set(predict.PRESETS)  # fmt: skip
    for preset in predict.PRESETS.values():
        assert tuple(preset.features) == FEATURES
        for feature, value in preset.features.items():
            spec = FEATURE_SPECS[feature]
            assert spec.low <= value <= spec.high, (preset.name, feature)
        # Within the 1 %-99 % band of real chart songs, so the model is never asked nonsense.
        assert 60_000 <= preset.features["duration_ms"] <= 400_000
        assert -20 <= preset.features["loudness"] <= -1.9
        assert 70 <= preset.features["tempo"] <= 195
        assert preset.description
    presets = predict.PRESETS
    assert presets["Acoustic ballad"].features["acousticness"] > 0.7
    assert presets["Hard rock anthem"].features["energy"] > 0.85
    assert presets["Chill lo-fi"].features["instrumentalness"] > 0.5
    assert presets["Latin dance hit"].features["danceability"] > 0.75


def test_every_feature_has_a_dial_with_a_question():
    assert set(predict.DIALS) == set(FEATURES)
    for dial in predict.DIALS.values():
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
    assert predict.to_display(feature, raw) == display
    assert predict.from_display(feature, display) == pytest.approx(raw)
    assert predict.format_value(feature, raw) == words


def test_a_described_song_round_trips_through_the_dials():
    for preset in predict.PRESETS.values():
        dials = predict.dial_values(preset.features)
        assert predict.describe_song(dials) == pytest.approx(dict(preset.features), abs=0.005)
        assert predict.dial_values(predict.describe_song(dials)) == dials


def test_untouched_dials_send_the_exact_song_and_moved_ones_their_value():
    song = _song(danceability=0.6954, tempo=121.83, duration_ms=0.0, loudness=-61.0)
    dials = predict.dial_values(song)
    # Values beyond a dial sit at its end ...
    assert dials["duration_ms"] == predict.DIALS["duration_ms"].low
    assert dials["loudness"] == predict.DIALS["loudness"].low
    # ... and the song still goes out exactly as it is, until a dial moves.
    assert predict.describe_song(dials, song) == song
    moved = predict.describe_song({**dials, "danceability": 80, "key": "A"}, song)
    assert moved["danceability"] == 0.8
    assert moved["key"] == 9
    assert moved["tempo"] == 121.83


def test_display_values_that_mean_nothing_are_refused():
    with pytest.raises(ValueError, match="not a key"):
        predict.from_display("key", "H")
    with pytest.raises(ValueError, match="major"):
        predict.from_display("mode", "dorian")


def test_song_summary_and_feature_table_speak_plainly():
    song = predict.PRESETS["Latin dance hit"].features
    assert predict.song_summary(song).startswith("3:20 · 96 BPM · G major · -4.5 dB")
    table = predict.feature_table({"A": song, "B": predict.PRESETS["Rap track"].features})
    assert list(table.columns) == ["A", "B"]
    assert table.loc["How fast?", "A"] == "96 BPM"
    assert table.loc["Explicit lyrics?", "B"] == "yes"


def test_range_flags_name_values_outside_training_in_words():
    scaling = predict.FeatureRanges.from_preprocessing(tiny_preprocessing())
    assert scaling.flags(_song()) == []
    flags = scaling.flags(_song(tempo=230.0, loudness=-50.0, duration_ms=400_000))
    assert [f.feature for f in flags] == ["loudness", "tempo"]  # boundaries are inside
    tempo = flags[1]
    assert (tempo.value, tempo.low, tempo.high) == (230.0, 50.0, 200.0)
    assert "230 BPM" in tempo.sentence and "above" in tempo.sentence and "200 BPM" in tempo.sentence
    assert "below" in flags[0].sentence and "-50 dB" in flags[0].sentence


def test_top_countries_are_ordered_with_names_and_flags():
    probabilities = {"US": 0.1, "DE": 0.5, "JP": 0.1, "BR": 0.3}
    top = predict.top_countries(probabilities, 3)
    assert top["code"].tolist() == ["DE", "BR", "JP"]  # a tie breaks by code
    assert top["rank"].tolist() == [1, 2, 3]
    assert top["country"].tolist() == ["🇩🇪 Germany", "🇧🇷 Brazil", "🇯🇵 Japan"]
    assert top["probability"].tolist() == [0.5, 0.3, 0.1]
    assert len(predict.top_countries(probabilities, None)) == 4
    assert predict.headline(probabilities) == "Most likely to chart in 🇩🇪 Germany (50.0%)."
    assert "no clear favourite" in predict.headline(
        {"DE": 0.26, "US": 0.25, "JP": 0.25, "BR": 0.24}
    )


def test_comparison_table_puts_what_matters_to_either_first():
    left = {"DE": 0.6, "US": 0.3, "JP": 0.1}
    right = {"DE": 0.1, "US": 0.2, "JP": 0.7}
    table = predict.comparison_table(left, right, ("old", "new"))
    assert table["code"].tolist() == ["JP", "DE", "US"]
    assert table.columns.tolist() == ["code", "country", "old", "new", "difference"]
    assert table.loc[0, "difference"] == pytest.approx(0.6)
    only_left = predict.comparison_table({"DE": 1.0}, {"US": 1.0})
    assert set(only_left["code"]) == {"DE", "US"} and only_left["A"].sum() == 1.0


def test_scaling_json_is_read_in_feature_order():
    low = [0, 1, 0, 0, -1, -60, 0, 0, 0, 0, 0, 0, 0]
    high = [1, 900_000, 1, 1, 11, 5, 1, 1, 1, 1, 1, 1, 250]
    as_lists = json.dumps({"minima": low, "maxima": high}).encode()
    reordered = json.dumps({"features": list(reversed(FEATURES)),
                            "minima": low[::-1], "maxima": high[::-1]}).encode()  # fmt: skip
    for data in (as_lists, reordered):
        scaling = predict.read_scaling("scaler.json", data)
        assert scaling.minima == tuple(map(float, low))
        assert scaling.maxima == tuple(map(float, high))
        assert scaling.flags(_song(tempo=251.0))[0].feature == "tempo"


class _Exploding:
    """Unpickling this runs code: what a malicious 'scaler.pkl' would do."""

    def __reduce__(self):
        return (pytest.fail, ("a pickle was loaded",))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("scaler.pkl", pickle.dumps(_Exploding()), "never opens pickles"),
        ("scaler.json", pickle.dumps(_Exploding()), "never opens pickles"),
        ("scaler.joblib", b"anything", "never opens pickles"),
        ("scaler.json", b"{not json", "scaler.json: .*not JSON"),
        ("scaler.json", b"[1, 2]", "JSON object"),
        ("scaler.json", b'{"minima": [0, 1]}', "minima.*maxima"),
        ("scaler.json", b'{"minima": [0, 1], "maxima": [1, 2]}', "2 minima"),
    ],
)  # fmt: skip
def test_bad_scaling_files_get_a_sentence_and_pickles_are_never_loaded(name, data, message):
    with pytest.raises(predict.ScalingError, match=message):
        predict.read_scaling(name, data)


def test_request_rows_follow_model_order_and_curl_never_holds_a_token():
    rows = predict.rows_for([predict.PRESETS["Rap track"].features])
    assert tuple(rows.columns) == FEATURES and rows.shape == (1, 13)
    target = predict.Target("http://h:1/", "m", version="2", token="s3cret")
    assert "s3cret" not in repr(target)
    assert target.infer_url == "http://h:1/v2/models/m/versions/2/infer"
    assert target.title == "m v2"
    command = predict.curl_command("http://h/v2/models/m/infer", {"inputs": []}, with_token=True)
    assert "$TOKEN" in command and "s3cret" not in command


def test_flag_emoji():
    assert predict.flag_emoji("de") == "🇩🇪"
    assert predict.flag_emoji("output_3") == ""
    assert predict.country_label("3") == "3"  # a model from elsewhere may number its outputs
