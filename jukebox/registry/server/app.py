"""The HTTP face of the embedded registry: the Kubeflow Model Registry REST API on FastAPI.

Routes are generated from one table (``ROUTES``), because the API treats its resources alike:
a collection (list, create), an item (get, patch), a search by name or external id, and
collections nested under a parent. The same routes are served under ``/api/model_registry/v1``
(the paths of the official Python client 0.3.x) and ``/api/model_registry/v1alpha3`` (the
earlier name of the same API). Errors are the API's ``Error`` schema, ``{"code", "message"}``,
with the status the OpenAPI document gives (400, 401, 404, 409).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from jukebox.registry.server.service import Registry, parse_body
from jukebox.registry.server.store import (
    NotFound,
    Page,
    RegistryError,
    Store,
    Unauthorized,
)

API_PREFIXES = ("/api/model_registry/v1", "/api/model_registry/v1alpha3")
LIST_OPTIONS = {
    "pageSize": "page_size",
    "orderBy": "order_by",
    "sortOrder": "sort_order",
    "nextPageToken": "next_page_token",
    "name": "name",
    "externalId": "external_id",
    "filterQuery": "filter_query",
}


@dataclass(frozen=True)
class Collection:
    """A top-level collection: ``/{path}``, ``/{path}/{id}`` and the search ``/{find}``."""

    path: str
    find: str
    kind: str
    artifact_type: str | None = None  # fixed by the route, e.g. /model_artifacts


@dataclass(frozen=True)
class Nested:
    """Children under a parent: ``/{parent_path}/{id}/{child}`` (list and create)."""

    parent_path: str
    parent_kind: str
    child: str
    kind: str


COLLECTIONS = (
    Collection("registered_models", "registered_model", "registered_model"),
    Collection("model_versions", "model_version", "model_version"),
    Collection("artifacts", "artifact", "artifact"),
    Collection("model_artifacts", "model_artifact", "model_artifact", "model-artifact"),
    Collection("serving_environments", "serving_environment", "serving_environment"),
    Collection("inference_services", "inference_service", "inference_service"),
    Collection("experiments", "experiment", "experiment"),
    Collection("experiment_runs", "experiment_run", "experiment_run"),
)
NESTED = (
    Nested("registered_models", "registered_model", "versions", "model_version"),
    Nested(
        "serving_environments", "serving_environment", "inference_services", "inference_service"
    ),
    Nested("inference_services", "inference_service", "serves", "serve_model"),
    Nested("experiments", "experiment", "experiment_runs", "experiment_run"),
)
# Artifacts nested under versions and runs are upserted rather than only created.
ARTIFACT_PARENTS = (("model_versions", "model_version"), ("experiment_runs", "experiment_run"))


def _kind(collection: Collection) -> str:
    # /model_artifacts is a view of the artifacts restricted to one type.
    return "artifact" if collection.artifact_type else collection.kind


def json_response(document: dict, status: int = 200) -> Response:
    return Response(json.dumps(document), status_code=status, media_type="application/json")


def page_response(page: Page) -> Response:
    """A ``*List`` body, built from the stored JSON strings without parsing them."""
    head = json.dumps(
        {"nextPageToken": page.next_page_token, "pageSize": page.page_size, "size": len(page.items)}
    )
    body = head[:-1] + ', "items": [' + ",".join(page.items) + "]}"
    return Response(body, media_type="application/json")


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": str(status), "message": message}, status_code=status)


def list_options(request: Request) -> dict:
    query = request.query_params
    return {option: query.get(param) for param, option in LIST_OPTIONS.items()}


def build_router(registry: Registry) -> APIRouter:
    """Every route of the API over ``registry``."""
    router = APIRouter()

    for collection in COLLECTIONS:
        _add_collection(router, registry, collection)
    for nested in NESTED:
        _add_nested(router, registry, nested)
    for parent_path, parent_kind in ARTIFACT_PARENTS:
        _add_artifact_parent(router, registry, parent_path, parent_kind)

    @router.get("/inference_services/{resource_id}/model")
    def served_model(resource_id: str) -> Response:
        service = registry.get("inference_service", resource_id)
        return json_response(registry.get("registered_model", service["registeredModelId"]))

    @router.get("/inference_services/{resource_id}/version")
    def served_version(resource_id: str) -> Response:
        """The version the service serves; without one, the newest version of its model."""
        service = registry.get("inference_service", resource_id)
        if service.get("modelVersionId"):
            return json_response(registry.get("model_version", service["modelVersionId"]))
        page = registry.list(
            "model_version",
            parent=("registered_model", service["registeredModelId"]),
            order_by="CREATE_TIME",
            sort_order="DESC",
            page_size="1",
        )
        if not page.items:
            raise NotFound(f"inference service {resource_id} has no model version to serve")
        return Response(page.items[0], media_type="application/json")

    return router


def _add_collection(router: APIRouter, registry: Registry, c: Collection) -> None:
    kind, fixed = _kind(c), c.artifact_type

    def list_all(request: Request) -> Response:
        query = request.query_params
        options = list_options(request)
        artifact_type = fixed or query.get("artifactType")
        return page_response(registry.list(kind, artifact_type=artifact_type, **options))

    async def create(request: Request) -> Response:
        body = parse_body(await request.body())
        return json_response(registry.create(kind, body, artifact_type=fixed), 201)

    def get(resource_id: str) -> Response:
        return json_response(registry.get(kind, resource_id, fixed))

    async def update(resource_id: str, request: Request) -> Response:
        body = parse_body(await request.body())
        return json_response(registry.update(kind, resource_id, body, artifact_type=fixed))

    def find(request: Request) -> Response:
        query = request.query_params
        return json_response(
            registry.find(
                kind,
                name=query.get("name"),
                external_id=query.get("externalId"),
                parent_id=query.get("parentResourceId"),
                artifact_type=fixed,
            )
        )

    router.add_api_route(f"/{c.path}", list_all, methods=["GET"], name=f"list_{c.path}")
    router.add_api_route(f"/{c.path}", create, methods=["POST"], name=f"create_{c.path}")
    router.add_api_route(f"/{c.path}/{{resource_id}}", get, methods=["GET"], name=f"get_{c.path}")
    router.add_api_route(
        f"/{c.path}/{{resource_id}}", update, methods=["PATCH"], name=f"update_{c.path}"
    )
    router.add_api_route(f"/{c.find}", find, methods=["GET"], name=f"find_{c.find}")


def _add_nested(router: APIRouter, registry: Registry, n: Nested) -> None:
    path = f"/{n.parent_path}/{{parent_id}}/{n.child}"

    def list_children(parent_id: str, request: Request) -> Response:
        options = list_options(request)
        return page_response(registry.list(n.kind, parent=(n.parent_kind, parent_id), **options))

    async def create_child(parent_id: str, request: Request) -> Response:
        body = parse_body(await request.body())
        return json_response(registry.create(n.kind, body, parent=(n.parent_kind, parent_id)), 201)

    router.add_api_route(path, list_children, methods=["GET"], name=f"list_{n.kind}_of_parent")
    router.add_api_route(path, create_child, methods=["POST"], name=f"create_{n.kind}_of_parent")


def _add_artifact_parent(
    router: APIRouter, registry: Registry, parent_path: str, parent_kind: str
) -> None:
    path = f"/{parent_path}/{{parent_id}}/artifacts"

    def list_artifacts(parent_id: str, request: Request) -> Response:
        options = list_options(request)
        artifact_type = request.query_params.get("artifactType")
        page = registry.list(
            "artifact", parent=(parent_kind, parent_id), artifact_type=artifact_type, **options
        )
        return page_response(page)

    async def upsert_artifact(parent_id: str, request: Request) -> Response:
        body = parse_body(await request.body())
        artifact, created = registry.upsert_child_artifact((parent_kind, parent_id), body)
        return json_response(artifact, 201 if created else 200)

    router.add_api_route(
        path, list_artifacts, methods=["GET"], name=f"list_{parent_kind}_artifacts"
    )
    router.add_api_route(
        path, upsert_artifact, methods=["POST"], name=f"upsert_{parent_kind}_artifact"
    )


def create_app(db_path: Path, token: str | None = None) -> FastAPI:
    """The registry application over the SQLite file ``db_path``.

    With ``token``, every API call must send ``Authorization: Bearer <token>``; the health
    check stays open so a supervisor can probe the server without the secret.
    """
    store = Store(Path(db_path))
    registry = Registry(store)

    def check_token(request: Request) -> None:
        if token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            raise Unauthorized(
                "a valid bearer token is required: send the header 'Authorization: Bearer <token>'"
            )

    app = FastAPI(title="Jukebox model registry (Kubeflow Model Registry API)")
    router = build_router(registry)
    for prefix in API_PREFIXES:
        app.include_router(router, prefix=prefix, dependencies=[Depends(check_token)])

    @app.get("/readyz/health")
    def health() -> dict:
        return {"status": "ok", "db": str(store.path)}

    @app.exception_handler(RegistryError)
    async def registry_error(_: Request, error: RegistryError) -> JSONResponse:
        return error_response(error.status, str(error))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return error_response(error.status_code, str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        return error_response(400, f"invalid request: {error.errors()}")

    app.state.store = store
    app.router.on_shutdown.append(store.close)
    return app
