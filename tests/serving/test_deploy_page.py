"""The Deploy page in Streamlit's AppTest, against a real embedded registry and real servers:
deploy a registered version, see it, replace it, stop it; an exported bundle; the KServe YAML;
bad input as sentences."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
import yaml
from streamlit.testing.v1 import AppTest

from jukebox.jobs import list_jobs
from jukebox.serving import deploy
from tests.serving.conftest import song_rows, workshop_request

# Every test here starts the embedded registry (the autouse fixture) and most a server.
pytestmark = pytest.mark.slow

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "deploy.py")


@pytest.fixture(autouse=True)
def _home(registry_settings, monkeypatch):
    """The shared home with its embedded registry and two registered versions of ``songs``."""
    home = registry_settings.home
    monkeypatch.setenv("JUKEBOX_HOME", str(home))
    monkeypatch.delenv("JUKEBOX_SERVING_TOKEN", raising=False)
    monkeypatch.delenv("MODEL_REGISTRY_URL", raising=False)
    monkeypatch.delenv("KSERVE_NAMESPACE", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(home / "no-kubeconfig"))


@pytest.fixture
def registered(registry_settings):
    yield registry_settings
    for deployment in deploy.list_deployments(registry_settings):
        deploy.stop_deployment(registry_settings, deployment.name)


def run_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return " ".join(e.value for e in elements)


def test_deploy_a_registered_version_see_it_replace_it_and_stop_it(registered):
    at = run_page()
    assert at.selectbox[0].value == "songs"
    # The production version comes first.
    assert at.selectbox[1].options[0].startswith("1 · production")
    assert at.selectbox[1].options[1].startswith("2 · ")
    at.button(key="deploy_local").click().run()
    assert not at.exception and not at.error, texts(at.error)
    message = texts(at.success)
    assert "songs serves songs version 1 at http://127.0.0.1:" in message
    assert "Recorded in the model registry" in message
    table = at.dataframe[0].value
    assert list(table["Deployment"]) == ["songs"]
    assert "ready" in table["State"].iloc[0] and table["Serves"].iloc[0] == "songs v1"
    # The pick stays on what was just deployed, and says who serves it.
    assert at.selectbox[1].index == 0
    assert "Version 1 is served by **songs**" in texts(at.caption)
    endpoint = table["Endpoint"].iloc[0]
    assert requests.get(endpoint + "/v2/models/songs/ready", timeout=5).status_code == 200
    # "Call it from code": REST with curl, and gRPC (served beside it) with tritonclient.
    examples = [c.value for c in at.code]
    assert any(e.startswith(f"curl -s {endpoint}/v2/models/songs/infer") for e in examples)
    assert any("grpcclient.InferenceServerClient('127.0.0.1:" in e for e in examples)

    # After a reload the deployment is still there; replace it with version 2.
    at = run_page()
    # Issue 11: the obvious next step is the next version beside it, under a fresh name ...
    assert at.selectbox[1].index == 1
    assert at.text_input[0].label == "Deployment name" and at.text_input[0].value == "songs-v2"
    button = at.button(key="deploy_local")
    assert (button.label, button.proto.type) == ("Deploy locally", "primary")
    # ... and replacing takes typing the running deployment's name: never the primary button.
    at.text_input[0].set_value("songs").run()
    button = at.button(key="deploy_local")
    assert (button.label, button.proto.type) == ("Replace songs", "secondary")
    assert not [b for b in at.button if b.proto.type == "primary"]
    at.selectbox[1].select_index(1).run()
    at.button(key="replace_selected").click().run()
    assert not at.error, texts(at.error)
    assert "songs serves songs version 2" in texts(at.success)
    table = at.dataframe[0].value
    assert table["Serves"].iloc[0] == "songs v2"
    assert table["Endpoint"].iloc[0] != endpoint

    at.button(key="stop_selected").click().run()
    assert "songs is stopped" in texts(at.success)
    assert "Nothing is deployed locally yet." in texts(at.info)


def test_a_canary_runs_beside_the_serving_version_and_is_promoted(registered):
    at = run_page()
    at.button(key="deploy_local").click().run()  # songs serves version 1
    assert not at.error, texts(at.error)
    at.selectbox[1].select_index(1).run()  # version 2 is the candidate
    assert at.button(key="start_canary").label == "Start songs version 2 as a canary"
    at.slider(key="canary_pct").set_value(30).run()
    at.button(key="start_canary").click().run()
    assert not at.error, texts(at.error)
    assert "songs version 2 answers 30 % of songs's requests as a canary" in texts(at.success)
    # Requests through the deployment's endpoint reach both versions, each named.
    endpoint = deploy.endpoint_of(registered, "songs")
    seen = set()
    for _ in range(40):
        answer = requests.post(
            endpoint + "/v2/models/songs/infer", json=workshop_request(song_rows(1)), timeout=10
        )
        seen.add(answer.headers["Jukebox-Served-Version"])
    assert seen == {"1", "2"}
    at.button(key="canary_refresh").click().run()
    side_by_side = at.dataframe[1].value
    assert list(side_by_side["Version"]) == ["1", "2"]
    assert list(side_by_side["Traffic %"]) == [70.0, 30.0]
    assert side_by_side["Requests"].sum() >= 40 and side_by_side["Errors"].sum() == 0
    assert "disagree on the top country" in texts(at.caption) or "No request" in texts(at.caption)

    at.button(key="promote").click().run()
    assert not at.error, texts(at.error)
    assert "songs now serves version 2 only" in texts(at.success)
    assert at.dataframe[0].value["Serves"].iloc[0] == "songs v2"
    answer = requests.post(
        endpoint + "/v2/models/songs/infer", json=workshop_request(song_rows(1)), timeout=10
    )
    assert answer.json()["model_version"] == "2"
    # The candidate is what it serves now: no canary of itself is offered.
    assert at.button(key="start_canary").disabled


def test_an_exported_bundle_deploys_and_a_bad_name_is_a_sentence(registered):
    at = run_page()
    at.radio[0].set_value("Exported bundle").run()
    at.text_input[1].set_value("Bad Name!").run()  # [0] is the bundle's version
    at.button(key="deploy_local").click().run()
    assert "cannot name a deployment" in texts(at.error)
    assert not at.exception

    at.text_input[1].set_value("from-bundle").run()
    at.number_input(key="l_workers").set_value(2).run()  # two processes behind its port
    at.button(key="deploy_local").click().run()
    assert "from-bundle serves bundle exported" in texts(at.success)
    deployment = deploy.get_deployment(registered, "from-bundle")
    [job] = [j for j in list_jobs(registered, "serve") if j.id == deployment.job_id]
    status = deploy.ServerStatus.read(job)
    assert status.workers == 2 and len(status.worker_pids) == 2
    at.button(key="stop_selected").click().run()
    assert "from-bundle is stopped" in texts(at.success)


def test_kserve_yaml_preview_and_apply_without_a_cluster(registered):
    at = run_page()
    # The embedded store is a folder: the page says a cluster cannot read it ...
    assert "only read models from S3" in texts(at.warning)
    assert "Say where the model is" in texts(at.info)
    # ... and once told where the model is, shows the manifest.
    at.text_input(key="k_name").set_value("song-charts").run()
    inputs = {t.label: t for t in at.text_input}
    inputs["Namespace (project)"].set_value("music").run()
    inputs = {t.label: t for t in at.text_input}
    inputs["Data connection"].set_value("aws-connection-models").run()
    inputs = {t.label: t for t in at.text_input}
    inputs["Path in the bucket"].set_value("models/songs").run()
    assert not at.error, texts(at.error)
    yaml_text = next(c.value for c in at.code if "InferenceService" in c.value)
    assert "name: onnx" in yaml_text and "runtime: kserve-ovms" in yaml_text
    assert "namespace: music" in yaml_text and "key: aws-connection-models" in yaml_text
    # The scaling the form sets is what the manifest holds, under KServe's names.
    at.number_input(key="k_min").set_value(0).run()
    at.number_input(key="k_max").set_value(5).run()
    at.selectbox(key="k_metric").set_value("concurrency").run()
    at.number_input(key="k_target").set_value(8).run()
    yaml_text = next(c.value for c in at.code if "InferenceService" in c.value)
    predictor = yaml.safe_load(yaml_text.split("---")[-1])["spec"]["predictor"]
    assert {
        k: predictor[k] for k in ("minReplicas", "maxReplicas", "scaleMetric", "scaleTarget")
    } == {"minReplicas": 0, "maxReplicas": 5, "scaleMetric": "concurrency", "scaleTarget": 8}
    at.number_input(key="k_canary").set_value(20).run()
    yaml_text = next(c.value for c in at.code if "InferenceService" in c.value)
    predictor = yaml.safe_load(yaml_text.split("---")[-1])["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 20
    at.number_input(key="k_min").set_value(7).run()  # above the max: the page says so
    assert "at least the minimum (7)" in texts(at.error)
    at.number_input(key="k_min").set_value(1).run()
    at.button[[b.label for b in at.button].index("Apply to the cluster")].click().run()
    assert "No Kubernetes cluster is configured" in texts(at.error)
    assert not at.exception


def test_an_unreachable_registry_is_a_sentence_and_bundles_still_deploy(monkeypatch):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("MODEL_REGISTRY_URL", dead)
    at = run_page()
    assert "Cannot reach the model registry" in texts(at.error)
    assert "You can still deploy an exported bundle" in texts(at.error)
    at.radio[0].set_value("Exported bundle").run()
    assert not at.exception
    assert at.button(key="deploy_local").disabled is False
