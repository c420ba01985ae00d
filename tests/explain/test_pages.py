"""Why and what if on the Predict page, and what each country listens for on the Registry page,
in AppTest against a real local deployment and the embedded registry."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from jukebox.config import load_settings
from jukebox.data.countries import country_name
from jukebox.explain import (
    explain_song,
    find_counterfactual,
    predictor_from_bundle,
    what_if_sentence,
    why_headline,
)
from jukebox.registry.register import register_bundle
from jukebox.registry.server.process import stop_server
from jukebox.serving import deploy
from jukebox.ui.song_words import PRESETS
from tests.bundles import make_tiny_bundle

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PRESET = "K-pop banger"


@pytest.fixture
def settings(tmp_path, monkeypatch, reference):
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path / "home"))
    for name in ("MODEL_REGISTRY_URL", "KSERVE_NAMESPACE", "JUKEBOX_SERVING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    yield settings
    for deployment in deploy.list_deployments(settings):
        deploy.stop_deployment(settings, deployment.name)
    stop_server(settings)


def page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.switch_page(f"app_pages/{name}.py")
    at.run()
    assert not at.exception
    return at


@pytest.mark.slow  # an inference server process
def test_predict_says_why_and_what_it_would_take(settings, tmp_path, reference):
    bundle = make_tiny_bundle(tmp_path / "tiny", reference=reference).path
    deploy.deploy_local(settings, "tiny", bundle_dir=bundle, log=False)
    song = dict(PRESETS[PRESET].features)
    at = page("predict")
    at.pills(key="a_preset").set_value(PRESET).run()
    at.button(key="predict").click().run()
    assert not at.exception and not at.error

    # Why: the top country by default, its headline and sentences, and the waterfall.
    predict = predictor_from_bundle(bundle)
    probabilities = predict.probabilities(np.array([[song[f] for f in predict.features]]))
    top = predict.labels[int(probabilities[0].argmax())]
    assert at.selectbox(key="why_country").value == top
    expected = explain_song(predict, song, reference, countries=[top])[0]
    assert any(m.value == f"**{why_headline(expected)}**" for m in at.markdown)
    assert any("Why " in chart.proto.spec for chart in at.get("plotly_chart"))

    # What if: another country, a chance it does not reach yet; the smallest change, confirmed
    # by asking the deployment itself.
    other = next(c for c in predict.labels if c != top)
    at.selectbox(key="what_if_country").select(other).run()
    now = float(probabilities[0][predict.country_index(other)])
    goal = min(99, int(now * 100) + 10)
    at.number_input(key="what_if_goal").set_value(goal).run()
    at.button(key="what_if_go").click().run()
    assert not at.exception
    found = find_counterfactual(predict, song, other, goal / 100, reference)
    said = [s.value for s in (*at.success, *at.warning)]
    assert what_if_sentence(found) in said
    if found.reached:
        (confirmed,) = [c.value for c in at.caption if "with the changed song" in c.value]
        chance = float(re.search(r"song: ([\d.]+)%", confirmed).group(1))
        assert chance >= goal - 0.05 and country_name(other) in confirmed


@pytest.mark.slow  # the embedded registry
def test_the_registry_shows_what_each_country_listens_for(settings, tmp_path, reference):
    bundle = make_tiny_bundle(tmp_path / "tiny", reference=reference).path
    register_bundle(bundle, "tiny", "1", settings=settings)
    at = page("registry")
    toggle = next(t for t in at.toggle if t.label.startswith("Work it out"))
    toggle.set_value(True).run()
    assert not at.exception and not at.error
    feature = next(s for s in at.selectbox if s.label == "Where does it matter most?")
    assert feature.value == "is_explicit" or feature.value in reference.columns
    table = next(d.value for d in at.dataframe if "#1" in d.value.columns)
    assert len(table) == 4  # one row per country the tiny model knows
    assert table["#1"].str.contains(r"\? \(\d+\.\d pts\)").all()
