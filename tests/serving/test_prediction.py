"""Asking a model: targets, one request of one row per song, scaling only for a model from
elsewhere, and the same request as curl without the token."""

from __future__ import annotations

import pandas as pd
import pytest

from jukebox.data.schema import FEATURES
from jukebox.serving.client import ServingError, rows_frame
from jukebox.serving.prediction import Target, answered_by_sentence, curl_command, predict
from jukebox.ui.song_words import PRESETS
from tests.bundles import tiny_preprocessing
from tests.serving.conftest import LABELS, MODEL


def test_request_rows_follow_model_order_and_curl_never_holds_a_token():
    rows = rows_frame([PRESETS["Rap track"].features])
    assert tuple(rows.columns) == FEATURES and rows.shape == (1, 13)
    target = Target("http://h:1/", "m", version="2", token="s3cret")
    assert "s3cret" not in repr(target)
    assert target.infer_url == "http://h:1/v2/models/m/versions/2/infer"
    assert target.title == "m v2"
    command = curl_command("http://h/v2/models/m/infer", {"inputs": []}, with_token=True)
    assert "$TOKEN" in command and "s3cret" not in command


def test_an_already_built_request_frame_is_not_built_again():
    frame = rows_frame([PRESETS["Rap track"].features, PRESETS["Acoustic ballad"].features])
    assert rows_frame(frame) is frame
    # A frame that is not yet one (other columns, text, a gap) is built and checked as before.
    assert rows_frame(frame[list(reversed(FEATURES))]) is not frame
    with pytest.raises(ServingError, match="must be a number"):
        rows_frame(frame.assign(tempo=float("nan")))


def test_predict_sends_raw_rows_and_scales_only_for_a_model_from_elsewhere(url):
    song = dict(PRESETS["Latin dance hit"].features)
    raw = predict(Target(url, MODEL, labels=LABELS), [song])
    sent = {i["name"]: i["data"][0] for i in raw.request["inputs"]}
    assert sent == pytest.approx(song)
    assert list(raw.probabilities[0]) == list(LABELS)
    # The answer names the version that gave it (the served model's version is "1").
    assert raw.answered_by == "1"
    assert answered_by_sentence(raw) == f"Answered by {MODEL} version 1."

    scaling = tiny_preprocessing()
    scaled = predict(Target(url, MODEL, scaling=scaling, training=scaling), [song])
    sent = {i["name"]: i["data"][0] for i in scaled.request["inputs"]}
    expected = scaling.scale(pd.DataFrame([song])).iloc[0].to_dict()
    assert sent == pytest.approx(expected)
    assert sent["tempo"] == pytest.approx((96 - 50) / 150)


def test_predict_asks_the_production_deployment_first_and_says_so(tmp_path, monkeypatch):
    """Issue 11, bug 2: with v1 (production) as `jukebox` and v2 as `jukebox-v2`, Predict
    asked v2 and put it in column A."""
    from jukebox.config import load_settings
    from jukebox.serving import prediction
    from jukebox.serving.deploy import Deployment

    def deployment(name, version, model="jukebox", bundle=None):
        return Deployment(name, model, version, bundle, f"job-{name}", "ready",
                          f"http://127.0.0.1:1/{name}", 0.0, 0.0)  # fmt: skip

    deployed = [
        deployment("aaa-bundle", "3", model=None, bundle="/b"),
        deployment("jukebox-v2", "2"),
        deployment("jukebox", "1"),
    ]
    monkeypatch.setattr(prediction, "list_deployments", lambda settings: deployed)
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    targets = prediction.deployment_targets(settings, production={"jukebox": "1"})
    assert [t.model_name for t in targets] == ["jukebox", "aaa-bundle", "jukebox-v2"]
    assert targets[0].production and targets[0].title.startswith("The production model, version 1")
    assert targets[2].title == "jukebox version 2 (jukebox-v2)"  # no address for a stakeholder
    # Without a production version the order is the Deploy page's.
    plain = prediction.deployment_targets(settings, production={})
    assert [t.model_name for t in plain] == ["aaa-bundle", "jukebox-v2", "jukebox"]
    assert not any(t.production for t in plain)


@pytest.mark.slow  # starts the embedded registry
def test_production_versions_are_read_from_the_registry(registry_settings):
    from jukebox.serving.prediction import production_versions

    found = production_versions(registry_settings, ["songs", "never-registered"])
    assert found == {"songs": "1"}
