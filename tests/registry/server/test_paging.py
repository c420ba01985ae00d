"""Listings page and order the way the official client's pager expects."""

from __future__ import annotations

import time

import pytest


@pytest.fixture
def versions(rest, name) -> tuple[str, list[str]]:
    """A registered model with 11 versions, created in order; returns (model id, version ids)."""
    model = rest.post("/registered_models", {"name": name}).json()
    ids = []
    for number in range(11):
        response = rest.post(
            "/model_versions", {"name": f"v{number:02d}", "registeredModelId": model["id"]}
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return model["id"], ids


def test_pager_walks_every_page_once_in_both_directions(client, name, versions):
    expected = [f"v{number:02d}" for number in range(11)]
    assert [v.name for v in client.get_model_versions(name).page_size(4)] == expected
    assert [v.name for v in client.get_model_versions(name).page_size(3).descending()] == (
        expected[::-1]
    )
    by_creation = client.get_model_versions(name).order_by_creation_time().page_size(5)
    assert [v.name for v in by_creation] == expected
    assert [v.name for v in client.get_model_versions(name).page_size(100)] == expected


def test_order_by_last_update_time(client, rest, name, versions):
    _, ids = versions
    for version_id in (ids[5], ids[0], ids[9]):
        time.sleep(0.003)  # distinct milliseconds
        assert rest.patch(f"/model_versions/{version_id}", {"description": "touched"}).ok
    pager = client.get_model_versions(name).order_by_update_time().descending().page_size(2)
    assert [v.name for v in pager][:3] == ["v09", "v00", "v05"]


def test_raw_pages_carry_tokens_sizes_and_end_with_an_empty_page(rest, versions):
    model_id, ids = versions
    seen, token, tokens = [], None, []
    while True:
        params = {"pageSize": "4", "orderBy": "ID", "sortOrder": "ASC"}
        if token:
            params["nextPageToken"] = token
        page = rest.get(f"/registered_models/{model_id}/versions", **params).json()
        assert page["pageSize"] == 4 and page["size"] == len(page["items"])
        seen += [item["id"] for item in page["items"]]
        token = page["nextPageToken"]
        tokens.append(token)
        if not token:
            break
    assert seen == ids
    # Pages of 4, 4 and 3 items, each pointing further, then an empty page with no token.
    assert len(tokens) == 4 and tokens[-1] == "" and all(tokens[:-1])
    assert len(set(tokens)) == 4


def test_pages_stay_consistent_when_versions_are_added_between_pages(rest, versions):
    model_id, ids = versions
    first = rest.get(f"/registered_models/{model_id}/versions", pageSize="6").json()
    rest.post("/model_versions", {"name": "late", "registeredModelId": model_id})
    rest_of = rest.get(
        f"/registered_models/{model_id}/versions",
        pageSize="6",
        nextPageToken=first["nextPageToken"],
    ).json()
    names = [item["name"] for item in first["items"] + rest_of["items"]]
    assert names == [f"v{number:02d}" for number in range(11)] + ["late"]


def test_flat_listing_filters_by_kind(rest, versions):
    _, ids = versions
    listed = rest.get("/model_versions", pageSize="10000").json()["items"]
    assert set(ids) <= {item["id"] for item in listed}
    assert all("registeredModelId" in item for item in listed)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"orderBy": "NAME"}, "orderBy"),
        ({"sortOrder": "UP"}, "sortOrder"),
        ({"pageSize": "many"}, "pageSize"),
        ({"pageSize": "0"}, "pageSize"),
        ({"nextPageToken": "not-a-token"}, "nextPageToken"),
    ],
)
def test_bad_list_options_are_400_with_a_reason(rest, versions, params, message):
    model_id, _ = versions
    response = rest.get(f"/registered_models/{model_id}/versions", **params)
    assert response.status_code == 400
    assert response.json()["code"] == "Bad Request" and message in response.json()["message"]
