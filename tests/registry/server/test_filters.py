"""filterQuery, the API's SQL-like filter, on listings."""

from __future__ import annotations

import pytest
from model_registry.types import ListOptions

from tests.registry.server.test_errors import assert_error


def prop(kind: str, value) -> dict:
    field = {"String": "string_value", "Int": "int_value", "Double": "double_value"}.get(
        kind, "bool_value"
    )
    return {"metadataType": f"Metadata{kind}Value", field: value}


@pytest.fixture
def catalogue(rest, name) -> dict[str, str]:
    """Four versions with various states and custom properties; returns name -> id."""
    model = rest.post("/registered_models", {"name": name}).json()
    rows = [
        ("alpha", "LIVE", 0.91, "12", "keras", True),
        ("beta", "ARCHIVED", 0.85, "3", "Keras", False),
        ("gamma", "LIVE", 0.97, "40", "torch", True),
        ("delta-x", "LIVE", 0.50, "7", "sklearn", False),
    ]
    ids = {}
    for version, state, accuracy, epochs, framework, verified in rows:
        body = {
            "name": version,
            "state": state,
            "registeredModelId": model["id"],
            "customProperties": {
                "accuracy": prop("Double", accuracy),
                "epochs": prop("Int", epochs),
                "framework": prop("String", framework),
                "verified": prop("Bool", verified),
                "mlflow.source.type": prop("String", "notebook" if verified else "job"),
            },
        }
        ids[version] = rest.post("/model_versions", body).json()["id"]
    ids["model"] = model["id"]
    return ids


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('name = "alpha"', ["alpha"]),
        ("state = 'LIVE'", ["alpha", "gamma", "delta-x"]),
        ("accuracy > 0.9", ["alpha", "gamma"]),
        ("epochs >= 12", ["alpha", "gamma"]),
        ("epochs.int_value < 10", ["beta", "delta-x"]),
        ('framework = "keras"', ["alpha"]),
        ('framework ILIKE "keras"', ["alpha", "beta"]),
        ('framework LIKE "K%"', ["beta"]),
        ("verified = true", ["alpha", "gamma"]),
        ("verified.bool_value = FALSE", ["beta", "delta-x"]),
        ('framework.string_value IN ("torch", "sklearn")', ["gamma", "delta-x"]),
        ('(name = "alpha" OR name = "beta") AND state = "LIVE"', ["alpha"]),
        ('name <> "alpha" AND accuracy < 0.9', ["beta", "delta-x"]),
        ('`mlflow.source.type` = "notebook"', ["alpha", "gamma"]),
        ('name LIKE "%-x"', ["delta-x"]),
    ],
)
def test_filter_query_selects_versions(rest, catalogue, query, expected):
    response = rest.get(f"/registered_models/{catalogue['model']}/versions", filterQuery=query)
    assert response.status_code == 200, response.text
    assert [item["name"] for item in response.json()["items"]] == expected


def test_filter_query_pages_like_any_listing(rest, catalogue):
    path = f"/registered_models/{catalogue['model']}/versions"
    first = rest.get(path, filterQuery="state = 'LIVE'", pageSize="2").json()
    second = rest.get(
        path, filterQuery="state = 'LIVE'", pageSize="2", nextPageToken=first["nextPageToken"]
    ).json()
    names = [item["name"] for item in first["items"] + second["items"]]
    assert names == ["alpha", "gamma", "delta-x"]
    # The filter decides where the listing ends: the page holding its last match has no token.
    assert first["nextPageToken"] and second["nextPageToken"] == ""


def test_official_client_get_artifacts_with_a_filter(client, name):
    for version in ("1", "2"):
        client.register_model(
            name, f"file:///{version}", model_format_name="onnx", model_format_version="1",
            version=version,
        )  # fmt: skip
    found = client.async_runner(
        client._api.get_artifacts(
            filter_query='uri = "file:///2"', artifact_type="model-artifact", options=ListOptions()
        )
    )
    assert [artifact.uri for artifact in found] == ["file:///2"]


@pytest.mark.parametrize(
    "query", ["name = ", 'name "x"', '(name = "x"', 'name = "x" AND', "= 3", 'name = "x" )']
)
def test_malformed_filter_is_400(rest, catalogue, query):
    response = rest.get(f"/registered_models/{catalogue['model']}/versions", filterQuery=query)
    assert_error(response, 400, "filterQuery")
