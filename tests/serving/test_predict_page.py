"""The Predict page in AppTest against real local inference servers on tiny bundles."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests
from streamlit.testing.v1 import AppTest

from jukebox.config import load_settings
from jukebox.data import catalogue
from jukebox.data.schema import FEATURES
from jukebox.serving import deploy
from jukebox.ui.predict import country_text
from jukebox.ui.song_words import PRESETS
from tests.bundles import make_tiny_bundle
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "app.py")
SHARED_SONGS = Path(__file__).resolve().parents[3] / "shared" / "data" / "song_properties.parquet"
TOKEN = "test-token-not-a-secret"


def serve(bundle: Path, version: str, token: str | None = None) -> tuple[subprocess.Popen, str]:
    """``python -m jukebox serve`` on a free port, as a user starts it; returns once ready."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "JUKEBOX_SERVING_TOKEN"}
    if token:
        env["JUKEBOX_SERVING_TOKEN"] = token  # not on the command line, where anyone can read it
    process = subprocess.Popen(
        [sys.executable, "-m", "jukebox", "serve", "--bundle", str(bundle), "--name", "tiny",
         "--version", version, "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server did not start: {process.stdout.read().decode()}")
        try:
            if requests.get(url + "/v2/health/ready", timeout=1).ok:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("the server was not ready after 60 s")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Three real servers: model "tiny" v1, a retrained "tiny" v2, and v1 behind a token."""
    root = tmp_path_factory.mktemp("bundles")
    first = make_tiny_bundle(root / "v1", seed=0).path
    second = make_tiny_bundle(root / "v2", seed=7).path
    running = {"v1": serve(first, "1"), "v2": serve(second, "2"), "token": serve(first, "1", TOKEN)}
    yield {name: url for name, (_, url) in running.items()}
    for process, _ in running.values():
        process.terminate()
    for process, _ in running.values():
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        process.stdout.close()


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path / "home"))
    for name in ("MODEL_REGISTRY_URL", "KSERVE_NAMESPACE", "JUKEBOX_SERVING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "home"


def open_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("app_pages/predict.py")
    at.run()
    assert not at.exception
    return at


def server_ranking(url: str, song: dict, name: str = "tiny") -> list[str]:
    """The countries the server ranks for ``song``, asked with plain requests as a user would."""
    model = f"/v2/models/{name}"
    body = {
        "inputs": [
            {"name": f, "shape": [1, 1], "datatype": "FP32", "data": [song[f]]} for f in FEATURES
        ]
    }
    answer = requests.post(url + model + "/infer", json=body, timeout=5).json()
    labels = requests.get(url + model, timeout=5).json()["parameters"]["labels"]
    pairs = sorted(zip(answer["outputs"][0]["data"], labels, strict=True), reverse=True)
    return [country_text(code) for _, code in pairs]


def paste(at: AppTest, url: str, slot: str = "a", token: str = "") -> None:
    """The technical form: behind "Another server…" when nothing is deployed, else the last
    choice of the endpoint list."""
    if any(box.key == f"{slot}_target" for box in at.selectbox):
        at.selectbox(key=f"{slot}_target").select("📋 Paste an address…").run()
    at.text_input(key=f"{slot}_url").input(url)
    at.text_input(key=f"{slot}_model").input("tiny")
    if token:
        at.text_input(key=f"{slot}_token").input(token)
    at.run()


def shown_countries(at: AppTest, which: int = 0) -> list[str]:
    """Countries of the ``which``-th top-countries table on the page, in the order shown."""
    tables = [df.value for df in at.dataframe if {"rank", "country"} <= set(df.value.columns)]
    return tables[which]["country"].tolist()


def no_failure(at: AppTest) -> None:
    assert not at.exception
    assert not [e.value for e in at.error]


def test_without_a_deployment_the_page_says_how_to_get_one(home):
    at = open_page()
    assert any("No model is deployed yet, and none is registered" in i.value for i in at.info)
    assert any(link.proto.page.endswith("train") for link in at.get("page_link"))
    assert at.button(key="predict").disabled
    # The technical form waits behind "Another server…", not in the way.
    assert [e.label for e in at.expander] == ["🎛️ Adjust the sound in plain words",
                                              "Another server…"]  # fmt: skip
    assert not any(box.key == "a_target" for box in at.selectbox)
    assert at.text_input(key="a_url").value == ""
    no_failure(at)


@pytest.mark.slow  # starts the embedded registry and an inference server
def test_with_nothing_deployed_one_click_deploys_the_production_version(
    registry_settings, monkeypatch
):
    """Issue 11: Predict with nothing deployed offers the one action that helps."""
    monkeypatch.setenv("JUKEBOX_HOME", str(registry_settings.home))
    for name in ("MODEL_REGISTRY_URL", "JUKEBOX_SERVING_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert not deploy.list_deployments(registry_settings)
    try:
        at = open_page()
        offer = at.button(key="deploy_offer")
        assert offer.label == "🚀 Deploy the production model, version 1"
        assert offer.proto.type == "primary"
        offer.click().run()
        no_failure(at)
        (deployment,) = deploy.list_deployments(registry_settings)
        assert (deployment.name, deployment.model, deployment.version) == ("songs", "songs", "1")
        assert not any(b.key == "deploy_offer" for b in at.button)
        assert at.selectbox(key="a_target").value.startswith("The production model, version 1")
        at.button(key="predict").click().run()
        no_failure(at)
        assert len(shown_countries(at)) == 4
    finally:
        for deployment in deploy.list_deployments(registry_settings):
            deploy.stop_deployment(registry_settings, deployment.name)


@pytest.mark.slow
def test_a_preset_on_a_pasted_address_shows_the_servers_top_countries(home, servers):
    at = open_page()
    at.pills(key="a_preset").set_value("K-pop banger").run()
    paste(at, servers["v1"])
    at.button(key="predict").click().run()
    no_failure(at)

    expected = server_ranking(servers["v1"], PRESETS["K-pop banger"].features)
    assert shown_countries(at) == expected
    name = expected[0].rsplit(" (", 1)[0]  # "Germany (DE)": the headline names the country
    assert any(m.value.startswith(f"#### Most likely to chart in {name} (") for m in at.markdown)
    charts = at.get("plotly_chart")
    assert len(charts) == 2  # the map and the bar over every country
    # The exact JSON, ready to copy: the request holds the preset's raw features.
    request = json.loads(at.code[0].value)
    sent = {i["name"]: i["data"][0] for i in request["inputs"]}
    assert sent == pytest.approx(dict(PRESETS["K-pop banger"].features))
    response = json.loads(at.code[1].value)
    assert response["model_name"] == "tiny" and response["outputs"][0]["shape"] == [1, 4]

    # Moving a dial asks again by itself, and the answer follows.
    at.slider(key="a_tempo").set_value(60.0).run()
    changed = dict(PRESETS["K-pop banger"].features, tempo=60.0)
    assert shown_countries(at) == server_ranking(servers["v1"], changed)
    no_failure(at)


@pytest.mark.slow
def test_a_real_song_from_the_catalogue(home, servers):
    if not SHARED_SONGS.is_file():
        pytest.skip(f"{SHARED_SONGS} is absent")
    (home / "data").mkdir(parents=True)
    songs = pd.read_parquet(SHARED_SONGS).head(300)
    songs.to_parquet(home / "data" / "song_properties.parquet")
    row = songs.iloc[42]
    at = open_page()
    label = f"{row['name']} — {row['artists']}"
    at.selectbox(key="a_song").select(label).run()
    paste(at, servers["v1"] + "/v2/models/tiny")  # a model's own address works too
    at.button(key="predict").click().run()
    no_failure(at)
    song = {f: float(row[f]) for f in FEATURES}
    assert shown_countries(at) == server_ranking(servers["v1"], song)
    sent = {i["name"]: i["data"][0] for i in json.loads(at.code[0].value)["inputs"]}
    assert sent == pytest.approx(song)  # untouched dials send the song exactly


@pytest.mark.slow  # drives the app through several reruns
def test_a_link_can_name_the_song(home):
    if not SHARED_SONGS.is_file():
        pytest.skip(f"{SHARED_SONGS} is absent")
    (home / "data").mkdir(parents=True)
    pd.read_parquet(SHARED_SONGS).to_parquet(home / "data" / "song_properties.parquet")
    at = AppTest.from_file(APP, default_timeout=60)
    at.switch_page("app_pages/predict.py")
    at.query_params["song"] = "drake yeat"  # words of the title and the artists, any case
    at.run()
    no_failure(at)
    assert at.selectbox(key="a_song").value == "IDGAF (feat. Yeat) — Drake, Yeat"
    assert not at.warning
    # The count agrees with Explore's (songs after cleaning), and says why songs were merged.
    assert "13,215 songs" in at.selectbox(key="a_song").placeholder
    assert any(c.value.startswith("13,215 songs to pick from: of the data set's 14,173 songs, "
                                  "958 share their title") for c in at.caption)  # fmt: skip
    # The page shows the library's ranking: titles starting with the words first.
    at.text_input(key="a_query").input("Echo").run()
    no_failure(at)
    options = at.selectbox(key="a_song").options
    assert options[0].startswith("Echo") and at.selectbox(key="a_song").value == options[0]
    assert (
        options
        == catalogue.search_songs(
            catalogue.load_catalogue(home / "data" / "song_properties.parquet"), "Echo"
        )["label"].tolist()
    )


@pytest.mark.slow
def test_a_dead_endpoint_gets_a_clear_message_and_the_page_stays_usable(home, servers):
    at = open_page()
    paste(at, f"http://127.0.0.1:{free_port()}")
    at.button(key="predict").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "did not answer" in errors[0]
    assert "Traceback" not in errors[0]
    # Nothing was lost: pointing at a live server answers at once.
    at.text_input(key="a_url").input(servers["v1"]).run()
    no_failure(at)
    assert len(shown_countries(at)) == 4


@pytest.mark.slow
def test_a_server_that_never_answers_times_out_with_a_clear_message(home, servers):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        at = open_page()
        paste(at, f"http://127.0.0.1:{silent.getsockname()[1]}")
        at.button(key="predict").click().run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "did not answer" in errors[0] and "within" in errors[0]
    at.text_input(key="a_url").input(servers["v1"]).run()
    no_failure(at)
    assert len(shown_countries(at)) == 4


@pytest.mark.slow
def test_a_token_protected_server(home, servers):
    at = open_page()
    paste(at, servers["token"])
    at.button(key="predict").click().run()
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "token" in errors[0].lower()
    assert not at.exception
    at.text_input(key="a_token").input(TOKEN).run()
    no_failure(at)
    assert len(shown_countries(at)) == 4
    # The password field holds it; nothing the page writes does (JSON, curl, messages).
    written = [*at.markdown, *at.caption, *at.code, *at.error, *at.warning, *at.info]
    assert written and all(TOKEN not in str(element.value) for element in written)
    assert any("$TOKEN" in c.value for c in at.code)


@pytest.mark.slow
def test_one_song_on_two_model_versions_side_by_side(home, servers):
    at = open_page()
    at.segmented_control(key="compare").set_value("One song on two models").run()
    paste(at, servers["v1"], "a")
    paste(at, servers["v2"], "b")
    at.button(key="predict").click().run()
    no_failure(at)
    song = PRESETS["Latin dance hit"].features
    assert shown_countries(at, 0) == server_ranking(servers["v1"], song)
    assert shown_countries(at, 1) == server_ranking(servers["v2"], song)
    assert len(at.code) >= 4  # request and response of each model
    # Each answer says which version gave it (behind a canary, a deployment has two).
    captions = " ".join(c.value for c in at.caption)
    assert "Answered by tiny version 1." in captions and "Answered by tiny version 2." in captions


@pytest.mark.slow
def test_two_songs_side_by_side_in_one_request(home, servers):
    at = open_page()
    at.segmented_control(key="compare").set_value("Two songs").run()
    at.pills(key="b_preset").set_value("Acoustic ballad").run()
    paste(at, servers["v1"])
    at.button(key="predict").click().run()
    no_failure(at)
    assert shown_countries(at, 0) == server_ranking(
        servers["v1"], PRESETS["Latin dance hit"].features
    )
    assert shown_countries(at, 1) == server_ranking(
        servers["v1"], PRESETS["Acoustic ballad"].features
    )
    request = json.loads(at.code[0].value)
    assert all(i["shape"] == [2, 1] for i in request["inputs"])


@pytest.mark.slow
def test_values_outside_training_are_flagged(home, servers):
    at = open_page()
    paste(at, servers["v1"])
    # Scaling of the tiny model's training: tempo 50-200 BPM.
    scaling = {"minima": [0, 60_000, 0, 0, -1, -40, 0, 0, 0, 0, 0, 0, 50],
               "maxima": [1, 400_000, 1, 1, 11, 2, 1, 1, 1, 1, 1, 1, 200]}  # fmt: skip
    at.file_uploader(key="a_scaling").set_value(
        ("scaling.json", json.dumps(scaling).encode(), "application/json")
    )
    at.slider(key="a_tempo").set_value(215.0).run()
    at.button(key="predict").click().run()
    no_failure(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "How fast" in warnings and "215 BPM" in warnings and "200 BPM" in warnings
    # The uploaded scaling is applied before sending: the model from elsewhere gets 0-1 values.
    sent = {i["name"]: i["data"][0] for i in json.loads(at.code[0].value)["inputs"]}
    assert sent["tempo"] == pytest.approx((215 - 50) / 150)


@pytest.mark.slow  # drives the app through several reruns
def test_a_pickled_scaler_is_refused_unopened(home):
    at = open_page()
    paste(at, f"http://127.0.0.1:{free_port()}")  # nothing is asked: the file is refused first
    at.file_uploader(key="a_scaling").set_value(
        ("scaler.pkl", b"\x80\x04\x95 not really a pickle", "application/octet-stream")
    ).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "never opens pickles" in errors[0]
    assert at.button(key="predict").disabled


@pytest.mark.slow  # drives the app through several reruns
def test_a_scaling_file_that_is_not_json_is_named_in_the_error(home):
    at = open_page()
    paste(at, f"http://127.0.0.1:{free_port()}")  # nothing is asked: the file is refused first
    at.file_uploader(key="a_scaling").set_value(
        ("scaler.json", b"{not json", "application/json")
    ).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and re.match(r"scaler\.json: .*not JSON", errors[0])
    assert at.button(key="predict").disabled


@pytest.mark.slow
def test_a_deployment_of_the_deploy_page_with_its_training_ranges(home, tmp_path):
    settings = load_settings()
    bundle = make_tiny_bundle(tmp_path / "bundle")
    deployment = deploy.deploy_local(settings, "song-charts", bundle_dir=bundle.path, version="3")
    try:
        at = open_page()
        assert not any("No model is deployed yet" in i.value for i in at.info)
        choice = at.selectbox(key="a_target")
        assert choice.value.startswith("song-charts")  # the deployment comes first
        at.slider(key="a_tempo").set_value(215.0).run()
        at.button(key="predict").click().run()
        no_failure(at)
        song = dict(PRESETS["Latin dance hit"].features, tempo=215.0)
        assert shown_countries(at) == server_ranking(deployment.endpoint, song, name="song-charts")
        # Training ranges come from the bundle the deployment serves: tempo 50-200 BPM.
        warnings = " ".join(w.value for w in at.warning)
        assert "How fast" in warnings and "215 BPM" in warnings and "200 BPM" in warnings
    finally:
        deploy.stop_deployment(settings, "song-charts")


@pytest.mark.slow  # generates a data set and draws the page twice: over 2 s here
def test_on_synthetic_data_the_page_says_the_tastes_are_invented(home):
    """Issue 11: "K-pop banger" answering Romania puzzles a stakeholder unless told why."""
    from jukebox.data.store import save_current
    from tests.model.conftest import tiny_data

    at = open_page()
    assert not any("tastes are invented" in c.value for c in at.caption)
    save_current(tiny_data(n_songs=60, n_days=3), load_settings())
    at = open_page()
    no_failure(at)
    assert any("tastes are invented" in c.value for c in at.caption)


# --- Issue 17: a stakeholder finds a song they know --------------------------------------------


def real_songs(home: Path, n: int = 400) -> pd.DataFrame:
    """The first ``n`` real songs (with the well-known hits among them) as the data set's songs."""
    if not SHARED_SONGS.is_file():
        pytest.skip(f"{SHARED_SONGS} is absent")
    songs = pd.read_parquet(SHARED_SONGS)
    known = songs["name"].isin(catalogue.WELL_KNOWN)
    return pd.concat([songs[known], songs[~known].head(n)])


@pytest.mark.slow  # drives the app through several reruns
def test_typing_picks_the_best_match_in_both_songs(home):
    """Issue 17: the search selected nothing, so Predict stayed disabled; typing is enough."""
    (home / "data").mkdir(parents=True)
    real_songs(home).to_parquet(home / "data" / "song_properties.parquet")
    at = open_page()
    at.segmented_control(key="compare").set_value("Two songs").run()
    paste(at, f"http://127.0.0.1:{free_port()}")  # a model to ask; nothing is asked yet
    assert at.button(key="predict").disabled
    at.text_input(key="a_query").input("espresso").run()
    at.text_input(key="b_query").input("blinding lights").run()
    no_failure(at)
    assert at.selectbox(key="a_song").value == "Espresso — Sabrina Carpenter"
    assert at.selectbox(key="b_song").value == "Blinding Lights — The Weeknd"
    assert not at.button(key="predict").disabled
    # Another pick from the list stays picked; a new search picks its own best match.
    other = at.selectbox(key="a_song").options[-1]
    at.selectbox(key="a_song").select(other).run()
    assert at.selectbox(key="a_song").value == other
    at.text_input(key="a_query").input("flowers").run()
    assert at.selectbox(key="a_song").value == "Flowers — Miley Cyrus"
    # The placeholder names songs that are there.
    assert "Flowers" in at.text_input(key="a_query").placeholder


@pytest.mark.slow  # generates a data set and drives the app through several reruns
def test_invented_songs_are_said_and_the_real_list_is_one_click_away(home, monkeypatch):
    """Issue 17: on synthetic data "Blinding Lights" finds nothing; the page says why, suggests
    songs that are there, and fetches the real list in one click (offline: one sentence, and
    nothing is lost)."""
    from jukebox.data.store import save_current
    from tests.model.conftest import tiny_data

    real = real_songs(home)
    save_current(tiny_data(n_songs=60, n_days=3), load_settings())
    at = open_page()
    at.text_input(key="a_query").input("Blinding Lights").run()
    no_failure(at)
    said = " ".join(c.value for c in at.caption)
    assert "titles are invented" in said
    examples = catalogue.search_examples(
        catalogue.load_catalogue(home / "data" / "song_properties.parquet")
    )
    assert f"“{examples[0]}”" in said  # a song of this data set, to search for instead

    # Offline: one sentence, and the search, the song list and the choices stay as they were.
    monkeypatch.setattr(catalogue, "WORKSHOP_PROPERTIES_URL", f"http://127.0.0.1:{free_port()}/x")
    at.text_input(key="a_query").input(examples[0]).run()
    picked = at.selectbox(key="a_song").value
    at.button(key="get_real_songs").click().run()
    assert not at.exception
    (warning,) = [w.value for w in at.warning]
    assert "cannot be reached" in warning and "nothing changed" in warning
    assert warning.count(". ") == 0  # one sentence
    assert at.selectbox(key="a_song").value == picked
    assert not catalogue.real_songs_path(load_settings()).exists()

    # Online (here a local copy of the workshop's file): the real songs, chosen by typing.
    workshop = home.parent / "song_properties.parquet"
    real.to_parquet(workshop)
    monkeypatch.setattr(catalogue, "WORKSHOP_PROPERTIES_URL", str(workshop))
    at.button(key="get_real_songs").click().run()
    no_failure(at)
    assert not at.warning
    assert at.segmented_control(key="song_list").value.startswith("Real songs")
    at.text_input(key="a_query").input("Blinding Lights").run()
    assert at.selectbox(key="a_song").value == "Blinding Lights — The Weeknd"
    # The data set models learn from is untouched.
    assert catalogue.data_set_is_synthetic(load_settings())
