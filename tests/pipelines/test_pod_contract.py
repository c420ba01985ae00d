"""The pod contract, read from the compiled YAML: what each task of each pipeline declares it
reads on a cluster, that no secret travels by value, and that in a pod every embedded default
refuses with a sentence (the launcher test, ``test_on_a_cluster.py``, runs it all for real)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from jukebox.config import EmbeddedRefusedError, load_settings

NAMESPACE = "JUKEBOX_POD_NAMESPACE"
S3 = {"AWS_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_S3_BUCKET"}
S3_ALL = S3 | {"AWS_DEFAULT_REGION"}
REGISTRY = {"MODEL_REGISTRY_TOKEN"}
GIT = {"JUKEBOX_DATA_GIT_TOKEN"}

EXPECTED = {
    "training": {
        "fetch-data": S3_ALL | GIT,
        "validate-and-prepare": set(),
        "train": REGISTRY,
        "evaluate": REGISTRY,
        "convert-to-onnx": set(),
        "verify-onnx": set(),
        "register": S3_ALL | REGISTRY,
    },
    "data": {
        "extract-data": S3_ALL | GIT,
        "transform-data": set(),
        "validate-data": set(),
        "load-and-version": S3_ALL | GIT,
        "trigger-training": {"KFP_TOKEN"},
    },
}


@pytest.fixture
def settings(tmp_path):
    return replace(
        load_settings({"JUKEBOX_HOME": str(tmp_path)}),
        registry_url="https://registry.example",
        registry_token="registry-secret-value",
        data_git_url="https://someone:git-secret-value@git.example/data.git",
        data_git_token="git-token-value",
        s3_endpoint="https://minio.example",
        s3_secret_key="s3-secret-value",
        kfp_token="kfp-secret-value",
        pipeline_image="registry.example/jukebox:1.2",
    )


def compiled(settings, pipeline: str, tmp_path) -> tuple[dict, dict, str]:
    from jukebox.pipelines.data import compile_data_pipeline
    from jukebox.pipelines.training import compile_pipeline

    compile_ = compile_data_pipeline if pipeline == "data" else compile_pipeline
    path = compile_(tmp_path / f"{pipeline}.yaml", settings)
    ir, platform = yaml.safe_load_all(path.read_text())
    return ir, platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"], path.read_text()


@pytest.mark.parametrize("pipeline", ["training", "data"])
def test_each_task_declares_what_it_reads_and_no_more(settings, pipeline, tmp_path):
    ir, executors, text = compiled(settings, pipeline, tmp_path)
    assert {name.removeprefix("exec-") for name in executors} == set(EXPECTED[pipeline])
    for task, expected in EXPECTED[pipeline].items():
        declared = executors[f"exec-{task}"]
        assert [f["name"] for f in declared["fieldPathAsEnv"]] == [NAMESPACE]
        from_secrets = {
            item["envVar"]
            for secret in declared.get("secretAsEnv", ())
            for item in secret["keyToEnv"]
        }
        assert from_secrets == expected, task
        for secret in declared.get("secretAsEnv", ()):
            # Tokens may be the service account's: only the data connection must exist.
            assert secret["optional"] is (secret["secretName"] != settings.pipeline_s3_secret)
    for value in ("registry-secret-value", "git-secret-value", "git-token-value", "s3-secret-value",
                  "kfp-secret-value", "someone"):  # fmt: skip
        assert value not in text
    parameters = ir["root"]["inputDefinitions"]["parameters"]
    assert parameters["registry_url"]["defaultValue"] == "https://registry.example"
    assert parameters["data_repo_url"]["defaultValue"] == "https://git.example/data.git"
    images = {e["container"]["image"] for e in ir["deploymentSpec"]["executors"].values()}
    assert images == {"registry.example/jukebox:1.2"}


def test_the_trigger_compiles_training_with_this_image_and_these_secret_names(settings, tmp_path):
    ir, _executors, _text = compiled(settings, "data", tmp_path)
    env = {
        item["name"]: item["value"]
        for item in ir["deploymentSpec"]["executors"]["exec-trigger-training"]["container"]["env"]
    }
    assert env == {
        "JUKEBOX_PIPELINE_IMAGE": "registry.example/jukebox:1.2",
        "JUKEBOX_PIPELINE_S3_SECRET": "aws-connection-models",
        "JUKEBOX_PIPELINE_REGISTRY_SECRET": "jukebox-registry-token",
        "JUKEBOX_PIPELINE_GIT_SECRET": "git-auth",
        "JUKEBOX_PIPELINE_KFP_SECRET": "jukebox-kfp-token",
    }
    parameters = ir["root"]["inputDefinitions"]["parameters"]
    assert parameters["kfp_host"]["defaultValue"] == ""  # in a pod: the namespace's own server


@pytest.fixture
def pod(tmp_path, monkeypatch):
    """This process as a pipeline task on a cluster with nothing configured."""
    for name in ("MODEL_REGISTRY_URL", "AWS_S3_ENDPOINT", "JUKEBOX_DATA_GIT_URL", "KFP_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUKEBOX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(NAMESPACE, "team-a")
    return load_settings()


@pytest.mark.parametrize(
    ("concern", "call", "setting"),
    [
        ("model registry", "jukebox.registry.connection:connect", "registry_url"),
        ("object storage", "jukebox.storage:open_store", "AWS_S3_ENDPOINT"),
        ("data repository", "jukebox.data.versions:sync", "data_repo_url"),
        ("current data set", "jukebox.data.store:ensure_current", "data version"),
    ],
)
def test_in_a_pod_no_embedded_default_stands_in(pod, concern, call, setting):
    import importlib

    module, name = call.split(":")
    with pytest.raises(EmbeddedRefusedError) as refused:
        getattr(importlib.import_module(module), name)(pod)
    said = str(refused.value)
    assert f"namespace team-a), where there is no embedded {concern}" in said
    assert setting in said
    assert not (pod.home / "registry.sqlite").exists() and not (pod.home / "data").exists()


def test_outside_a_pod_nothing_is_refused(tmp_path):
    from jukebox.config import refuse_embedded

    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    assert not settings.in_pipeline_pod
    refuse_embedded(settings, "model registry")  # returns: the laptop has its embedded defaults


def test_in_a_pod_unset_tokens_are_the_service_accounts(tmp_path):
    """As the workshop's code does in its pods: the service-account token for the registry and
    KFP, the namespace's own pipeline server, and the service CA."""
    (tmp_path / "token").write_text("service-account-token\n")
    (tmp_path / "service-ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    env = {NAMESPACE: "team-a", "JUKEBOX_HOME": str(tmp_path)}
    settings = load_settings(env, service_account=tmp_path)
    assert settings.registry_token == settings.kfp_token == "service-account-token"
    assert settings.kfp_host == "https://ds-pipeline-dspa.team-a.svc:8443"
    assert settings.kfp_ca_cert == str(tmp_path / "service-ca.crt")
    assert "service-account-token" not in repr(settings)
    own = load_settings({**env, "MODEL_REGISTRY_TOKEN": "own"}, service_account=tmp_path)
    assert own.registry_token == "own"
    laptop = load_settings({"JUKEBOX_HOME": str(tmp_path)}, service_account=tmp_path)
    assert laptop.registry_token is None and laptop.kfp_host is None


def test_the_harness_reads_conditions_as_the_driver_does():
    from tests.pipelines.launcher import _holds

    assert _holds("inputs.parameter_values['x'] == true", {"x": True})
    assert not _holds("inputs.parameter_values['x'] == true", {"x": False})
    assert not _holds("inputs.parameter_values['x'] != ''", {"x": ""})
    assert _holds("inputs.parameter_values['x'] != ''", {"x": "abc"})
