"""The Open Inference Protocol's REST routes: a path to a data-plane call, and its answer.

Endpoints, as KServe and OpenVINO Model Server expose them::

    GET  /v2/health/live                       200, {"live": true}
    GET  /v2/health/ready                      200 once the model is loaded, {"ready": true}
    GET  /v2                                   server metadata
    GET  /v2/models/{name}[/versions/{v}]      model metadata (inputs, outputs, labels)
    GET  /v2/models/{name}[/versions/{v}]/ready
    POST /v2/models/{name}[/versions/{v}]/infer   JSON, or with the binary tensor extension
    GET  /metrics                              Prometheus exposition (OVMS's and Triton's names)

The binary tensor extension (Triton's and OVMS's; tritonclient's ``binary_data=True``): a body
whose header ``Inference-Header-Content-Length`` gives the length of its JSON part carries raw
input data after it, and outputs asked for with ``binary_data`` (or the request parameter
``binary_data_output``) come back the same way.

Every error is a JSON ``{"error": "..."}`` with 400 (malformed request), 401 (token), 404
(unknown model, version or path) or 405 (with ``Allow``); never a 500 for anything a client
sends. Health, ``/v2/openapi.json`` and ``/metrics`` are open, as on OVMS (a probe and a
Prometheus scrape carry no token); the rest asks for the bearer token when the server has one.

This module is HTTP-free (a method, path, authorization and body in; a status and body out), so
it is tested directly and the transport (:mod:`jukebox.serving.transport`) only frames bytes. What
a request does to the model is the data plane's (:mod:`jukebox.serving.dataplane`), shared with
gRPC. The body types below tell the transport which headers an answer needs.
"""

from __future__ import annotations

import traceback

from jukebox.serving.dataplane import DataPlane
from jukebox.serving.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from jukebox.serving.openapi import openapi_document
from jukebox.serving.protocol import (
    ProtocolError,
    bearer_token_problem,
    dumps,
    error_body,
    infer_response_parts,
    parse_infer_request,
)
from jukebox.serving.runtime import ServedModel

SERVER_NAME = "jukebox-oip"
SERVER_VERSION = "0.1.0"


class BinaryBody(bytes):
    """A response body whose first ``json_length`` bytes are JSON and the rest binary tensor
    data; the server announces the split in ``Inference-Header-Content-Length``."""

    json_length: int

    def __new__(cls, data: bytes, json_length: int) -> BinaryBody:
        body = super().__new__(cls, data)
        body.json_length = json_length
        return body


class MethodNotAllowedBody(bytes):
    """The JSON error of a 405, with the methods the endpoint takes for the ``Allow`` header."""

    allow: str

    def __new__(cls, data: bytes, allow: str) -> MethodNotAllowedBody:
        body = super().__new__(cls, data)
        body.allow = allow
        return body


Response = tuple[int, bytes]
_LIVE = b'{"live":true}'
_READY = b'{"ready":true}'


class TextBody(bytes):
    """A body that is not JSON, with the ``Content-Type`` the transport announces for it."""

    content_type: str

    def __new__(cls, data: bytes, content_type: str) -> TextBody:
        body = super().__new__(cls, data)
        body.content_type = content_type
        return body


class OIPApplication:
    """The Open Inference Protocol's routes over one data plane (or a served model, given a
    plane of its own): a request (method, path, authorization, body) in, a status and body out.
    Not to be confused with KServe's ``InferenceService`` (:mod:`jukebox.serving.kserve`) nor the
    registry's record of one (:mod:`jukebox.serving.registry_records`)."""

    def __init__(self, plane: DataPlane | ServedModel, token: str | None = None) -> None:
        self.plane = plane if isinstance(plane, DataPlane) else DataPlane(plane)
        self.model = self.plane.model
        self.token = token
        self.ready = True

    def handle(
        self,
        method: str,
        path: str,
        authorization: str | None,
        body: bytes,
        header_length: str | None = None,
    ) -> Response:
        """Answer one request; any error a client can cause comes back as a JSON error.
        ``header_length`` is the request's ``Inference-Header-Content-Length``, if any."""
        try:
            return self._route(method, path, authorization, body, header_length)
        except ProtocolError as error:
            if error.allow:
                return error.status, MethodNotAllowedBody(error_body(error.message), error.allow)
            return error.status, error_body(error.message)
        except Exception as error:  # a bug of ours: say so in JSON, keep serving the others
            traceback.print_exc()
            return 500, error_body(f"internal server error: {type(error).__name__}: {error}")

    def _route(
        self,
        method: str,
        path: str,
        authorization: str | None,
        body: bytes,
        header_length: str | None = None,
    ) -> Response:
        parts = [p for p in path.split("?", 1)[0].split("/") if p]
        if parts == ["metrics"]:
            _method(method, "GET")
            return 200, TextBody(self.plane.metrics.render(), METRICS_CONTENT_TYPE)
        if not parts or parts[0] != "v2":
            raise ProtocolError(f"no such endpoint: {path}; this server speaks /v2/...", 404)
        if len(parts) == 3 and parts[1] == "health" and parts[2] in ("live", "ready"):
            _method(method, "GET")
            if parts[2] == "live":
                return 200, _LIVE
            if not self.ready:
                raise ProtocolError("the model is not ready yet", 503)
            return 200, _READY
        if parts[1:] == ["openapi.json"]:
            _method(method, "GET")
            return 200, dumps(openapi_document(self.model, token_required=bool(self.token)))
        self._authorize(authorization)
        if len(parts) == 1:
            _method(method, "GET")
            return 200, dumps({"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": []})
        if parts[1] != "models" or len(parts) < 3:
            raise ProtocolError(f"no such endpoint: {path}", 404)
        tail = parts[5:] if len(parts) > 3 and parts[3] == "versions" else parts[3:]
        if tail == ["ready"]:
            # As Triton answers: 200 when ready, else 400 (a model not served is not ready).
            _method(method, "GET")
            try:
                model = self.plane.model_ready(*self._name_version(parts[2], parts[3:]), "REST")
            except ProtocolError as error:
                raise ProtocolError(f"not ready: {error.message}", 400) from None
            return 200, dumps({"name": model.name, "ready": True})
        name, version = self._name_version(parts[2], parts[3:])
        self.plane.served(name, version)  # another model is a 404 before any 405
        if not tail:
            _method(method, "GET")
            return 200, dumps(self.plane.model_metadata(name, version, "REST").metadata())
        if tail == ["infer"]:
            _method(method, "POST")
            return self.plane.infer(
                name,
                version,
                lambda model: parse_infer_request(body, model, header_length),
                _encode,
                "REST",
            )
        raise ProtocolError(f"no such endpoint: {path}", 404)

    def _authorize(self, authorization: str | None) -> None:
        problem = bearer_token_problem(authorization, self.token)
        if problem:
            raise ProtocolError(problem, 401)

    def _name_version(self, name: str, rest: list[str]) -> tuple[str, str | None]:
        """The model name and version a path asks for (``rest`` follows the name)."""
        if rest and rest[0] == "versions":
            if len(rest) < 2:
                self.plane.served(name, None)
                raise ProtocolError("a version is missing after /versions/", 404)
            return name, rest[1]
        return name, None


def _encode(model: ServedModel, request, results) -> Response:
    payload, json_length = infer_response_parts(model, request, results)
    if json_length is None:
        return 200, payload
    return 200, BinaryBody(payload, json_length)


def _method(method: str, allowed: str) -> None:
    if method != allowed:
        raise ProtocolError(f"use {allowed} for this endpoint, not {method}", 405, allow=allowed)


__all__ = [
    "BinaryBody",
    "MethodNotAllowedBody",
    "OIPApplication",
    "Response",
    "SERVER_NAME",
    "SERVER_VERSION",
    "TextBody",
]
