"""Behaviours of the embedded registry that must match upstream's server (``internal/core/`` of
kubeflow/model-registry): crashes and corruption that once happened, and the small differences a
client of the real service would notice."""

from __future__ import annotations

import pytest

from tests.registry.server.test_errors import assert_error

ARTIFACT_ROUTES = [
    "/artifacts",
    "/model_versions/{version}/artifacts",
    "/experiment_runs/{run}/artifacts",
]


@pytest.fixture
def version(rest, name):
    model = rest.post("/registered_models", {"name": name}).json()
    return rest.post("/model_versions", {"name": "v1", "registeredModelId": model["id"]}).json()


@pytest.fixture
def run(rest, name):
    experiment = rest.post("/experiments", {"name": name}).json()
    return rest.post("/experiment_runs", {"name": "r1", "experimentId": experiment["id"]}).json()


def _count(rest) -> int:
    return rest.get("/artifacts", pageSize="10000").json()["size"]


@pytest.mark.parametrize("route", ARTIFACT_ROUTES)
@pytest.mark.parametrize("artifact_type", [{"a": 1}, ["metric"], 7, True])
def test_artifact_type_of_the_wrong_json_type_is_400_and_stores_nothing(
    rest, version, run, route, artifact_type
):
    before = _count(rest)
    path = route.format(version=version["id"], run=run["id"])
    body = {"name": "x", "artifactType": artifact_type, "uri": "s3://b/k"}
    assert_error(rest.post(path, body), 400, "artifactType")
    assert _count(rest) == before


def test_patch_with_null_artifact_type_is_400_and_the_artifact_stays_readable(rest, client, name):
    created = rest.post(
        "/artifacts", {"name": name, "artifactType": "model-artifact", "uri": "s3://b/k"}
    ).json()
    assert_error(rest.patch(f"/artifacts/{created['id']}", {"artifactType": None}), 400, "null")
    again = rest.patch(f"/artifacts/{created['id']}", {"description": "d"})
    assert again.status_code == 200, again.text
    assert again.json()["artifactType"] == "model-artifact"
    assert client.get_model_artifact  # the official client can still read it:
    assert rest.get(f"/model_artifacts/{created['id']}").json()["description"] == "d"


def test_null_for_a_field_the_record_needs_is_400(rest, name):
    model = rest.post("/registered_models", {"name": name}).json()
    assert_error(rest.patch(f"/registered_models/{model['id']}", {"state": None}), 400, "state")
    assert rest.get(f"/registered_models/{model['id']}").json()["state"] == "LIVE"


@pytest.mark.parametrize("route", ARTIFACT_ROUTES)
def test_artifact_without_name_gets_a_unique_generated_name(rest, version, run, route):
    path = route.format(version=version["id"], run=run["id"])
    names = set()
    for body in ({"artifactType": "doc-artifact"}, {"artifactType": "doc-artifact", "name": ""}):
        response = rest.post(path, body)
        assert response.status_code == 201, response.text
        names.add(response.json()["name"])
    assert len(names) == 2 and all(len(n) == 36 for n in names)  # UUIDs, as upstream


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/registered_models", {"name": "x", "ext_id": "e"}),
        ("/artifacts", {"artifactType": "metric", "value": 1, "uri": "s3://b/k"}),
        ("/experiments", {"name": "x", "nickname": "n"}),
    ],
)
def test_unknown_fields_are_refused_as_upstream_words_it(rest, path, body):
    unknown = next(iter(set(body) - {"name", "artifactType", "value"}))
    assert_error(rest.post(path, body), 400, f'json: unknown field "{unknown}"')


def test_unknown_field_in_an_update_is_refused(rest, name):
    model = rest.post("/registered_models", {"name": name}).json()
    assert_error(
        rest.patch(f"/registered_models/{model['id']}", {"ext_id": "e"}),
        400,
        'json: unknown field "ext_id"',
    )


def test_output_fields_of_a_whole_artifact_sent_back_are_ignored(rest, version):
    """The official client upserts a whole artifact (id, times, name) under a version, and
    upstream reads that body, and a PATCH of /artifacts/{id}, as its ``Artifact`` union
    (``pkg/openapi/model_artifact.go``, ``UnmarshalJSON``), which ignores them."""
    path = f"/model_versions/{version['id']}/artifacts"
    made = rest.post(path, {"name": "m", "artifactType": "model-artifact", "uri": "s3://b/k"})
    assert made.status_code == 201, made.text
    artifact = made.json()
    again = rest.post(path, {**artifact, "description": "d"})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == artifact["id"] and again.json()["description"] == "d"
    body = {**artifact, "name": "renamed", "createTimeSinceEpoch": "1", "description": "e"}
    patched = rest.patch(f"/artifacts/{artifact['id']}", body).json()
    assert patched["name"] == "m" and patched["description"] == "e"
    assert patched["createTimeSinceEpoch"] == artifact["createTimeSinceEpoch"]


def test_model_version_without_name_is_422(rest, name):
    model = rest.post("/registered_models", {"name": name}).json()
    for body in (
        {"registeredModelId": model["id"]},
        {"registeredModelId": model["id"], "name": ""},
    ):
        assert_error(rest.post("/model_versions", body), 422, "name")
    assert_error(rest.post(f"/registered_models/{model['id']}/versions", {}), 422, "name")
    assert_error(rest.post("/registered_models", {"description": "no name"}), 422, "name")


def test_names_are_limited_as_upstream_stores_them(rest, name):
    assert_error(rest.post("/registered_models", {"name": "n" * 256}), 400, "255")
    assert rest.post("/registered_models", {"name": name + "n" * (255 - len(name))}).ok
    model = rest.post("/registered_models", {"name": name}).json()
    # A version is stored as "<modelId>:<name>": its name has fewer characters to itself.
    room = 255 - len(model["id"]) - 1
    body = {"registeredModelId": model["id"], "name": "v" * (room + 1)}
    assert_error(rest.post("/model_versions", body), 400, str(room))
    assert rest.post("/model_versions", {**body, "name": "v" * room}).status_code == 201


def test_metric_step_is_an_integer_and_a_string_of_digits_is_accepted(rest, run):
    path = f"/experiment_runs/{run['id']}/artifacts"
    first = rest.post(path, {"artifactType": "metric", "name": "loss", "value": 0.5, "step": 3})
    assert first.status_code == 200, first.text  # upstream: 201 only for model and doc artifacts
    assert first.json()["step"] == 3
    old_client = rest.post(
        path, {"artifactType": "metric", "name": "acc", "value": 0.9, "step": "4"}
    )
    assert old_client.json()["step"] == 4
    assert_error(
        rest.post(path, {"artifactType": "metric", "name": "f1", "value": 1, "step": "four"}),
        400,
        "step",
    )


def test_artifacts_under_a_run_carry_its_ids_and_are_found_by_filter(rest, run):
    path = f"/experiment_runs/{run['id']}/artifacts"
    made = rest.post(path, {"artifactType": "parameter", "name": "lr", "value": "0.1"}).json()
    assert made["experimentRunId"] == run["id"]
    assert made["experimentId"] == run["experimentId"]
    found = rest.get("/artifacts", filterQuery=f"experimentRunId IN ({run['id']}, 999)").json()
    assert [a["id"] for a in found["items"]] == [made["id"]]
    found = rest.get("/artifacts", filterQuery=f"experimentRunId = '{run['id']}'").json()
    assert [a["id"] for a in found["items"]] == [made["id"]]


def test_metric_history_keeps_every_value_logged_under_a_run(rest, run):
    path = f"/experiment_runs/{run['id']}/artifacts"
    for step, value in enumerate([0.9, 0.5, 0.3]):
        body = {"artifactType": "metric", "name": "loss", "value": value, "step": step}
        response = rest.post(path, body)
        assert response.status_code == 200, response.text
    rest.post(path, {"artifactType": "metric", "name": "acc", "value": 0.7, "step": 0})
    # The metric itself holds its latest value; its history holds all of them.
    current = rest.get(path, artifactType="metric").json()["items"]
    assert sorted((m["name"], m["value"]) for m in current) == [("acc", 0.7), ("loss", 0.3)]
    history = rest.get(f"/experiment_runs/{run['id']}/metric_history", name="loss").json()
    assert [(m["step"], m["value"]) for m in history["items"]] == [(0, 0.9), (1, 0.5), (2, 0.3)]
    assert {m["experimentRunId"] for m in history["items"]} == {run["id"]}
    steps = rest.get(f"/experiment_runs/{run['id']}/metric_history", stepIds="0,2").json()
    assert sorted(m["value"] for m in steps["items"]) == [0.3, 0.7, 0.9]
    everywhere = rest.get(
        "/experiment_runs/metric_history", filterQuery=f"experimentRunId IN ({run['id']})"
    ).json()
    assert everywhere["size"] == 4
    assert_error(rest.get("/experiment_runs/999999/metric_history"), 404)
    assert_error(rest.get(f"/experiment_runs/{run['id']}/metric_history", stepIds="a"), 400)


@pytest.mark.parametrize("field", ["logo", "licenseLink"])
def test_empty_uri_fields_are_not_stored(rest, name, field):
    model = rest.post("/registered_models", {"name": name, field: ""}).json()
    assert field not in model
    assert field not in rest.get(f"/registered_models/{model['id']}").json()
    set_ = rest.patch(f"/registered_models/{model['id']}", {field: "https://x.org/l"}).json()
    assert set_[field] == "https://x.org/l"
    cleared = rest.patch(f"/registered_models/{model['id']}", {field: ""}).json()
    assert field not in cleared


def test_empty_artifact_uri_is_not_stored(rest):
    made = rest.post("/artifacts", {"artifactType": "model-artifact", "uri": ""}).json()
    assert "uri" not in made and made["name"]
