"""The HTTP face of the embedded registry: the Kubeflow Model Registry REST API on Starlette.

Routes are generated from one table, because the API treats its resources alike: a collection
(list, create), an item (get, patch), a search by name or external id (``/registered_model?
name=…``), and collections nested under a parent (``/registered_models/{id}/versions``). The same
routes are served under ``/api/model_registry/v1`` (the paths of the official Python client
0.3.x) and ``/api/model_registry/v1alpha3`` (the paths of upstream's OpenAPI document and of the
client on upstream's main branch). Errors are the
API's ``Error`` schema, ``{"code", "message"}`` (``code`` the reason phrase, as upstream sends it),
with the status the OpenAPI document gives (400, 401, 404, 409, 422).

Starlette rather than FastAPI: the routes are generic and validate bodies themselves (see
``service.py``), so FastAPI would only add a second of start-up time to every server start.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from jukebox.registry.server.errors import ApiError, NotFound, Unauthorized
from jukebox.registry.server.paths import API_PREFIXES, HEALTH_PATH
from jukebox.registry.server.service import Registry, parse_body
from jukebox.registry.server.store import Page, Store

LIST_OPTIONS = {
    "pageSize": "page_size",
    "orderBy": "order_by",
    "sortOrder": "sort_order",
    "nextPageToken": "next_page_token",
    "name": "name",
    "externalId": "external_id",
    "filterQuery": "filter_query",
}
Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Collection:
    """A top-level collection: ``/{path}``, ``/{path}/{id}`` and the search ``/{find}``.

    Its POST and PATCH bodies are upstream's ``*Create`` and ``*Update`` schemas, which refuse
    output-only fields, except for ``/artifacts``: upstream reads that body as a union of the
    artifact types (``ArtifactCreate.UnmarshalJSON`` in ``pkg/openapi``), which ignores them.
    """

    path: str
    find: str
    kind: str
    artifact_type: str | None = None  # fixed by the route: /model_artifacts holds one type

    @property
    def strict(self) -> bool:
        return not (self.kind == "artifact" and self.artifact_type is None)


@dataclass(frozen=True)
class Nested:
    """Children under a parent: ``/{parent_path}/{id}/{child}`` (list and create).

    ``strict``: the POST body is the child's ``*Create`` schema; otherwise it is the child's
    whole schema (``ModelVersion``, ``ExperimentRun``, as upstream's controller decodes it),
    whose output-only fields are ignored.
    """

    parent_path: str
    parent_kind: str
    child: str
    kind: str
    strict: bool


COLLECTIONS = (
    Collection("registered_models", "registered_model", "registered_model"),
    Collection("model_versions", "model_version", "model_version"),
    Collection("artifacts", "artifact", "artifact"),
    Collection("model_artifacts", "model_artifact", "artifact", "model-artifact"),
    Collection("serving_environments", "serving_environment", "serving_environment"),
    Collection("inference_services", "inference_service", "inference_service"),
    Collection("experiments", "experiment", "experiment"),
    Collection("experiment_runs", "experiment_run", "experiment_run"),
)
NESTED = (
    Nested("registered_models", "registered_model", "versions", "model_version", strict=False),
    Nested(
        "serving_environments",
        "serving_environment",
        "inference_services",
        "inference_service",
        strict=True,
    ),
    Nested("inference_services", "inference_service", "serves", "serve_model", strict=True),
    Nested("experiments", "experiment", "experiment_runs", "experiment_run", strict=False),
)
# Artifacts under versions and runs: listed by type, and upserted rather than only created.
ARTIFACT_PARENTS = (("model_versions", "model_version"), ("experiment_runs", "experiment_run"))
CREATED_ON_UPSERT = ("model-artifact", "doc-artifact")


def json_response(document: dict, status: int = 200) -> Response:
    return Response(json.dumps(document), status_code=status, media_type="application/json")


def page_response(page: Page) -> Response:
    """A ``*List`` body, built from the stored JSON strings without parsing them."""
    head = json.dumps(
        {"nextPageToken": page.next_page_token, "pageSize": page.page_size, "size": len(page.items)}
    )
    return Response(
        head[:-1] + ', "items": [' + ",".join(page.items) + "]}", media_type="application/json"
    )


def error_response(status: int, message: str, code: str | None = None) -> JSONResponse:
    """The API's ``Error`` body; its ``code`` is the status's reason phrase, as upstream."""
    code = code or HTTPStatus(status).phrase
    return JSONResponse({"code": code, "message": message}, status_code=status)


def list_options(request: Request) -> dict:
    query = request.query_params
    return {option: query.get(param) for param, option in LIST_OPTIONS.items()}


def api_routes(registry: Registry) -> list[Route]:
    """Every route of the API over ``registry``, relative to the API prefix."""

    async def metric_history(request: Request) -> Response:
        """``/experiment_runs[/{id}]/metric_history``: every value logged for a run's metrics,
        filtered by metric ``name`` and ``stepIds`` (comma-separated)."""
        options = list_options(request)
        name = options.pop("name")
        options.pop("external_id")
        page = registry.metric_history(
            request.path_params.get("id"),
            name=name,
            step_ids=request.query_params.get("stepIds"),
            **options,
        )
        return page_response(page)

    # Before the collections, so that "metric_history" is not taken for a run's id.
    routes = [
        Route("/experiment_runs/metric_history", metric_history, methods=["GET"]),
        Route("/experiment_runs/{id}/metric_history", metric_history, methods=["GET"]),
    ]
    routes += [route for c in COLLECTIONS for route in _collection_routes(registry, c)]
    routes += [route for n in NESTED for route in _nested_routes(registry, n)]
    routes += [
        route
        for parent_path, parent_kind in ARTIFACT_PARENTS
        for route in _artifact_routes(registry, parent_path, parent_kind)
    ]

    async def served_model(request: Request) -> Response:
        service = registry.get("inference_service", request.path_params["id"])
        return json_response(registry.get("registered_model", service["registeredModelId"]))

    async def served_version(request: Request) -> Response:
        """The version the service serves; without one, the newest version of its model."""
        service_id = request.path_params["id"]
        service = registry.get("inference_service", service_id)
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
            raise NotFound(f"inference service {service_id} has no model version to serve")
        return Response(page.items[0], media_type="application/json")

    routes.append(Route("/inference_services/{id}/model", served_model, methods=["GET"]))
    routes.append(Route("/inference_services/{id}/version", served_version, methods=["GET"]))
    return routes


def _collection_routes(registry: Registry, c: Collection) -> list[Route]:
    kind, fixed = c.kind, c.artifact_type

    async def list_all(request: Request) -> Response:
        artifact_type = fixed or request.query_params.get("artifactType")
        return page_response(
            registry.list(kind, artifact_type=artifact_type, **list_options(request))
        )

    async def create(request: Request) -> Response:
        body = parse_body(await request.body())
        created = registry.create(kind, body, artifact_type=fixed, strict=c.strict)
        return json_response(created, 201)

    async def get(request: Request) -> Response:
        return json_response(registry.get(kind, request.path_params["id"], fixed))

    async def update(request: Request) -> Response:
        body = parse_body(await request.body())
        return json_response(
            registry.update(
                kind, request.path_params["id"], body, artifact_type=fixed, strict=c.strict
            )
        )

    async def find(request: Request) -> Response:
        query = request.query_params
        found = registry.find(
            kind,
            name=query.get("name"),
            external_id=query.get("externalId"),
            parent_id=query.get("parentResourceId"),
            artifact_type=fixed,
        )
        return json_response(found)

    return [
        Route(f"/{c.path}", list_all, methods=["GET"]),
        Route(f"/{c.path}", create, methods=["POST"]),
        Route(f"/{c.path}/{{id}}", get, methods=["GET"]),
        Route(f"/{c.path}/{{id}}", update, methods=["PATCH"]),
        Route(f"/{c.find}", find, methods=["GET"]),
    ]


def _nested_routes(registry: Registry, n: Nested) -> list[Route]:
    async def list_children(request: Request) -> Response:
        parent = (n.parent_kind, request.path_params["id"])
        return page_response(registry.list(n.kind, parent=parent, **list_options(request)))

    async def create_child(request: Request) -> Response:
        body = parse_body(await request.body())
        parent = (n.parent_kind, request.path_params["id"])
        return json_response(registry.create(n.kind, body, parent=parent, strict=n.strict), 201)

    path = f"/{n.parent_path}/{{id}}/{n.child}"
    return [
        Route(path, list_children, methods=["GET"]),
        Route(path, create_child, methods=["POST"]),
    ]


def _artifact_routes(registry: Registry, parent_path: str, parent_kind: str) -> list[Route]:
    async def list_artifacts(request: Request) -> Response:
        page = registry.list(
            "artifact",
            parent=(parent_kind, request.path_params["id"]),
            artifact_type=request.query_params.get("artifactType"),
            **list_options(request),
        )
        return page_response(page)

    async def upsert_artifact(request: Request) -> Response:
        body = parse_body(await request.body())
        parent = (parent_kind, request.path_params["id"])
        artifact, created = registry.upsert_child_artifact(parent, body)
        # Upstream answers 201 only for a new model or doc artifact; a logged metric, parameter
        # or dataset gets 200 even when it is new.
        created = created and artifact["artifactType"] in CREATED_ON_UPSERT
        return json_response(artifact, 201 if created else 200)

    path = f"/{parent_path}/{{id}}/artifacts"
    return [
        Route(path, list_artifacts, methods=["GET"]),
        Route(path, upsert_artifact, methods=["POST"]),
    ]


def _guarded(route: Route, token: str | None) -> Route:
    """The route, answering 401 unless the request carries ``Authorization: Bearer <token>``."""
    if token is None:
        return route
    endpoint = route.endpoint

    async def checked(request: Request) -> Response:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            raise Unauthorized(
                "a valid bearer token is required: send the header 'Authorization: Bearer <token>'"
            )
        return await endpoint(request)

    return Route(route.path, checked, methods=route.methods)


def create_app(
    db_path: Path, token: str | None = None, on_started: Callable[[], None] | None = None
) -> Starlette:
    """The registry application over the SQLite file ``db_path``.

    With ``token``, every API call must send ``Authorization: Bearer <token>``; the health
    check stays open so a supervisor can probe the server without the secret. ``on_started`` is
    called once the server accepts requests.
    """
    store = Store(Path(db_path))
    registry = Registry(store)
    routes = [_guarded(route, token) for route in api_routes(registry)]

    async def health(_: Request) -> Response:
        return json_response({"status": "ok", "db": str(store.path)})

    async def api_error(_: Request, error: ApiError) -> Response:
        return error_response(error.status, str(error), error.code)

    async def http_error(_: Request, error: HTTPException) -> Response:
        return error_response(error.status_code, str(error.detail))

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if on_started is not None:
            on_started()
        yield
        store.close()

    app = Starlette(
        routes=[
            Route(HEALTH_PATH, health, methods=["GET"]),
            *(Mount(prefix, routes=routes) for prefix in API_PREFIXES),
        ],
        exception_handlers={ApiError: api_error, HTTPException: http_error},
        lifespan=lifespan,
    )
    app.state.store = store
    return app
