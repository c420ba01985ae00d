"""The KServe InferenceService: the manifest the OpenShift AI dashboard writes for OVMS, its YAML,
and applying and polling it through a stand-in for the kubernetes CustomObjectsApi."""

from __future__ import annotations

import json

import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from jukebox.serving import kserve
from jukebox.serving.kserve import (
    KServeError,
    KServeOptions,
    apply,
    build_inference_service,
    build_serving_runtime,
    status,
    storage_from_uri,
    to_yaml,
    wait_until_ready,
)
from jukebox.serving.registry_records import RegistryRecordError


def options(**overrides) -> KServeOptions:
    base = dict(
        name="song-charts",
        namespace="music",
        display_name="Song charts",
        storage_key="aws-connection-models",
        storage_path="models/songs",
        model_version="3",
    )
    return KServeOptions(**{**base, **overrides})


def test_manifest_is_what_the_dashboard_creates_for_ovms():
    manifest = build_inference_service(options(min_replicas=1, max_replicas=3))
    assert manifest["apiVersion"] == "serving.kserve.io/v1beta1"
    assert manifest["kind"] == "InferenceService"
    meta = manifest["metadata"]
    assert (meta["name"], meta["namespace"]) == ("song-charts", "music")
    assert meta["annotations"]["openshift.io/display-name"] == "Song charts"
    assert meta["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"
    assert "security.opendatahub.io/enable-auth" not in meta["annotations"]
    assert meta["labels"]["opendatahub.io/dashboard"] == "true"
    # No external route asked: a Serverless service stays inside the cluster.
    assert meta["labels"]["networking.knative.dev/visibility"] == "cluster-local"
    predictor = manifest["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (1, 3)
    model = predictor["model"]
    assert model["modelFormat"] == {"name": "onnx", "version": "1"}
    assert model["runtime"] == "kserve-ovms"
    assert model["storage"] == {"key": "aws-connection-models", "path": "models/songs"}
    assert "storageUri" not in model
    policy = model["args"][0].split("=", 1)[1]
    assert json.loads(policy) == {"specific": {"versions": [3]}}
    assert model["resources"] == {
        "requests": {"cpu": "1", "memory": "4Gi"},
        "limits": {"cpu": "2", "memory": "8Gi"},
    }


def test_external_route_and_token_auth_on_request():
    serverless = build_inference_service(options(external_route=True, token_auth=True))
    meta = serverless["metadata"]
    assert meta["annotations"]["security.opendatahub.io/enable-auth"] == "true"
    assert "networking.knative.dev/visibility" not in meta["labels"]

    raw = build_inference_service(options(deployment_mode="RawDeployment", external_route=True))
    meta = raw["metadata"]
    assert meta["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    assert meta["labels"]["networking.kserve.io/visibility"] == "exposed"
    assert "sidecar.istio.io/inject" not in meta["annotations"]

    internal_raw = build_inference_service(options(deployment_mode="RawDeployment"))
    assert "networking.kserve.io/visibility" not in internal_raw["metadata"]["labels"]


def test_storage_uri_instead_of_a_data_connection_and_no_policy_for_named_versions():
    model = build_inference_service(
        options(storage_key=None, storage_uri="s3://jukebox/models/songs", model_version="beta")
    )["spec"]["predictor"]["model"]
    assert model["storageUri"] == "s3://jukebox/models/songs"
    assert "storage" not in model and "args" not in model


def test_yaml_round_trips_and_keeps_strings_quoted():
    manifest = build_inference_service(options(token_auth=True))
    runtime = build_serving_runtime(namespace="music")
    text = to_yaml(manifest, runtime)
    documents = list(yaml.safe_load_all(text))
    assert documents == [manifest, runtime]
    assert text.startswith("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService")
    assert "version: '1'" in text  # a string, as KServe requires, not the integer 1
    assert runtime["spec"]["supportedModelFormats"][1] == {"name": "onnx", "version": "1"}


@pytest.mark.parametrize(
    "change, words",
    [
        ({"name": "Song_Charts"}, "lowercase"),
        ({"deployment_mode": "ModelMesh"}, "deployment mode"),
        ({"min_replicas": 3, "max_replicas": 1}, "number of replicas"),
        ({"storage_key": None, "storage_uri": None}, "where the model is"),
    ],
)
def test_bad_options_are_sentences(change, words):
    with pytest.raises(KServeError, match=words):
        build_inference_service(options(**change))


def test_storage_from_a_registered_uri():
    uri = "s3://jukebox/models/songs/3/?endpoint=https%3A%2F%2Fminio&defaultRegion=us-east-1"
    assert storage_from_uri(uri) == ("jukebox", "models/songs", "3")
    with pytest.raises(KServeError, match="only read models from S3"):
        storage_from_uri("file:///home/me/.jukebox/s3/jukebox/models/songs/3/")


class FakeCustomObjects:
    """Records calls like the kubernetes CustomObjectsApi; answers as a cluster would."""

    def __init__(self, exists: bool = False, fail: int | None = None, ready_after: int = 0):
        self.calls: list[tuple] = []
        self.exists = exists
        self.fail = fail
        self.polls = 0
        self.ready_after = ready_after

    def create_namespaced_custom_object(self, group, version, namespace, plural, body):
        self.calls.append(("create", group, version, namespace, plural, body))
        if self.fail:
            raise ApiException(status=self.fail, reason="Forbidden")
        if self.exists:
            raise ApiException(status=409, reason="AlreadyExists")
        return body

    def patch_namespaced_custom_object(self, group, version, namespace, plural, name, body):
        self.calls.append(("patch", group, version, namespace, plural, name, body))
        return body

    def get_namespaced_custom_object(self, group, version, namespace, plural, name):
        self.polls += 1
        ready = self.polls > self.ready_after
        return {
            "status": {
                "url": "https://song-charts-music.apps.example.com",
                "conditions": [
                    {
                        "type": "PredictorReady",
                        "status": "True" if ready else "False",
                        "message": "Revision missing",
                    },
                    {"type": "Ready", "status": "True" if ready else "False"},
                ],
            }
        }


def test_apply_creates_in_the_namespace():
    api = FakeCustomObjects()
    manifest = build_inference_service(options(namespace=None))
    apply(manifest, "music", api=api)
    [(verb, group, version, namespace, plural, body)] = api.calls
    assert (verb, group, version, namespace, plural) == (
        "create",
        "serving.kserve.io",
        "v1beta1",
        "music",
        "inferenceservices",
    )
    assert body["metadata"]["namespace"] == "music"
    assert body["spec"] == manifest["spec"]


def test_apply_patches_an_existing_service():
    api = FakeCustomObjects(exists=True)
    apply(build_inference_service(options()), "music", api=api)
    assert [call[0] for call in api.calls] == ["create", "patch"]
    assert api.calls[1][5] == "song-charts"


def test_apply_runtime_goes_to_servingruntimes():
    api = FakeCustomObjects()
    apply(build_serving_runtime(), "music", api=api)
    assert api.calls[0][2:5] == ("v1alpha1", "music", "servingruntimes")


def test_apply_refused_is_a_sentence():
    with pytest.raises(KServeError, match=r"refused .* \(HTTP 403\)"):
        apply(build_inference_service(options()), "music", api=FakeCustomObjects(fail=403))
    with pytest.raises(KServeError, match="KServe is not installed"):
        apply(build_inference_service(options()), "music", api=FakeCustomObjects(fail=404))


def test_status_and_polling_until_ready():
    api = FakeCustomObjects(ready_after=2)
    first = status("song-charts", "music", api=api)
    assert not first["ready"] and "Revision missing" in first["message"]
    seen = []
    final = wait_until_ready("song-charts", "music", api=api, poll=0.01, on_progress=seen.append)
    assert final["ready"] and final["url"].startswith("https://song-charts")
    assert [s["ready"] for s in seen] == [False, True]


def test_polling_gives_up_with_the_reason():
    with pytest.raises(KServeError, match="not ready after .*Revision missing"):
        wait_until_ready(
            "song-charts", "music", api=FakeCustomObjects(ready_after=99), timeout=0.05, poll=0.01
        )


def test_without_a_cluster_applying_says_how_to_log_in(tmp_path, monkeypatch):
    from jukebox.serving.kserve import custom_objects_api

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "none"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KServeError, match="No Kubernetes cluster is configured"):
        custom_objects_api()


def test_deploy_to_kserve_applies_waits_and_records(monkeypatch):
    """The Deploy page's one call: the runtime and the service applied in that order, polled
    until ready, then recorded in the registry as ``model`` ``version``."""
    recorded = []

    def record(settings, options, model, version, url):
        recorded.append((options.name, model, version, url))
        return "42"

    monkeypatch.setattr(kserve, "record_in_registry", record)
    api = FakeCustomObjects(ready_after=1)
    said = []
    deployed = kserve.deploy_to_kserve(
        None, options(), model="songs", version="3", api=api, poll=0.01, on_progress=said.append
    )
    assert [(call[0], call[4]) for call in api.calls] == [
        ("create", "servingruntimes"),
        ("create", "inferenceservices"),
    ]
    assert deployed == kserve.KServeDeployment(
        "song-charts", "music", "https://song-charts-music.apps.example.com", registry_id="42"
    )
    assert recorded == [("song-charts", "songs", "3", deployed.url)]
    applied = ["ServingRuntime kserve-ovms applied.", "InferenceService song-charts applied."]
    assert said[:2] == applied
    assert "Revision missing" in said[2] and said[-1] == "ready"


def test_deploy_to_kserve_without_a_runtime_or_a_registered_model_records_nothing(monkeypatch):
    monkeypatch.setattr(kserve, "record_in_registry", lambda *a: pytest.fail("recorded"))
    api = FakeCustomObjects()
    deployed = kserve.deploy_to_kserve(None, options(), with_runtime=False, api=api, poll=0.01)
    assert [call[4] for call in api.calls] == ["inferenceservices"]
    assert deployed.registry_id is None and deployed.registry_error is None


def test_a_failed_registry_record_does_not_undo_the_kserve_deployment(monkeypatch):
    def refuse(*args):
        raise RegistryRecordError("Cannot reach the model registry to record the deployment.")

    monkeypatch.setattr(kserve, "record_in_registry", refuse)
    deployed = kserve.deploy_to_kserve(
        None, options(), model="songs", version="3", api=FakeCustomObjects(), poll=0.01
    )
    assert deployed.url and deployed.registry_id is None
    assert "Cannot reach the model registry" in deployed.registry_error


def test_deploy_to_kserve_errors_are_sentences():
    with pytest.raises(KServeError, match="which namespace"):
        kserve.deploy_to_kserve(None, options(namespace=None), api=FakeCustomObjects())
    with pytest.raises(KServeError, match=r"refused .* \(HTTP 403\)"):
        kserve.deploy_to_kserve(None, options(), api=FakeCustomObjects(fail=403))
    with pytest.raises(KServeError, match="not ready after"):
        kserve.deploy_to_kserve(
            None, options(), api=FakeCustomObjects(ready_after=99), timeout=0.05, poll=0.01
        )


def test_the_payload_logger_points_at_trustyai_in_the_namespace_by_default():
    predictor = build_inference_service(options())["spec"]["predictor"]
    assert predictor["logger"] == {
        "mode": "all",
        "url": "http://trustyai-service.music.svc.cluster.local",
    }
    # As KServe's examples write it: beside the model, in the predictor.
    assert list(predictor) == ["minReplicas", "maxReplicas", "logger", "model"]
    assert (
        "logger" not in build_inference_service(options(payload_logging=False))["spec"]["predictor"]
    )
    elsewhere = options(logger_url="https://trustyai.example:8443", logger_mode="request")
    assert build_inference_service(elsewhere)["spec"]["predictor"]["logger"] == {
        "mode": "request",
        "url": "https://trustyai.example:8443",
    }
    with pytest.raises(KServeError, match="logger mode"):
        build_inference_service(options(logger_mode="everything"))
    with pytest.raises(KServeError, match="not a URL"):
        build_inference_service(options(logger_url="trustyai-service:80"))
    text = to_yaml(build_inference_service(options()))
    assert "logger:\n      mode: all\n      url: http://trustyai-service.music" in text


def test_trustyai_url_is_where_a_deployment_logs():
    from jukebox.config import load_settings

    settings = load_settings(
        {"TRUSTYAI_URL": "https://trustyai.apps.example", "TRUSTYAI_TOKEN": "t"}
    )
    assert (settings.trustyai_url, settings.trustyai_token) == (
        "https://trustyai.apps.example",
        "t",
    )
    assert "trustyai_token" not in repr(settings)  # a secret stays out of logs
    assert kserve.monitoring_url("music", settings) == "https://trustyai.apps.example"
    assert kserve.monitoring_url("music", load_settings({})) == (
        "http://trustyai-service.music.svc.cluster.local"
    )
    api = FakeCustomObjects()
    kserve.deploy_to_kserve(settings, options(), with_runtime=False, api=api, poll=0.01)
    applied = [c for c in api.calls if c[0] == "create"][-1][-1]
    assert applied["spec"]["predictor"]["logger"]["url"] == "https://trustyai.apps.example"
    api = FakeCustomObjects()
    kserve.deploy_to_kserve(
        settings, options(payload_logging=False), with_runtime=False, api=api, poll=0.01
    )
    applied = [c for c in api.calls if c[0] == "create"][-1][-1]
    assert "logger" not in applied["spec"]["predictor"]


# --- scaling ------------------------------------------------------------------------------------

KSERVE_SCALING_FIELDS = {"minReplicas", "maxReplicas", "scaleMetric", "scaleTarget"}
KSERVE_SCALE_METRICS = {"cpu", "memory", "concurrency", "rps"}


def test_the_scaling_fields_are_named_as_kserves_crd():
    """The field names and the metric enum as KServe's InferenceService CRD declares them under
    ``spec.predictor`` (``ComponentExtensionSpec``): kserve/kserve at commit aaac4e29 (2026-08-21),
    ``pkg/apis/serving/v1beta1/component.go`` (``json:"minReplicas"``, ``json:"maxReplicas"``,
    ``json:"scaleTarget"``, ``json:"scaleMetric"``; ``ScaleMetric`` enum ``cpu``, ``memory``,
    ``concurrency``, ``rps``) and ``config/crd/full/serving.kserve.io_inferenceservices.yaml``
    (the same four properties, integers int32 and the string enum). The 2 MB CRD is not vendored:
    the list is copied from it here."""
    assert set(kserve.SCALE_METRICS) == KSERVE_SCALE_METRICS
    manifest = build_inference_service(
        options(min_replicas=0, max_replicas=4, scale_metric="rps", scale_target=50)
    )
    predictor = manifest["spec"]["predictor"]
    scaling = {k: v for k, v in predictor.items() if k not in ("logger", "model")}
    assert set(scaling) == KSERVE_SCALING_FIELDS
    assert scaling == {"minReplicas": 0, "maxReplicas": 4, "scaleMetric": "rps", "scaleTarget": 50}
    assert all(isinstance(scaling[k], int) for k in ("minReplicas", "maxReplicas", "scaleTarget"))
    # In the YAML a user downloads, as plain integers and a string.
    text = to_yaml(manifest)
    assert "minReplicas: 0\n" in text and "scaleMetric: rps\n" in text
    assert "scaleTarget: 50\n" in text


def test_without_a_metric_kserve_chooses_and_nothing_extra_is_written():
    predictor = build_inference_service(options(min_replicas=2, max_replicas=2))["spec"][
        "predictor"
    ]
    assert "scaleMetric" not in predictor and "scaleTarget" not in predictor
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 2)


def test_a_raw_deployment_scales_on_cpu():
    predictor = build_inference_service(
        options(
            deployment_mode="RawDeployment",
            min_replicas=1,
            max_replicas=3,
            scale_metric="cpu",
            scale_target=75,
        )
    )["spec"]["predictor"]
    assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("cpu", 75)


@pytest.mark.parametrize(
    "change, words",
    [
        ({"min_replicas": -1}, "cannot be -1"),
        ({"min_replicas": 3, "max_replicas": 2}, r"maximum number of replicas \(2\)"),
        ({"min_replicas": 0, "max_replicas": 0}, "at least 1"),
        ({"min_replicas": 1.5, "max_replicas": 2}, "whole numbers"),
        ({"scale_metric": "latency", "scale_target": 10}, "not a scale metric"),
        ({"scale_metric": "rps", "scale_target": 0}, "above 0"),
        ({"scale_metric": "concurrency", "scale_target": -5}, "above 0"),
        ({"scale_target": 10}, "which scale metric"),
        ({"scale_metric": "cpu", "scale_target": 150}, "percent"),
        ({"deployment_mode": "RawDeployment", "min_replicas": 0}, "cannot scale to zero"),
        ({"deployment_mode": "RawDeployment", "scale_metric": "rps"}, "scales on cpu or memory"),
    ],
)
def test_invalid_scaling_is_refused_with_a_sentence(change, words):
    with pytest.raises(KServeError, match=words):
        build_inference_service(options(**change))


# --- canary rollouts ----------------------------------------------------------------------------


def test_a_canary_share_is_written_as_kserves_canary_traffic_percent():
    """``ComponentExtensionSpec.CanaryTrafficPercent``, ``json:"canaryTrafficPercent,omitempty"``
    (an integer) in kserve/kserve ``pkg/apis/serving/v1beta1/component.go``, under
    ``spec.predictor``."""
    manifest = build_inference_service(options(canary_traffic_percent=20))
    assert manifest["spec"]["predictor"]["canaryTrafficPercent"] == 20
    assert "canaryTrafficPercent: 20\n" in to_yaml(manifest)
    assert "canaryTrafficPercent" not in build_inference_service(options())["spec"]["predictor"]


@pytest.mark.parametrize(
    "change, words",
    [
        ({"canary_traffic_percent": 101}, "0 to 100"),
        ({"canary_traffic_percent": -1}, "0 to 100"),
        ({"canary_traffic_percent": 12.5}, "whole percent"),
        ({"canary_traffic_percent": 20, "deployment_mode": "RawDeployment"}, "Serverless"),
    ],
)
def test_an_invalid_canary_share_is_refused_with_a_sentence(change, words):
    with pytest.raises(KServeError, match=words):
        build_inference_service(options(**change))
