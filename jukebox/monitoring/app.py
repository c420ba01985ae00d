"""The HTTP face of the embedded monitoring service: TrustyAI's REST API on Starlette.

Routes (as the TrustyAI service serves them): ``POST /data/upload``; ``POST /`` (KServe payload
logger CloudEvents, binary mode) and ``POST /consumer/kserve/v2``; for ``meanshift`` and
``kstest`` under ``/metrics/drift/<metric>`` and for ``/metrics/identity``: ``POST`` (compute
now), ``POST|DELETE /request``, ``GET /requests``, ``GET /definition``; ``GET /info`` and
``/info/tags``; ``POST /explainers/local/shap`` and ``/explainers/local/cf`` (TrustyAI's local
explainers over a logged inference and the model at ``config.model.target``, see
:mod:`jukebox.monitoring.explainers`); ``GET /q/metrics`` (Prometheus) and ``GET
/q/health/ready`` (open, for ``ensure_service``). Jukebox's own addition: ``POST
/jukebox/evaluate`` computes the scheduled metrics now (the background schedule does it every
``interval`` seconds); ``POST /jukebox/alerts/alertmanager`` takes Prometheus Alertmanager's
webhook notifications and records their drift alerts (``deploy/monitoring/`` wires a rule on the
real TrustyAI's metrics to it).

Answers are TrustyAI's: JSON for metric results and listings, plain text for messages and errors
(status 400 for a body it refuses, 404 for an unknown request id). With a token, every route but
the health check requires ``Authorization: Bearer <token>``, as the real service sits behind its
OAuth proxy.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from jukebox.monitoring import explainers
from jukebox.monitoring.service import DEFINITIONS, DRIFT_METRICS, ApiError, MonitoringService

HEALTH_PATH = "/q/health/ready"
ALERTMANAGER_PATH = "/jukebox/alerts/alertmanager"
OPEN_PATHS = (HEALTH_PATH,)


def create_app(
    root: Path,
    *,
    token: str | None = None,
    alert_after: int = 3,
    interval: float = 5.0,
    on_started: Callable[[], None] | None = None,
) -> Starlette:
    """The app over the monitoring folder ``root``; ``interval`` seconds between scheduled
    evaluations (0: only on demand)."""
    service = MonitoringService(root, alert_after=alert_after)
    stop = threading.Event()

    def schedule_loop() -> None:
        while not stop.wait(interval):
            try:
                service.evaluate()
            except Exception as error:  # noqa: BLE001 - a failed round must not end the schedule
                print(f"scheduled evaluation failed: {error}", flush=True)

    @asynccontextmanager
    async def lifespan(app):
        thread = None
        if interval > 0:
            thread = threading.Thread(target=schedule_loop, name="metrics-schedule", daemon=True)
            thread.start()
        if on_started:
            on_started()
        yield
        stop.set()
        if thread:
            thread.join(timeout=10)
        service.close()

    async def body_of(request: Request) -> object:
        raw = await request.body()
        try:
            return json.loads(raw) if raw else None
        except json.JSONDecodeError as error:
            raise ApiError(400, f"The body is not valid JSON: {error}") from error

    def endpoint(work, kind: str = "json"):
        async def handle(request: Request) -> Response:
            if token is not None and request.url.path not in OPEN_PATHS:
                given = request.headers.get("authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                    return PlainTextResponse(
                        "Unauthorized: this TrustyAI service requires "
                        "'Authorization: Bearer <token>'.",
                        status_code=401,
                    )
            try:
                result = await work(request)
            except ApiError as error:
                return PlainTextResponse(error.message, status_code=error.status)
            if kind == "text":
                return PlainTextResponse(result)
            return JSONResponse(result)

        return handle

    async def upload(request):
        return await run_in_threadpool(service.upload, await body_of(request))

    async def cloudevent(request):
        body = await request.body()
        return await run_in_threadpool(service.consume_cloudevent, dict(request.headers), body)

    async def partial(request):
        return await run_in_threadpool(service.consume_partial, await body_of(request))

    async def info(request):
        return await run_in_threadpool(service.info)

    async def tags(request):
        return await run_in_threadpool(service.tags)

    async def metrics(request):
        return await run_in_threadpool(service.prometheus_text)

    async def health(request):
        return {"status": "UP", "root": str(Path(root).resolve())}

    async def evaluate(request):
        return await run_in_threadpool(service.evaluate)

    async def alertmanager(request):
        return await run_in_threadpool(service.receive_alertmanager, await body_of(request))

    async def shap(request):
        body = await body_of(request)
        return await run_in_threadpool(explainers.shap_explanation, service.root, body)

    async def counterfactual(request):
        body = await body_of(request)
        return await run_in_threadpool(explainers.counterfactual_explanation, service.root, body)

    def metric_routes(prefix: str, metric: str) -> list[Route]:
        async def compute(request):
            return await run_in_threadpool(service.compute, metric, await body_of(request))

        async def create(request):
            return await run_in_threadpool(service.schedule, metric, await body_of(request))

        async def delete(request):
            return await run_in_threadpool(service.unschedule, metric, await body_of(request))

        async def listing(request):
            return service.list_requests(metric)

        async def definition(request):
            return DEFINITIONS[metric]

        return [
            Route(prefix, endpoint(compute), methods=["POST"]),
            Route(prefix + "/request", endpoint(create), methods=["POST"]),
            Route(prefix + "/request", endpoint(delete, "text"), methods=["DELETE"]),
            Route(prefix + "/requests", endpoint(listing), methods=["GET"]),
            Route(prefix + "/definition", endpoint(definition, "text"), methods=["GET"]),
        ]

    routes = [
        Route("/", endpoint(cloudevent, "text"), methods=["POST"]),
        Route("/data/upload", endpoint(upload, "text"), methods=["POST"]),
        Route("/consumer/kserve/v2", endpoint(partial, "text"), methods=["POST"]),
        Route("/info", endpoint(info), methods=["GET"]),
        Route("/info/tags", endpoint(tags), methods=["GET"]),
        Route("/q/metrics", endpoint(metrics, "text"), methods=["GET"]),
        Route(HEALTH_PATH, endpoint(health), methods=["GET"]),
        Route("/jukebox/evaluate", endpoint(evaluate), methods=["POST"]),
        Route(ALERTMANAGER_PATH, endpoint(alertmanager), methods=["POST"]),
        Route(explainers.SHAP_PATH, endpoint(shap), methods=["POST"]),
        Route(explainers.CF_PATH, endpoint(counterfactual), methods=["POST"]),
    ]
    for path, metric in DRIFT_METRICS.items():
        routes += metric_routes(f"/metrics/drift/{path}", metric)
    routes += metric_routes("/metrics/identity", "IDENTITY")
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    return app
