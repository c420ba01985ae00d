"""The Registry page, driven by Streamlit's AppTest against a real registry server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from jukebox.config import load_settings
from jukebox.registry.register import register_bundle
from jukebox.registry.versions import list_versions
from tests.bundles import make_tiny_bundle
from tests.ports import free_port
from tests.registry.conftest import model_names, production_versions, registry_in_thread

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "registry.py")


@pytest.fixture(scope="module")
def page_registry(tmp_path_factory):
    """A registry of the page tests' own, so they see only the models they register."""
    with registry_in_thread(tmp_path_factory.mktemp("page-registry") / "r.sqlite") as url:
        yield url


@pytest.fixture
def page_env(monkeypatch, jukebox_home, page_registry):
    monkeypatch.setenv("MODEL_REGISTRY_URL", page_registry)
    return load_settings()


@pytest.fixture
def exported(page_env):
    """A verified bundle where the Export page leaves them."""
    return make_tiny_bundle(page_env.models_dir / "20261122-120000-tiny")


def run_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def button(at: AppTest, label: str):
    (found,) = [b for b in at.button if b.label == label]
    return found


def version_field(at: AppTest):
    (found,) = [field for field in at.text_input if field.label == "Version"]
    return found


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def register_with_the_form(at: AppTest, name: str, version: str | None = None) -> AppTest:
    at.text_input(key="register_name").set_value(name).run()
    if version is not None:
        version_field(at).set_value(version).run()
    button(at, "Register").click().run()
    assert not at.exception, at.exception
    return at


@pytest.mark.slow  # drives the app through several reruns
def test_the_register_form_registers_the_exported_model(page_env, exported):
    at = run_page()
    assert not at.error
    assert at.selectbox[0].value.path == exported.path

    at = register_with_the_form(at, "tinyform")
    assert not at.error, texts(at.error)
    assert "Registered tinyform version 1" in texts(at.success)
    assert [v.version for v in list_versions("tinyform")] == ["1"]

    table = at.dataframe[0].value
    row = table[table["model"] == "tinyform"].iloc[0]
    assert row["version"] == "1" and row["accuracy"] == 0.5 and "live" in row["state"]
    # The next suggestion follows what is registered.
    assert version_field(at).value == "2"
    # Issue 11, bug 3: the form says the bundle is registered already, and refuses it again.
    assert "already registered as **tinyform version 1**" in texts(at.warning)
    button(at, "Register").click().run()
    assert "already registered as version 1" in texts(at.error)
    assert [v.version for v in list_versions("tinyform")] == ["1"]


@pytest.mark.slow  # drives the app through several reruns
def test_a_registered_version_is_shown_in_detail(page_env, exported):
    register_bundle(
        exported.path, "tinydetail", 1, data_version={"md5": "f00dfeed"}, run_id="run-7"
    )
    at = run_page()
    assert not at.error, texts(at.error)
    table = at.dataframe[0].value
    assert {"model", "version", "created", "author", "accuracy", "data version", "state"} <= set(
        table.columns
    )
    assert "f00dfeed" in set(table[table["model"] == "tinydetail"]["data version"])

    at.selectbox(key="detail_model").set_value("tinydetail").run()
    assert "models/tinydetail/1/" in texts(at.code)
    metadata = at.dataframe[1].value
    assert "run-7" in set(metadata["value"])
    assert "Scanned by modelscan at registration: passed" in texts(at.markdown)
    assert "# tiny test model" in texts(at.markdown) or "tiny test model" in texts(at.markdown)
    assert len(at.get("plotly_chart")) >= 1


@pytest.mark.slow  # several page reruns: over 2 s on this machine
def test_bad_input_is_a_clear_message(page_env, exported):
    register_bundle(exported.path, "tinydup", 1)
    at = run_page()

    at = register_with_the_form(at, "tinydup", "1")
    assert "already registered" in texts(at.error) and "next free one is 2" in texts(at.error)

    at = register_with_the_form(at, "tiny/../x", "1")
    assert "path characters" in texts(at.error)

    at = register_with_the_form(at, "", "1")
    assert "name is empty" in texts(at.error)

    at = register_with_the_form(at, "tinyversion", "1.0")
    assert "not a whole number" in texts(at.error)

    assert [v.version for v in list_versions("tinydup")] == ["1"]
    assert "tinyversion" not in model_names()


def test_an_unverified_export_cannot_be_registered(page_env, exported):
    metrics = json.loads((exported.path / "metrics.json").read_text())
    metrics["verification"] = {"passed": False, "problems": ["openvino differs by up to 0.4"]}
    (exported.path / "metrics.json").write_text(json.dumps(metrics))

    at = run_page()
    assert "cannot be registered" in texts(at.warning)
    assert "openvino differs by up to 0.4" in texts(at.warning)
    assert button(at, "Register").disabled


@pytest.mark.slow  # several page reruns: over 2 s on this machine
def test_archive_restore_and_production_buttons(page_env, exported, tmp_path):
    register_bundle(exported.path, "tinylife", 1)
    register_bundle(make_tiny_bundle(tmp_path / "v2", seed=2).path, "tinylife", 2)
    ids = {v.version: v.id for v in list_versions("tinylife")}
    at = run_page()
    at.selectbox(key="detail_model").set_value("tinylife").run()
    # The latest version is selected by default.
    button(at, "Mark for production").click().run()
    assert "version 2 is now the production version" in texts(at.success)
    assert production_versions("tinylife") == ["2"]
    assert button(at, "Archive").disabled  # production cannot be archived
    assert "State: **production**" in texts(at.caption)

    at.selectbox(key="detail_version_tinylife").set_value(ids["1"]).run()
    button(at, "Archive").click().run()
    assert "version 1 is archived" in texts(at.success)
    assert list_versions("tinylife")[0].status == "archived"
    # The same pick, its label unchanged and its state shown anew: the next action applies to it.
    picker = at.selectbox(key="detail_version_tinylife")
    assert picker.value == ids["1"] and picker.options == ["v1", "v2"]
    assert "State: **archived**" in texts(at.caption)
    button(at, "Restore").click().run()
    assert "version 1 is live again" in texts(at.success)
    assert list_versions("tinylife")[0].status == "live"
    assert not at.error and not at.exception


@pytest.mark.slow  # drives the app through several reruns
def test_versions_are_compared_side_by_side(page_env, exported, tmp_path):
    register_bundle(exported.path, "tinycmp", 1, parameters={"epochs": 5, "seed": 1})
    other = make_tiny_bundle(tmp_path / "other", seed=3)
    register_bundle(other.path, "tinycmp", 2, parameters={"epochs": 9, "seed": 1})
    at = run_page()
    assert at.multiselect[0].value == ["tinycmp v1", "tinycmp v2"]
    diff = at.dataframe[-1].value
    assert list(diff["parameter"]) == ["epochs", "seed"]
    assert list(diff["differs"]) == [True, False]
    assert len(at.get("plotly_chart")) == 2  # lineage and metrics


def test_unreachable_registry_is_a_message_not_a_traceback(jukebox_home, monkeypatch, tmp_path):
    make_tiny_bundle(load_settings().models_dir / "b")
    monkeypatch.setenv("MODEL_REGISTRY_URL", f"http://127.0.0.1:{free_port()}")
    at = run_page()
    assert "Cannot reach the model registry" in texts(at.error)
    assert "MODEL_REGISTRY_URL" in texts(at.error)
    assert button(at, "Register").disabled


@pytest.mark.slow  # drives the app through several reruns
def test_unreachable_s3_is_a_message(page_env, exported, monkeypatch):
    monkeypatch.setenv("AWS_S3_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-never-shown")
    at = run_page()
    at = register_with_the_form(at, "tinys3", "1")
    assert "Cannot reach the S3 endpoint" in texts(at.error)
    assert "secret-never-shown" not in texts(at.error)
    assert "tinys3" not in model_names()


def test_empty_registry_and_no_export_say_what_to_do(page_env):
    at = run_page()
    assert "Export page" in texts(at.info)
    assert not at.error


@pytest.mark.slow  # runs the whole app: over 2 s on this machine
def test_the_page_runs_inside_the_app(page_env, exported):
    register_bundle(exported.path, "tinyapp", 1)
    at = AppTest.from_file(str(Path(PAGE).parents[1] / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/registry.py").run()
    assert not at.exception, at.exception
    assert not at.error, texts(at.error)
    assert "tinyapp" in set(at.dataframe[0].value["model"])
