"""Errors have the API's status codes and its Error body, {"code": ..., "message": ...}."""

from __future__ import annotations

from http import HTTPStatus

import pytest
import requests
from mr_openapi import RegisteredModelCreate
from mr_openapi.exceptions import ConflictException, NotFoundException, UnauthorizedException

from jukebox.registry.server import ensure_server, stop_server
from tests.registry.server.conftest import Rest, official_client, run_api, settings_for


def assert_error(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    # The code is the reason phrase, as upstream's server sends it; its 422 reuses the 400 body.
    code = HTTPStatus(400 if status == 422 else status).phrase
    assert set(body) == {"code", "message"} and body["code"] == code
    for word in words:
        assert word in body["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/registered_models/999999999",
        "/model_versions/999999999",
        "/model_artifacts/999999999",
        "/artifacts/999999999",
        "/serving_environments/999999999",
        "/inference_services/999999999",
        "/registered_models/abc",
        "/registered_models/999999999/versions",
    ],
)
def test_missing_resource_is_404(rest, path):
    assert_error(rest.get(path), 404, "not found")


def test_search_without_match_is_404_and_without_criteria_400(rest, name):
    assert_error(rest.get("/registered_model", name=name), 404, name)
    assert_error(rest.get("/model_version", name="1", parentResourceId="999999999"), 404)
    assert_error(rest.get("/registered_model"), 400, "name")


def test_unknown_path_has_the_error_body(rest):
    assert_error(rest.get("/no_such_resources"), 404)


def test_duplicate_names_are_409(client, rest, name):
    model = rest.post("/registered_models", {"name": name})
    assert model.status_code == 201
    assert_error(rest.post("/registered_models", {"name": name}), 409, name, "already exists")
    with pytest.raises(ConflictException):
        run_api(client, lambda api: api.create_registered_model(RegisteredModelCreate(name=name)))

    model_id = model.json()["id"]
    assert rest.post("/model_versions", {"name": "1", "registeredModelId": model_id}).ok
    assert_error(
        rest.post(f"/registered_models/{model_id}/versions", {"name": "1"}), 409, "already exists"
    )
    # The same version name under another model is fine: names are unique per parent.
    other = rest.post("/registered_models", {"name": name + "-other"}).json()
    assert rest.post("/model_versions", {"name": "1", "registeredModelId": other["id"]}).ok


def test_duplicate_external_id_is_409(rest, name):
    assert rest.post("/registered_models", {"name": name, "externalId": f"ext-{name}"}).ok
    response = rest.post("/registered_models", {"name": name + "2", "externalId": f"ext-{name}"})
    assert_error(response, 409, "externalId")
    found = rest.get("/registered_model", externalId=f"ext-{name}").json()
    assert found["name"] == name


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"{not json", ("JSON",)),
        (b"[1, 2]", ("object",)),
        (b'{"name": 42}', ("name",)),
        (b'{"name": "x", "state": "DELETED"}', ("state",)),
        (
            b'{"name": "x", "customProperties": {"n": {"metadataType": "MetadataIntValue",'
            b' "int_value": 3}}}',
            ("customProperties.n", "int_value"),
        ),
        (
            b'{"name": "x", "customProperties": {"n": {"metadataType": "MetadataIntValue",'
            b' "int_value": "12345678901"}}}',
            ("int_value",),
        ),
        (
            b'{"name": "x", "customProperties": {"n": {"metadataType": "MetadataFooValue"}}}',
            ("customProperties.n",),
        ),
    ],
)
def test_malformed_body_is_400_and_creates_nothing(rest, body, words):
    before = rest.get("/registered_models", pageSize="10000").json()["size"]
    assert_error(rest.post("/registered_models", data=body), 400, *words)
    assert rest.get("/registered_models", pageSize="10000").json()["size"] == before


def test_malformed_update_is_400_and_changes_nothing(rest, name):
    model = rest.post("/registered_models", {"name": name, "description": "kept"}).json()
    assert_error(rest.patch(f"/registered_models/{model['id']}", {"state": "GONE"}), 400, "state")
    assert rest.get(f"/registered_models/{model['id']}").json()["description"] == "kept"


def test_version_of_a_missing_model_is_404(rest):
    response = rest.post("/model_versions", {"name": "1", "registeredModelId": "999999999"})
    assert_error(response, 404, "registered model")


def test_artifact_type_is_checked(rest, name):
    assert_error(rest.post("/artifacts", {"name": name}), 400, "artifactType")
    assert_error(rest.post("/artifacts", {"name": name, "artifactType": "video"}), 400, "video")
    doc = rest.post("/artifacts", {"name": name, "artifactType": "doc-artifact", "uri": "x"})
    assert doc.status_code == 201
    # A doc artifact is an artifact, but not a model artifact.
    assert rest.get(f"/artifacts/{doc.json()['id']}").ok
    assert_error(rest.get(f"/model_artifacts/{doc.json()['id']}"), 404)


def test_client_sees_404_as_not_found(client):
    with pytest.raises(NotFoundException):
        run_api(client, lambda api: api.get_registered_model("999999999"))


@pytest.mark.slow  # starts the registry as a background process, to check its log
def test_token_protects_the_api_but_not_the_health_check(tmp_path):
    settings = settings_for(tmp_path / "home", MODEL_REGISTRY_TOKEN="s3cret-token")
    url = ensure_server(settings)
    try:
        assert_error(Rest(url).get("/registered_models"), 401, "bearer token")
        assert_error(Rest(url, token="wrong").get("/registered_models"), 401)
        assert Rest(url, token="s3cret-token").get("/registered_models").ok
        assert requests.get(url + "/readyz/health", timeout=5).ok

        with pytest.raises(UnauthorizedException):
            official_client(url)
        client = official_client(url, token="s3cret-token")
        client.register_model(
            "guarded", "file:///m", model_format_name="onnx", model_format_version="1", version="1"
        )
        assert client.get_model_version("guarded", "1").name == "1"
        log = next((settings.runs_dir / "registry").glob("*/log.txt")).read_text()
        job = next((settings.runs_dir / "registry").glob("*/job.json")).read_text()
        assert "s3cret-token" not in log + job
    finally:
        stop_server(settings)


@pytest.fixture
def resources(rest, name) -> dict[str, dict]:
    """One resource of each kind with a PATCH route, linked as a client links them."""
    model = rest.post("/registered_models", {"name": name}).json()
    version = rest.post("/model_versions", {"name": "1", "registeredModelId": model["id"]}).json()
    artifact = rest.post(
        f"/model_versions/{version['id']}/artifacts",
        {"name": name, "artifactType": "model-artifact", "uri": "s3://b/k"},
    ).json()
    experiment = rest.post("/experiments", {"name": name}).json()
    run = rest.post(
        "/experiment_runs",
        {"name": "r", "experimentId": experiment["id"], "startTimeSinceEpoch": "1000"},
    ).json()
    environment = rest.post("/serving_environments", {"name": name}).json()
    service = rest.post(
        "/inference_services",
        {
            "registeredModelId": model["id"],
            "servingEnvironmentId": environment["id"],
            "modelVersionId": version["id"],
        },
    ).json()
    return {
        "registered_models": model,
        "model_versions": version,
        "model_artifacts": artifact,
        "experiments": experiment,
        "experiment_runs": run,
        "serving_environments": environment,
        "inference_services": service,
    }


def exact_error(response, status: int, message: str) -> None:
    """The whole Error body, word for word, as upstream's client e2e suite compares it."""
    assert response.status_code == status, response.text
    assert response.json() == {"code": "Bad Request", "message": message}


@pytest.mark.parametrize(
    ("collection", "field"),
    [
        ("registered_models", "id"),
        ("registered_models", "createTimeSinceEpoch"),
        ("registered_models", "lastUpdateTimeSinceEpoch"),
        ("registered_models", "name"),
        ("model_versions", "name"),
        ("model_versions", "registeredModelId"),
        ("model_artifacts", "id"),
        ("model_artifacts", "name"),
        ("experiments", "name"),
        ("experiment_runs", "experimentId"),
        ("experiment_runs", "startTimeSinceEpoch"),
        ("serving_environments", "id"),
        ("inference_services", "servingEnvironmentId"),
        ("inference_services", "registeredModelId"),
    ],
)
def test_patch_with_a_field_its_update_schema_lacks_is_400_and_changes_nothing(
    rest, resources, collection, field
):
    """Upstream decodes a PATCH body into the resource's ``*Update`` schema (``pkg/openapi/
    model_*_update.go``) with ``DisallowUnknownFields`` (``internal/server/openapi/
    api_model_registry_service.go``, e.g. ``UpdateRegisteredModel``): output-only fields and
    those fixed at creation are unknown there, even sent back with the value they have."""
    stored = resources[collection]
    path = f"/{collection}/{stored['id']}"
    body = {"description": "changed", field: stored[field]}
    exact_error(rest.patch(path, body), 400, f'json: unknown field "{field}"')
    assert rest.get(path).json() == stored


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/registered_models", {"name": "x", "id": "5"}, "id"),
        ("/experiments", {"name": "x", "createTimeSinceEpoch": "5"}, "createTimeSinceEpoch"),
        ("/model_artifacts", {"uri": "s3://b/k", "experimentRunId": "5"}, "experimentRunId"),
    ],
)
def test_create_with_an_output_field_is_400(rest, name, path, body, field):
    """A POST body of a ``*Create`` schema has no output-only field either."""
    body = {**body, "name": name} if "name" in body else body
    exact_error(rest.post(path, body), 400, f'json: unknown field "{field}"')


def test_serve_create_takes_its_service_from_the_path_only(rest, resources):
    """``ServeModelCreate`` has no inferenceServiceId: the path gives it."""
    service, version = resources["inference_services"], resources["model_versions"]
    path = f"/inference_services/{service['id']}/serves"
    body = {"modelVersionId": version["id"], "inferenceServiceId": service["id"]}
    exact_error(rest.post(path, body), 400, 'json: unknown field "inferenceServiceId"')
    made = rest.post(path, {"modelVersionId": version["id"]})
    assert made.status_code == 201, made.text
    assert made.json()["inferenceServiceId"] == service["id"]


def test_nested_create_of_a_whole_version_or_run_ignores_output_fields(rest, resources):
    """Upstream's ``CreateRegisteredModelVersion`` and ``CreateExperimentExperimentRun`` decode
    the whole ``ModelVersion`` and ``ExperimentRun`` schemas, which have id and times."""
    model, experiment = resources["registered_models"], resources["experiments"]
    version = rest.post(
        f"/registered_models/{model['id']}/versions",
        {"name": "2", "id": "1", "createTimeSinceEpoch": "1"},
    )
    assert version.status_code == 201, version.text
    assert version.json()["id"] != "1" and version.json()["createTimeSinceEpoch"] != "1"
    run = rest.post(f"/experiments/{experiment['id']}/experiment_runs", {"name": "r2", "id": "1"})
    assert run.status_code == 201, run.text
