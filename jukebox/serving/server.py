"""A local Open Inference Protocol v2 server (REST) for one ONNX model, run by onnxruntime.

Endpoints, as KServe and OpenVINO Model Server expose them::

    GET  /v2/health/live                       200, {"live": true}
    GET  /v2/health/ready                      200 once the model is loaded, {"ready": true}
    GET  /v2                                   server metadata
    GET  /v2/models/{name}[/versions/{v}]      model metadata (inputs, outputs, labels)
    GET  /v2/models/{name}[/versions/{v}]/ready
    POST /v2/models/{name}[/versions/{v}]/infer   JSON, or with the binary tensor extension

The binary tensor extension (Triton's and OVMS's; tritonclient's ``binary_data=True``): a body
whose header ``Inference-Header-Content-Length`` gives the length of its JSON part carries raw
input data after it, and outputs asked for with ``binary_data`` (or the request parameter
``binary_data_output``) come back the same way.

Every error is a JSON ``{"error": "..."}`` with 400 (malformed request), 401 (token), 404
(unknown model, version or path) or 405; never a 500 for anything a client sends.

Why the standard library's :class:`ThreadingHTTPServer`: measured on the 2-core target, it answers
a one-row request in a fraction of a millisecond, where uvicorn + Starlette (pure-Python h11
parser, no uvloop here) costs several times more per request; a thread per connection lets
onnxruntime, which releases the GIL, serve concurrent requests side by side. The protocol logic
itself lives in :mod:`jukebox.serving.protocol`, independent of the HTTP stack.
"""

from __future__ import annotations

import contextlib
import hmac
import signal
import threading
import time
import traceback
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson

from jukebox.serving.openapi import openapi_document
from jukebox.serving.protocol import (
    BINARY_HEADER,
    ProtocolError,
    dumps,
    error_body,
    infer_response_parts,
    parse_infer_request,
)
from jukebox.serving.runtime import ServedModel

SERVER_NAME = "jukebox-oip"
SERVER_VERSION = "0.1.0"
DEFAULT_MAX_BODY = 64 * 1024 * 1024
"""64 MiB: ten times the JSON of 100,000 rows; larger bodies are refused before being read."""


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
_MAX_LINE = 65536
_MAX_HEADERS = 100
_EMPTY = b""


class OIPApplication:
    """The Open Inference Protocol's routes over one served model: a request (method, path,
    authorization, body) in, a status and JSON body out. HTTP-free, so it can be tested directly;
    not to be confused with KServe's ``InferenceService`` (:mod:`jukebox.serving.kserve`) nor the
    registry's record of one (:mod:`jukebox.serving.registry_records`)."""

    def __init__(self, model: ServedModel, token: str | None = None) -> None:
        self.model = model
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
            return 200, dumps(openapi_document(self.model))
        self._authorize(authorization)
        if len(parts) == 1:
            _method(method, "GET")
            return 200, dumps({"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": []})
        if parts[1] != "models" or len(parts) < 3:
            raise ProtocolError(f"no such endpoint: {path}", 404)
        model = self._model(parts[2], parts[3:])
        tail = parts[5:] if len(parts) > 3 and parts[3] == "versions" else parts[3:]
        if not tail:
            _method(method, "GET")
            return 200, dumps(model.metadata())
        if tail == ["ready"]:
            _method(method, "GET")
            return 200, dumps({"name": model.name, "ready": True})
        if tail == ["infer"]:
            _method(method, "POST")
            return self._infer(model, body, header_length)
        raise ProtocolError(f"no such endpoint: {path}", 404)

    def _authorize(self, authorization: str | None) -> None:
        if not self.token:
            return
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self.token.encode()
        ):
            raise ProtocolError(
                "this server needs a bearer token: send the header 'Authorization: Bearer <token>'"
                if not authorization
                else "the bearer token is wrong",
                401,
            )

    def _model(self, name: str, rest: list[str]) -> ServedModel:
        model = self.model
        if name != model.name:
            raise ProtocolError(
                f'model "{name}" is not served here; this server serves "{model.name}"', 404
            )
        if rest and rest[0] == "versions":
            if len(rest) < 2:
                raise ProtocolError("a version is missing after /versions/", 404)
            if rest[1] != model.version:
                raise ProtocolError(
                    f'model "{name}" has no version "{rest[1]}"; version "{model.version}" '
                    "is served",
                    404,
                )
        return model

    def _infer(self, model: ServedModel, body: bytes, header_length: str | None) -> Response:
        request = parse_infer_request(body, model, header_length)
        try:
            results = model.run(request.feeds, request.outputs)
        except Exception as error:  # onnxruntime reports bad feeds with its own exception types
            raise ProtocolError(f"the model rejected the request: {error}") from None
        payload, json_length = infer_response_parts(model, request, results)
        if json_length is None:
            return 200, payload
        return 200, BinaryBody(payload, json_length)


def _method(method: str, allowed: str) -> None:
    if method != allowed:
        raise ProtocolError(f"use {allowed} for this endpoint, not {method}", 405, allow=allowed)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: one connection carries many requests
    disable_nagle_algorithm = True
    timeout = 120  # seconds a connection may stay silent before its thread lets it go
    server_version = SERVER_NAME
    server: OIPServer

    def handle_one_request(self) -> None:
        """Read one request and answer it.

        Replaces the base class's parsing, whose header parser (the e-mail package) costs more
        than running the model; this one reads the request line and plain ``Name: value``
        headers, which is all the protocol uses.
        """
        try:
            line = self.rfile.readline(_MAX_LINE + 1)
            if not line:
                self.close_connection = True
                return
            self.raw_requestline = line
            if len(line) > _MAX_LINE:
                self.send_error(414, "the request line is too long")
                return
            parts = line.decode("latin-1").split()
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                self.send_error(400, f"bad request line {line[:80]!r}")
                return
            self.command, self.path, self.request_version = parts
            self.requestline = " ".join(parts)
            headers = self._read_headers()
            if headers is None:
                return
            self.headers = headers
            connection = headers.get("connection", "").lower()
            self.close_connection = connection == "close" or (
                self.request_version == "HTTP/1.0" and connection != "keep-alive"
            )
            if headers.get("expect", "").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            self._dispatch(self.command)
        except OSError:
            # A silent client timed out, or one hung up mid-request: nobody is left to answer.
            self.close_connection = True

    def _read_headers(self) -> dict[str, str] | None:
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADERS):
            line = self.rfile.readline(_MAX_LINE + 1)
            if line in (b"\r\n", b"\n", b""):
                return headers
            if len(line) > _MAX_LINE:
                self.send_error(431, "a header line is too long")
                return None
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon or not name.strip():
                self.send_error(400, f"malformed header line {line[:80]!r}")
                return None
            headers[name.strip().lower()] = value.strip()
        self.send_error(431, "too many headers")
        return None

    def _dispatch(self, method: str) -> None:
        server = self.server
        server.begin_request()
        try:
            body = self._read_body(method)
            if body is None:
                return
            headers = self.headers
            status, payload = server.application.handle(
                method,
                self.path,
                headers.get("authorization"),
                body,
                headers.get("inference-header-content-length"),
            )
            self._respond(status, payload)
        finally:
            server.end_request()

    def _read_body(self, method: str) -> bytes | None:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            self.close_connection = True
            self._respond(400, error_body("chunked bodies are not supported; send Content-Length"))
            return None
        raw = self.headers.get("content-length")
        if raw is None:
            if method == "POST":
                self._respond(400, error_body("the request has no Content-Length header"))
                return None
            return _EMPTY
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            self._respond(400, error_body(f"Content-Length {raw!r} is not a size"))
            return None
        if length > self.server.max_body:
            # The body is never read, so the connection cannot be reused.
            self.close_connection = True
            self._respond(
                413,
                error_body(
                    f"the request body is {length} bytes, over the limit of "
                    f"{self.server.max_body} bytes: send fewer rows per request"
                ),
            )
            return None
        body = self.rfile.read(length) if length else _EMPTY
        encoding = self.headers.get("content-encoding", "").lower()
        if encoding in ("", "identity"):
            return body
        if encoding != "gzip":
            self._respond(400, error_body(f"Content-Encoding {encoding!r} is not supported: "
                                          "send the body as it is, or gzip it"))  # fmt: skip
            return None
        return self._gunzip(body)

    def _gunzip(self, body: bytes) -> bytes | None:
        """A gzip body, inflated no further than the body limit (a small bomb stays small)."""
        inflater = zlib.decompressobj(wbits=31)
        try:
            inflated = inflater.decompress(body, self.server.max_body + 1)
        except zlib.error as error:
            self._respond(400, error_body(f"the gzip body cannot be read: {error}"))
            return None
        if len(inflated) > self.server.max_body or inflater.unconsumed_tail:
            self._respond(
                413, error_body(f"the body inflates past the limit of {self.server.max_body} bytes")
            )
            return None
        return inflated

    def _respond(self, status: int, payload: bytes) -> None:
        if self.server.draining:
            self.close_connection = True
        phrase = HTTPStatus(status).phrase
        head = [f"HTTP/1.1 {status} {phrase}", f"Content-Length: {len(payload)}"]
        if isinstance(payload, BinaryBody):
            head.append("Content-Type: application/octet-stream")
            head.append(f"{BINARY_HEADER}: {payload.json_length}")
        elif payload:
            head.append("Content-Type: application/json")
        if status == 401:
            head.append('WWW-Authenticate: Bearer realm="jukebox"')
        if isinstance(payload, MethodNotAllowedBody):
            head.append(f"Allow: {payload.allow}")
        if self.close_connection:
            head.append("Connection: close")
        # One write: headers and body leave in one segment.
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Malformed HTTP itself (bad request line, headers too long) also gets a JSON error."""
        self.close_connection = True
        status = code if code in (400, 404, 405, 413, 414, 431) else 400
        text = message or HTTPStatus(code).phrase
        with contextlib.suppress(OSError):
            self._respond(status, orjson.dumps({"error": f"malformed HTTP request: {text}"}))

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature of the base
        """Requests are not logged one by one: at a thousand a second the log would be the cost."""


class OIPServer(ThreadingHTTPServer):
    """The HTTP server: a thread per connection, a count of requests in flight for draining."""

    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        application: OIPApplication,
        *,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        super().__init__(address, _Handler)
        self.application = application
        self.max_body = max_body
        self.draining = False
        self._in_flight = 0
        self._idle = threading.Condition()

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        host = self.server_address[0]
        return f"http://{host}:{self.port}"

    def begin_request(self) -> None:
        with self._idle:
            self._in_flight += 1

    def end_request(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def drain(self, timeout: float = 10.0) -> bool:
        """Stop accepting connections, then wait until every request in flight is answered."""
        self.draining = True
        self.shutdown()
        self.server_close()
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


@dataclass
class RunningServer:
    """A server running in a thread of this process (tests, benchmarks, notebooks)."""

    server: OIPServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.drain(timeout=5.0)
        self.thread.join(timeout=5.0)


def make_server(
    model: ServedModel,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
) -> OIPServer:
    """Bind a server for ``model`` (port 0 picks a free port: read it from ``server.port``)."""
    return OIPServer((host, port), OIPApplication(model, token), max_body=max_body)


def start_in_thread(model: ServedModel, **kwargs) -> RunningServer:
    """Start a server in a background thread and return it; call ``stop()`` when done."""
    server = make_server(model, **kwargs)
    thread = threading.Thread(target=server.serve_forever, name="oip-server", daemon=True)
    thread.start()
    return RunningServer(server, thread)


def serve_until_signalled(
    server: OIPServer,
    *,
    on_ready: Callable[[], None] | None = None,
    on_stop: Callable[[], None] | None = None,
    drain_timeout: float = 10.0,
) -> None:
    """Serve in this process until SIGTERM or SIGINT, then drain: requests already received are
    answered before the process exits, so stopping a replaced deployment drops none."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="oip-server", daemon=True)
    thread.start()
    if on_ready:
        on_ready()
    while not stop.wait(0.5):
        if not thread.is_alive():
            break
    server.drain(timeout=drain_timeout)
    if on_stop:
        on_stop()


__all__ = [
    "DEFAULT_MAX_BODY",
    "BinaryBody",
    "OIPApplication",
    "OIPServer",
    "RunningServer",
    "make_server",
    "serve_until_signalled",
    "start_in_thread",
]
