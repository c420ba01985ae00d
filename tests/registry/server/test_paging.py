"""Listings page and order the way the official client's pager expects."""

from __future__ import annotations

import time

import pytest

from tests.registry.server.conftest import Rest


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


def test_raw_pages_carry_tokens_and_the_last_page_has_none(rest, versions):
    """Upstream's ``GenericRepository.List`` (internal/platform/db/repository/
    generic_repository.go) reads one row more than the page to know whether another page
    follows, and gives the page holding the last item an empty ``nextPageToken``."""
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
    # Pages of 4, 4 and 3 items: two tokens, then none; no empty page after the last.
    assert len(tokens) == 3 and tokens[-1] == "" and len(set(tokens[:2])) == 2


def test_a_last_page_filled_to_the_brim_has_no_token(rest, versions):
    model_id, ids = versions
    whole = rest.get(f"/registered_models/{model_id}/versions", pageSize="11").json()
    assert [item["id"] for item in whole["items"]] == ids and whole["nextPageToken"] == ""
    first = rest.get(f"/registered_models/{model_id}/versions", pageSize="10").json()
    assert first["nextPageToken"]
    last = rest.get(
        f"/registered_models/{model_id}/versions",
        pageSize="10",
        nextPageToken=first["nextPageToken"],
    ).json()
    assert [item["id"] for item in last["items"]] == ids[10:] and last["nextPageToken"] == ""


@pytest.mark.parametrize("params", [{}, {"pageSize": "0"}, {"pageSize": "-3"}])
def test_without_a_page_size_or_with_zero_every_item_comes_in_one_page(rest, versions, params):
    """Upstream: no ``pageSize`` is ``DefaultPageSize = 0`` (internal/platform/db/entity/
    pagination.go), and ``PaginateWithOptions`` (internal/platform/db/scopes/paginate.go) puts
    a LIMIT only when ``pageSize > 0``; the answer's pageSize is the one asked for."""
    model_id, ids = versions
    page = rest.get(f"/registered_models/{model_id}/versions", **params).json()
    assert [item["id"] for item in page["items"]] == ids
    assert page["nextPageToken"] == "" and page["size"] == 11
    assert page["pageSize"] == int(params.get("pageSize", "0"))


@pytest.fixture(scope="module")
def crowded_registry(tmp_path_factory):
    """A registry holding 1,205 registered models, more than the 1,000 a page once held at most;
    written straight into its store, which takes a fraction of the time of 1,205 POSTs."""
    from jukebox.registry.server.store import Store
    from tests.registry.conftest import registry_in_thread

    db = tmp_path_factory.mktemp("crowded") / "registry.sqlite"
    store = Store(db)
    with store.write() as connection:
        for number in range(1205):
            store.insert(
                connection,
                "registered_model",
                {"name": f"m{number:04d}", "state": "LIVE"},
                parent_id=None,
                label="registered model",
            )
    store.close()
    with registry_in_thread(db) as url:
        yield Rest(url)


def test_a_listing_without_page_size_has_no_cap(crowded_registry):
    page = crowded_registry.get("/registered_models").json()
    assert page["size"] == 1205 and len({item["id"] for item in page["items"]}) == 1205
    assert page["nextPageToken"] == "" and page["pageSize"] == 0
    # The official 0.3.x client's pager reads it all with pages of its own size, too.
    pages, token = 0, None
    while True:
        params = {"pageSize": "500", **({"nextPageToken": token} if token else {})}
        body = crowded_registry.get("/registered_models", **params).json()
        pages, token = pages + 1, body["nextPageToken"]
        if not token:
            break
    assert pages == 3 and body["size"] == 205


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
    "params",
    [
        {"orderBy": "NAME"},
        {"orderBy": "CREATE_TIME", "sortOrder": "UP"},
        {"sortOrder": "desc"},  # upstream's AllowedSortOrders has upper case only
        {"orderBy": "id", "sortOrder": "ASC"},  # ... and "id" among AllowedOrderByColumns
    ],
)
def test_an_unknown_order_falls_back_to_id_ascending(rest, versions, params):
    """Upstream's ``PaginateWithOptions`` (internal/platform/db/scopes/paginate.go) uses
    ``entity.DefaultOrderBy`` for an orderBy not in ``AllowedOrderByColumns`` and
    ``DefaultSortOrder`` for a sortOrder not in ``AllowedSortOrders``: no error. Paging on with
    the token of such a listing goes on in that same order."""
    model_id, ids = versions
    path = f"/registered_models/{model_id}/versions"
    first = rest.get(path, pageSize="6", **params)
    assert first.status_code == 200, first.text
    rest_of = rest.get(path, pageSize="6", nextPageToken=first.json()["nextPageToken"], **params)
    assert rest_of.status_code == 200, rest_of.text
    listed = [item["id"] for item in first.json()["items"] + rest_of.json()["items"]]
    assert listed == ids and rest_of.json()["nextPageToken"] == ""


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pageSize": "many"}, "pageSize"),
        ({"pageSize": "2147483648"}, "pageSize"),  # upstream reads an int32
        ({"nextPageToken": "not-a-token"}, "nextPageToken"),
    ],
)
def test_bad_list_options_are_400_with_a_reason(rest, versions, params, message):
    model_id, _ = versions
    response = rest.get(f"/registered_models/{model_id}/versions", **params)
    assert response.status_code == 400
    assert response.json()["code"] == "Bad Request" and message in response.json()["message"]
