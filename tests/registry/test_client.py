"""The registry façade against the real embedded server (and real S3 through moto)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import aiohttp
import pytest
from model_registry import ModelRegistry

from jukebox.config import load_settings
from jukebox.model.bundle import ONNX_FILE, file_sha256, read_bundle
from jukebox.model.report import CountryScore, Verification
from jukebox.registry.bundles import (
    IntegrityError,
    InvalidNameError,
    stored_versions,
    upload_bundle,
)
from jukebox.registry.connection import connect
from jukebox.registry.errors import (
    DuplicateBundleError,
    DuplicateVersionError,
    RegistryCredentialsError,
    RegistryError,
    RegistryUnreachableError,
    UnverifiedBundleError,
    VersionNotFoundError,
)
from jukebox.registry.fetch import fetch_bundle, read_model_card
from jukebox.registry.properties import REGISTRATION
from jukebox.registry.register import register_bundle, verification_problem, version_properties
from jukebox.registry.versions import (
    archive_version,
    get_version,
    list_all_versions,
    list_versions,
    mark_production,
    restore_version,
    suggest_next_version,
)
from jukebox.storage import StorageError, open_store
from tests.bundles import make_tiny_bundle, tiny_report
from tests.ports import free_port
from tests.registry.conftest import model_names, production_versions, registry_in_thread


@pytest.fixture
def name() -> str:
    """A model name no other test uses (the server lives for the whole session)."""
    return f"songs-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def bundle(tmp_path):
    return make_tiny_bundle(tmp_path / "bundle")


def test_register_records_the_metadata_of_the_design(registry_env, bundle, name):
    registered = register_bundle(
        bundle.path,
        name,
        "1",
        data_version={"md5": "a1b2c3", "commit": "0123abcd"},
        data_source="synthetic (seed 7)",
        run_id="run-42",
        parameters={"epochs": 3, "learning_rate": 0.01, "layers": [16, 8], "seed": 12_345_678_901},
    )
    assert registered.status == "live"

    (version,) = list_versions(name)
    assert version.version == "1" and version.author == registry_env.registry_author
    assert version.accuracy == 0.5
    assert version.verification["passed"] is True
    assert version.data_version == "a1b2c3" and version.data_commit == "0123abcd"
    assert version.data_source == "synthetic (seed 7)" and version.run_id == "run-42"
    assert version.onnx_sha256 == file_sha256(bundle.onnx_path)
    assert version.parameters == {
        "epochs": 3,
        "learning_rate": 0.01,
        "layers": "[16, 8]",
        "seed": "12345678901",
    }
    assert name in model_names()

    detail = get_version(name, "1")
    assert detail.uri.startswith("file://") and detail.uri.endswith(f"/models/{name}/1/")
    assert read_model_card(detail) == "# tiny test model\n"
    assert [v.version for v in list_all_versions() if v.model == name] == ["1"]


def test_the_official_client_sees_what_was_registered(registry_env, bundle, name):
    register_bundle(bundle.path, name, 1)
    official = connect(registry_env)
    assert isinstance(official, ModelRegistry)
    artifact = official.get_model_artifact(name, "1")
    assert artifact.model_format_name == "onnx" and artifact.model_format_version == "1"
    assert artifact.storage_path == f"models/{name}/1/"
    assert official.get_model_version(name, "1").custom_properties["model.sha256"]


def test_fetch_round_trip(registry_env, bundle, name, tmp_path):
    register_bundle(bundle.path, name, 1)
    fetched = fetch_bundle(name, 1)
    assert fetched == registry_env.home / "fetched" / name / "1"
    assert read_bundle(fetched).sha256() == bundle.sha256()
    elsewhere = fetch_bundle(name, "1", tmp_path / "here")
    assert read_bundle(elsewhere).sha256() == bundle.sha256()


def test_fetch_refuses_a_bundle_changed_in_storage(registry_env, bundle, name, tmp_path):
    register_bundle(bundle.path, name, 1)
    stored = open_store(registry_env)._path(f"models/{name}/1/{ONNX_FILE}")
    stored.write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match="corrupt"):
        fetch_bundle(name, 1, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_fetch_refuses_a_bundle_replaced_in_storage(registry_env, bundle, name, tmp_path):
    register_bundle(bundle.path, name, 1)
    store = open_store(registry_env)
    # Someone swaps the whole stored version for another model, with a consistent manifest.
    import shutil

    shutil.rmtree(store._path(f"models/{name}/1/"))
    upload_bundle(store, make_tiny_bundle(tmp_path / "other", seed=3).path, name, 1)
    with pytest.raises(IntegrityError, match="not the one registered"):
        fetch_bundle(name, 1, tmp_path / "x")


def test_fetch_of_a_missing_version_says_so(registry_env, bundle, name):
    with pytest.raises(VersionNotFoundError, match="No model named"):
        fetch_bundle(name, 1)
    register_bundle(bundle.path, name, 1)
    with pytest.raises(VersionNotFoundError, match="has no version 2"):
        fetch_bundle(name, 2)


def test_archive_restore_and_production(registry_env, bundle, name, tmp_path):
    register_bundle(bundle.path, name, 1)
    for version in (2, 3):
        register_bundle(make_tiny_bundle(tmp_path / str(version), seed=version).path, name, version)

    mark_production(name, 2)
    assert production_versions(name) == ["2"]
    mark_production(name, 3)
    statuses = {v.version: v.status for v in list_versions(name)}
    assert statuses == {"1": "live", "2": "live", "3": "production"}

    with pytest.raises(RegistryError, match="production version"):
        archive_version(name, 3)
    assert archive_version(name, 1).status == "archived"
    assert {v.version: v.status for v in list_versions(name)}["1"] == "archived"
    with pytest.raises(RegistryError, match="restore it first"):
        mark_production(name, 1)
    assert restore_version(name, 1).status == "live"
    assert production_versions(name) == ["3"]


def test_duplicate_version_is_refused_and_changes_nothing(registry_env, bundle, name, tmp_path):
    register_bundle(bundle.path, name, 1)
    other = make_tiny_bundle(tmp_path / "other", seed=5)
    with pytest.raises(DuplicateVersionError, match="already registered.*next free one is 2"):
        register_bundle(other.path, name, 1)
    assert list_versions(name)[0].onnx_sha256 == file_sha256(bundle.onnx_path)
    assert read_bundle(fetch_bundle(name, 1)).sha256() == bundle.sha256()


def test_unverified_bundle_is_refused_before_anything_is_stored(registry_env, bundle, name):
    failed = Verification(passed=False, tolerance=1e-5, rows=10, onnxruntime_max_abs_diff=0.31)
    report = replace(tiny_report(), verification=failed)
    (bundle.path / "metrics.json").write_text(report.to_json())
    with pytest.raises(UnverifiedBundleError, match=r"failed export verification .*0\.31"):
        register_bundle(bundle.path, name, 1)

    (bundle.path / "metrics.json").write_text(replace(report, verification=None).to_json())
    with pytest.raises(UnverifiedBundleError, match="never verified"):
        register_bundle(bundle.path, name, 1)

    assert name not in model_names()
    assert stored_versions(open_store(registry_env), name) == []


@pytest.mark.parametrize(
    ("bad", "reason"), [("", "empty"), ("../etc", "path characters"), ("a b", "malformed")]
)
def test_bad_names_are_refused_before_anything_is_stored(registry_env, bundle, bad, reason):
    with pytest.raises(InvalidNameError, match=reason):
        register_bundle(bundle.path, bad, 1)
    assert not (registry_env.storage_dir / "jukebox" / "models").exists()


def test_bad_version_is_refused(registry_env, bundle, name):
    with pytest.raises(InvalidNameError, match="whole number"):
        register_bundle(bundle.path, name, "1.0")


def test_failed_registration_leaves_nothing_half_registered(
    registry_env, bundle, name, monkeypatch
):
    async def connection_lost(*args, **kwargs):
        raise aiohttp.ClientConnectionError("connection reset by peer")

    with monkeypatch.context() as patch:
        # The version record is created, then the artifact cannot be recorded.
        patch.setattr(ModelRegistry, "_register_model_artifact", connection_lost)
        with pytest.raises(RegistryUnreachableError, match="Lost the connection"):
            register_bundle(bundle.path, name, 1)

    assert stored_versions(open_store(registry_env), name) == []
    assert list_versions(name) == []
    (left,) = list_versions(name, include_incomplete=True)
    assert left.status == "incomplete" and left.archived
    with pytest.raises(RegistryError, match="not registered completely"):
        fetch_bundle(name, 1)

    # Registering the same version again completes it.
    assert register_bundle(bundle.path, name, 1).status == "live"
    (version,) = list_versions(name)
    assert version.version == "1" and not version.archived
    assert read_bundle(fetch_bundle(name, 1)).sha256() == bundle.sha256()


def test_registry_failure_before_any_record_removes_the_upload(
    registry_env, bundle, name, monkeypatch
):
    async def refused(*args, **kwargs):
        raise aiohttp.ClientConnectionError("connection refused")

    monkeypatch.setattr(ModelRegistry, "_register_model", refused)
    with pytest.raises(RegistryUnreachableError):
        register_bundle(bundle.path, name, 1)
    assert stored_versions(open_store(registry_env), name) == []
    folder = registry_env.storage_dir / "jukebox" / "models" / name
    assert not [p for p in folder.glob("*") if not p.name.startswith(".")]


def test_a_version_left_pending_by_a_crash_is_hidden_then_completed(registry_env, bundle, name):
    # What a process killed between the version and its artifact leaves in the registry.
    official = connect(registry_env)
    official.async_runner(official._register_new_version(
        official.async_runner(official._register_model(name, owner="x")),
        "1",
        "x",
        custom_properties={REGISTRATION: "pending"},
    ))  # fmt: skip
    assert list_versions(name) == []
    assert suggest_next_version(name) == "2"

    register_bundle(bundle.path, name, 1)
    (version,) = list_versions(name)
    assert version.complete and get_version(name, "1").uri


def test_suggest_next_version(registry_env, bundle, name, tmp_path):
    assert suggest_next_version(name) == "1"
    assert suggest_next_version("not a valid name") == "1"
    register_bundle(bundle.path, name, 1)
    register_bundle(make_tiny_bundle(tmp_path / "5", seed=5).path, name, 5)
    assert suggest_next_version(name) == "6"


def test_unreachable_registry_is_a_clear_message(jukebox_home, bundle, monkeypatch, name):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MODEL_REGISTRY_URL", url)
    with pytest.raises(RegistryUnreachableError, match="Cannot reach the model registry") as e:
        register_bundle(bundle.path, name, 1)
    assert url in str(e.value) and "MODEL_REGISTRY_URL" in str(e.value)
    assert not (jukebox_home / "s3").exists()


def test_a_url_that_is_not_a_registry_is_a_clear_message(jukebox_home, monkeypatch, s3_endpoint):
    monkeypatch.setenv("MODEL_REGISTRY_URL", s3_endpoint + "/nothing-here")
    with pytest.raises(RegistryError, match="MODEL_REGISTRY_URL"):
        list_all_versions()


@pytest.fixture(scope="module")
def protected_registry(tmp_path_factory):
    """A second embedded server that demands a bearer token."""
    token = "the-right-token-" + uuid.uuid4().hex
    with registry_in_thread(tmp_path_factory.mktemp("protected") / "r.sqlite", token) as url:
        yield url, token


def test_wrong_token_is_a_clear_message_without_the_token(
    jukebox_home, monkeypatch, protected_registry, bundle, name
):
    url, token = protected_registry
    monkeypatch.setenv("MODEL_REGISTRY_URL", url)
    monkeypatch.setenv("MODEL_REGISTRY_TOKEN", "wrong-token-value")
    with pytest.raises(RegistryCredentialsError, match="refused the token") as caught:
        register_bundle(bundle.path, name, 1)
    assert "wrong-token-value" not in str(caught.value) and token not in str(caught.value)
    assert "MODEL_REGISTRY_TOKEN" in str(caught.value)
    assert not (jukebox_home / "s3").exists()

    monkeypatch.setenv("MODEL_REGISTRY_TOKEN", token)
    register_bundle(bundle.path, name, 1)
    assert [v.version for v in list_versions(name)] == ["1"]


def test_register_and_fetch_through_s3(registry_env, s3_env, bundle, name, tmp_path):
    registered = register_bundle(bundle.path, name, 1)
    assert registered.uri == (
        f"s3://{s3_env.s3_bucket}/models/{name}/1/"
        f"?endpoint={s3_env.s3_endpoint}&defaultRegion=us-east-1"
    )
    assert stored_versions(open_store(load_settings()), name) == ["1"]
    assert read_bundle(fetch_bundle(name, 1, tmp_path / "f")).sha256() == bundle.sha256()


@pytest.mark.slow  # waits for an unreachable S3 endpoint
def test_unreachable_s3_leaves_nothing_registered(registry_env, monkeypatch, bundle, name):
    monkeypatch.setenv("AWS_S3_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "a")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "b")
    with pytest.raises(StorageError, match="Cannot reach the S3 endpoint"):
        register_bundle(bundle.path, name, 1)
    assert name not in model_names()


def test_metadata_is_read_from_the_model_labs_metrics(tmp_path):
    bundle = make_tiny_bundle(tmp_path / "b")
    report = tiny_report()
    report = replace(
        report,
        training_id="20261122-120000-abcd",
        params={"epochs": 20, "hidden_units": [64, 32], "learning_rate": 0.001},
        data=replace(report.data, source="synthetic (seed 42)"),
        evaluation=replace(
            report.evaluation,
            accuracy=0.61,
            log_loss=1.7,
            n_test=1200,
            per_country=(CountryScore("DE", 0.5, 0.5, 0.5, 3),),
            confusion_matrix=((1, 2), (3, 4)),
        ),
        verification=Verification(
            passed=True, tolerance=1e-5, rows=1200, openvino_max_abs_diff=2e-7
        ),
    )
    (bundle.path / "metrics.json").write_text(report.to_json())
    properties = version_properties(read_bundle(bundle.path))
    assert properties["metric.accuracy"] == 0.61 and properties["metric.n_test"] == 1200
    assert not any("per_country" in k or "confusion" in k or "history" in k for k in properties)
    assert properties["verification.passed"] is True
    assert properties["verification.openvino_max_abs_diff"] == 2e-7
    assert properties["param.hidden_units"] == "[64, 32]" and properties["param.epochs"] == 20
    assert properties["data.source"] == "synthetic (seed 42)"
    assert properties["run.id"] == "20261122-120000-abcd"
    assert "data.version" not in properties
    assert properties["model.sha256"] == file_sha256(bundle.onnx_path)

    given = version_properties(
        read_bundle(bundle.path),
        data_version="md5-given",
        data_source="kaggle",
        run_id="kfp-run-9",
        parameters={"epochs": 3},
    )
    assert given["data.version"] == "md5-given" and given["data.source"] == "kaggle"
    assert given["run.id"] == "kfp-run-9" and given["param.epochs"] == 3
    assert "param.learning_rate" not in given


def test_failed_verification_says_what_failed(tmp_path):
    bundle = make_tiny_bundle(tmp_path / "b")
    failed = Verification(
        passed=False, tolerance=1e-5, rows=10, problems=("openvino differs by up to 0.2",)
    )
    (bundle.path / "metrics.json").write_text(replace(tiny_report(), verification=failed).to_json())
    problem = verification_problem(read_bundle(bundle.path))
    assert "failed export verification (openvino differs by up to 0.2)" in problem


@pytest.mark.slow  # starts the embedded registry as a background process
def test_the_embedded_registry_starts_on_demand(jukebox_home, bundle, name, tmp_path):
    from jukebox.registry.server.process import running_servers, stop_server

    settings = load_settings()
    assert not settings.registry_is_remote
    try:
        register_bundle(bundle.path, name, 1)
        assert [v.version for v in list_versions(name)] == ["1"]
        assert len(running_servers(settings)) == 1
        # Reused, not started again.
        register_bundle(make_tiny_bundle(tmp_path / "2", seed=2).path, name, 2)
        assert len(running_servers(settings)) == 1
    finally:
        stop_server(settings)
    assert running_servers(settings) == []


def test_concurrent_first_registrations_of_a_new_model_all_succeed(
    registry_env, bundle, name, tmp_path
):
    from concurrent.futures import ThreadPoolExecutor

    bundles = {v: make_tiny_bundle(tmp_path / str(v), seed=v).path for v in (1, 2, 3, 4)}
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda v: register_bundle(bundles[v], name, v), [1, 2, 3, 4]))
    assert sorted(v.version for v in done) == ["1", "2", "3", "4"]
    assert sorted(v.version for v in list_versions(name)) == ["1", "2", "3", "4"]
    assert model_names().count(name) == 1


def test_the_same_bundle_is_not_registered_twice(registry_env, bundle, name, tmp_path):
    """Issue 11, bug 3: one click made v3 identical to v2."""
    register_bundle(bundle.path, name, 1)
    with pytest.raises(DuplicateBundleError, match=r"already registered as version 1 .*sha256"):
        register_bundle(bundle.path, name, 2)
    assert [v.version for v in list_versions(name)] == ["1"]
    # Another model, or another bundle, is registered as usual.
    register_bundle(bundle.path, f"{name}-other", 1)
    other = make_tiny_bundle(tmp_path / "other", seed=5)
    assert register_bundle(other.path, name, 2).version == "2"
