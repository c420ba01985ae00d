"""``python -m jukebox explain``: prints why and what if; a user's mistake is one sentence, 2."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from jukebox.__main__ import main
from jukebox.config import load_settings
from jukebox.data.catalogue import catalogue_path, load_catalogue
from jukebox.data.feature_words import say_value
from jukebox.data.schema import FEATURES
from jukebox.explain.counterfactuals import find_counterfactual
from jukebox.explain.predictor import bundle_reference, predictor_from_bundle
from jukebox.explain.songs import find_song
from jukebox.explain.words import what_if_sentence
from tests.bundles import make_tiny_bundle
from tests.explain.conftest import training_songs


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A JUKEBOX_HOME with a data set of three songs and one verified training."""
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path))
    settings = load_settings()
    songs = training_songs(3, seed=1)
    properties = pd.DataFrame(
        {
            "spotify_id": ["id-water", "id-espresso", "id-flowers"],
            "name": ["Water", "Espresso", "Flowers"],
            "artists": ["Tyla", "Sabrina Carpenter", "Miley Cyrus"],
            "event_timestamp": pd.to_datetime(["2024-05-01"] * 3),
            **{f: songs[f].to_numpy() for f in FEATURES},
            "time_signature": [4, 4, 4],
        }
    )
    for f in ("is_explicit", "duration_ms", "key", "mode"):
        properties[f] = properties[f].astype("int64")
    properties["is_explicit"] = properties["is_explicit"].astype(bool)
    path = catalogue_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    properties.to_parquet(path, index=False)
    make_tiny_bundle(settings.models_dir / "20260101-000000", reference=training_songs())
    return settings


def test_why_prints_sentences_and_a_table(home, capsys):
    assert main(["explain", "--song", "water", "--country", "br"]) == 0
    out = capsys.readouterr().out
    assert "Song: Water — Tyla" in out
    assert "training 20260101-000000" in out
    assert "Brazil: " in out and "for a typical song the model learned from" in out
    assert out.count("for Brazil.") + out.count("away from Brazil.") == 3
    assert "Every part, in points for Brazil" in out and "this song" in out


def test_why_without_a_country_explains_the_top_five(home, capsys):
    assert main(["explain", "--song", "id-espresso"]) == 0
    out = capsys.readouterr().out
    assert "Song: Espresso — Sabrina Carpenter" in out
    assert out.count("for a typical song the model learned from") == 4  # the tiny model has 4


def test_what_if_prints_the_proposal(home, capsys):
    bundle = home.models_dir / "20260101-000000"
    predict = predictor_from_bundle(bundle)
    label, song = find_song(load_catalogue(catalogue_path(home)), "Flowers")
    now = float(predict(pd.DataFrame([song]))["US"].iloc[0])
    target = round(now + 0.1, 2)
    expected = find_counterfactual(predict, song, "US", target, bundle_reference(bundle))
    assert expected.reached and expected.changes

    assert main(["explain", "--song", "Flowers", "--country", "US", "--target", str(target)]) == 0
    out = capsys.readouterr().out
    assert what_if_sentence(expected) in out
    assert "To reach" in out and "proposal" in out
    for feature, (before, after) in expected.changes.items():
        assert re.search(
            rf"{re.escape(say_value(feature, before))} +{re.escape(say_value(feature, after))}", out
        )


def test_a_bundle_given_by_path_is_used(home, tmp_path, capsys):
    make_tiny_bundle(tmp_path / "other", seed=3, reference=training_songs())
    assert main(["explain", "--song", "Water", "--bundle", str(tmp_path / "other")]) == 0
    assert f"Model: {tmp_path / 'other'}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--song", "Not Like Us"], "no song matches “Not Like Us”"),
        (["--song", "Water", "--country", "XX"], "“XX” is not a country code"),
        (["--song", "Water", "--country", "TR"], "does not predict 'TR'"),
        (["--song", "Water", "--target", "0.3"], "--target needs --country"),
        (["--song", "Water", "--country", "DE", "--target", "3"], "between 0 and 1"),
        (["--song", "Water", "--country", "DE", "--target", ".3", "--allow", "bpm"], "bpm is"),
    ],
)
def test_a_users_mistake_is_one_sentence_and_exit_2(home, capsys, argv, message):
    assert main(["explain", *argv]) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_a_bundle_without_reference_is_one_sentence(home, tmp_path, capsys):
    make_tiny_bundle(tmp_path / "old")
    assert main(["explain", "--song", "Water", "--bundle", str(tmp_path / "old")]) == 2
    assert "has no reference.parquet" in capsys.readouterr().err


def test_no_training_says_how_to_make_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path))
    assert main(["explain", "--song", "Water"]) == 2
    assert "python -m jukebox train" in capsys.readouterr().err
