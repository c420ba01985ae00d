"""The HTTP transport of the inference server: connections, framing, limits and deadlines.

httptools (the C parser uvicorn uses) parses; this module frames requests, hands each to an
application (:class:`jukebox.serving.routes.OIPApplication`: method, path, authorization, body
in; status and body out) and writes its answer. It knows nothing of the protocol nor the model.

What it guarantees whatever the application: 400 for malformed HTTP, 413 for a body over the limit
(refused before it is read), 414 or 431 for a request line or headers too long, 408 for a request
that trickles in past its deadline. Bodies may come chunked or gzipped; connections are kept
alive, pipelined requests answered in order, and stopping answers every request already received
before the process ends.

Why httptools on an asyncio event loop, and not a framework: measured on the 2-core target with
``benchmarks/bench_serving.py``, the server's own CPU per one-row request is about 160 µs this way,
245 µs under uvicorn with a bare ASGI app (a task and several dicts per request), and the
standard library's ``ThreadingHTTPServer`` topped out at 2,500 requests/s; the model itself runs
in 25 µs. A small request is answered on the event loop, faster than a hand-off to a thread would
be; a body over ``INLINE_BODY`` goes to a worker thread, so a 20,000-row request never holds up
a one-row one (onnxruntime releases the GIL while it runs).
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import zlib
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from typing import Protocol

import httptools

from jukebox.serving.protocol import BINARY_HEADER, error_body
from jukebox.serving.routes import BinaryBody, MethodNotAllowedBody, Response, TextBody

DEFAULT_MAX_BODY = 64 * 1024 * 1024
"""64 MiB: ten times the JSON of 100,000 rows; larger bodies are refused before being read."""

_MAX_LINE = 65536
_MAX_HEADERS = 100
INLINE_BODY = 16 * 1024
"""Bodies up to this size (about fifteen rows of JSON) are answered on the event loop."""
IDLE_TIMEOUT = 120.0
"""Seconds a connection may stay silent before it is closed."""
HEADER_TIMEOUT = 30.0
"""Seconds from a request's first byte to the end of its headers: a client trickling them a
byte at a time would otherwise hold a connection for as long as it likes."""
BODY_TIMEOUT = 300.0
"""Seconds from a request's first byte to the end of its body (the largest body allowed, sent
at a few hundred kilobytes a second)."""
LINGER_SECONDS = 5.0
LINGER_BYTES = 256 * 1024 * 1024
"""After refusing a request whose body is still arriving (a 413), how long, and how much of it,
is read and dropped before the connection closes: closing at once resets a connection with
unread data, and the client sees the reset instead of the answer, as real servers avoid."""


class Application(Protocol):
    """What the transport serves: one request in, a status and body out."""

    def handle(
        self,
        method: str,
        path: str,
        authorization: str | None,
        body: bytes,
        header_length: str | None = None,
    ) -> Response: ...


class _Refused(Exception):
    """HTTP itself is malformed or over a limit: answered with ``status``, then the connection
    is closed, since the rest of what the client sends cannot be framed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class _Request:
    method: str
    path: str
    headers: dict[bytes, bytes]
    """Lower-case names, raw values: decoded only where read, since most are never read."""
    body: bytes
    keep_alive: bool


@dataclass(slots=True)
class _Answer:
    status: int
    payload: bytes
    close: bool = False
    linger: bool = False
    """Close only after the rest of the request has been read and dropped."""


class _Connection(asyncio.Protocol):
    """One client connection: httptools frames its requests, which are answered in order (a
    client may send the next request before the answer to the previous one arrives)."""

    def __init__(self, server: OIPServer) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.queue: deque[_Request | _Answer] = deque()
        self.busy = False  # a worker thread is answering queue[0]
        self.ignore_input = False  # set once the connection is to close
        self.lingering = False  # refused mid-body: drop what still arrives, then close
        self.dropped = 0
        self.last_active = 0.0
        self.message_started = 0.0
        self.deadline_armed = False  # one timer at a time, not one per request
        self._new_message()

    # -- asyncio ---------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        self.last_active = self.server.loop.time()
        self.server.loop.call_later(self.server.idle_timeout, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self.ignore_input = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        self.last_active = self.server.loop.time()
        if self.lingering:
            self.dropped += len(data)
            if self.dropped > LINGER_BYTES:
                self._close(at_once=True)
            return
        if self.ignore_input:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            refused = error.__context__
            if not isinstance(refused, _Refused):
                raise
            self._refuse(refused.status, refused.message)
        except httptools.HttpParserUpgrade:
            pass  # the request asking for it is answered with "Connection: close"
        except httptools.HttpParserError as error:
            self._refuse(400, f"malformed HTTP request: {error or type(error).__name__}")

    # -- httptools callbacks ---------------------------------------------------------------------

    def _new_message(self) -> None:
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.header_bytes = 0
        self.body: list[bytes] = []
        self.body_size = 0
        self.in_message = False

    def on_message_begin(self) -> None:
        self.in_message = True
        self.headers_done = False
        self.message_started = self.server.loop.time()
        if not self.deadline_armed:
            self.deadline_armed = True
            self.server.loop.call_later(self.server.header_timeout, self._check_deadline)

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > _MAX_LINE:
            raise _Refused(414, "the request line is too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value)
        if len(self.headers) >= _MAX_HEADERS or self.header_bytes > _MAX_LINE:
            raise _Refused(431, "the request's headers are too many or too long")
        self.headers[name.lower()] = value

    def on_headers_complete(self) -> None:
        self.headers_done = True
        length = self.headers.get(b"content-length")
        limit = self.server.max_body
        if length is not None and int(length) > limit:  # httptools has checked it is a number
            raise _Refused(
                413,
                f"the request body is {int(length)} bytes, over the limit of {limit} bytes: "
                "send fewer rows per request",
            )
        if self.headers.get(b"expect", b"").strip().lower() == b"100-continue":
            self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, chunk: bytes) -> None:
        self.body_size += len(chunk)
        if self.body_size > self.server.max_body:  # a chunked body announces no length
            raise _Refused(
                413, f"the request body is over the limit of {self.server.max_body} bytes"
            )
        self.body.append(chunk)

    def on_message_complete(self) -> None:
        request = _Request(
            method=self.parser.get_method().decode("latin-1"),
            path=self.url.decode("latin-1"),
            headers=self.headers,
            body=b"".join(self.body),
            keep_alive=self.parser.should_keep_alive() and not self.parser.should_upgrade(),
        )
        self._new_message()
        self.queue.append(request)
        self._answer_queue()

    # -- answering -------------------------------------------------------------------------------

    def _answer_queue(self) -> None:
        server = self.server
        while self.queue and not self.busy:
            item = self.queue[0]
            if isinstance(item, _Request) and len(item.body) > INLINE_BODY:
                self.busy = True
                server.in_flight += 1
                future = server.loop.run_in_executor(server.workers, server.answer, item)
                future.add_done_callback(self._answered_in_thread)
                return
            self.queue.popleft()
            if not self._send(server.answer(item) if isinstance(item, _Request) else item):
                return
        if server.draining:
            self.drain()

    def _answered_in_thread(self, future: asyncio.Future) -> None:
        self.busy = False
        self.server.in_flight -= 1
        if future.cancelled():
            self._close(at_once=True)
            return
        self.queue.popleft()
        if self._send(future.result()):
            self._answer_queue()

    def _send(self, answer: _Answer) -> bool:
        """Write one answer; False when the connection closes after it."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return False
        payload = answer.payload
        close = answer.close or self.server.draining
        head = [
            _STATUS_LINES[answer.status],
            b"Content-Length: %d\r\n" % len(payload),
            self.server.worker_header,
        ]
        if isinstance(payload, BinaryBody):
            head.append(b"Content-Type: application/octet-stream\r\n")
            head.append(b"%s: %d\r\n" % (BINARY_HEADER.encode(), payload.json_length))
        elif isinstance(payload, TextBody):
            head.append(b"Content-Type: %s\r\n" % payload.content_type.encode())
        elif payload:
            head.append(b"Content-Type: application/json\r\n")
        if answer.status == 401:
            head.append(b'WWW-Authenticate: Bearer realm="jukebox"\r\n')
        if isinstance(payload, MethodNotAllowedBody):
            head.append(b"Allow: %s\r\n" % payload.allow.encode())
        if close:
            head.append(b"Connection: close\r\n")
        head.append(b"\r\n")
        # One write: headers and body leave in one segment.
        transport.write(b"".join(head) + payload)
        if close:
            self.queue.clear()
            if answer.linger:
                self._linger()
            else:
                self._close()
        return not close

    def _refuse(self, status: int, message: str) -> None:
        """Answer what came before, then this error, then close: at once when the request is
        over, else after dropping what the client still sends (see ``LINGER_SECONDS``)."""
        self.ignore_input = True
        self.queue.append(_Answer(status, error_body(message), close=True, linger=self.in_message))
        self._answer_queue()

    def _check_deadline(self) -> None:
        """Refuse the request being received if its headers, or all of it, took too long; else
        look again at its next deadline (none while no request is arriving)."""
        self.deadline_armed = False
        if not self.in_message or self.ignore_input:
            return
        server = self.server
        elapsed = server.loop.time() - self.message_started
        part, timeout = (
            ("body", server.body_timeout)
            if self.headers_done
            else ("headers", server.header_timeout)
        )
        if elapsed >= timeout:
            self._refuse(408, f"the request's {part} took more than {timeout:g} s to arrive")
            return
        self.deadline_armed = True
        server.loop.call_later(timeout - elapsed, self._check_deadline)

    def _linger(self) -> None:
        """Half-close (the answer is sent, nothing more will be), then read and drop what the
        client still sends until it stops, closes, or the bounds are reached."""
        transport = self.transport
        self.lingering = True
        if transport.can_write_eof():
            transport.write_eof()
        loop, started = self.server.loop, self.server.loop.time()

        def check() -> None:
            if transport.is_closing():
                return
            now = loop.time()
            if now - self.last_active >= 0.5 or now - started >= LINGER_SECONDS:
                self._close(at_once=True)
            else:
                loop.call_later(0.25, check)

        loop.call_later(0.25, check)

    def _close(self, at_once: bool = False) -> None:
        self.ignore_input = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort() if at_once else self.transport.close()

    def _check_idle(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        loop = self.server.loop
        silent = loop.time() - self.last_active
        if silent >= self.server.idle_timeout and not self.busy and not self.queue:
            self._close()  # a silent client: let its connection go
            return
        loop.call_later(max(self.server.idle_timeout - silent, 1.0), self._check_idle)

    def drain(self) -> None:
        """Close now if nothing is being received or answered, else once it is."""
        if not self.queue and not self.busy and not self.in_message:
            self._close()


_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode() for s in HTTPStatus}


def _new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop  # not on Windows; the standard loop serves as well, a little slower
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


WORKER_HEADER = "Jukebox-Worker"
"""Every answer names the pid of the process that gave it: with several worker processes behind
one port (``serve --workers``), a client can tell them apart."""


def _listen(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            # Several processes bind the same port, each its own listening socket; the kernel
            # spreads new connections among them (see jukebox.serving.workers).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        # Accepted connections inherit it: an answer is sent the moment it is written.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class OIPServer:
    """The HTTP server: bound when made (so its port is known and a busy port fails at once),
    serving from :meth:`serve_forever` in one thread, stopped by :meth:`drain` from another.
    With ``reuse_port`` its socket shares the port with other processes' (``SO_REUSEPORT``)."""

    def __init__(
        self,
        address: tuple[str, int],
        application: Application,
        *,
        max_body: int = DEFAULT_MAX_BODY,
        idle_timeout: float = IDLE_TIMEOUT,
        header_timeout: float = HEADER_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
        reuse_port: bool = False,
    ) -> None:
        self.application = application
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.socket = _listen(*address, reuse_port=reuse_port)
        self.worker_header = b"%s: %d\r\n" % (WORKER_HEADER.encode(), os.getpid())
        self.server_address = self.socket.getsockname()[:2]
        self.connections: set[_Connection] = set()
        self.workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="oip-worker")
        self.draining = False
        self.in_flight = 0
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._lock = threading.Lock()
        self._stop: asyncio.Event | None = None
        self._stop_asked = False
        self._drain_timeout = 10.0
        self._all_answered = True
        self._finished = threading.Event()

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        host = self.server_address[0]
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def answer(self, request: _Request) -> _Answer:
        """The answer to one framed request (on the event loop, or in a worker thread)."""
        headers = request.headers
        body = request.body
        framed = b"content-length" in headers or b"transfer-encoding" in headers
        if (
            not framed
            and request.method == "POST"
            and request.path.split("?")[0].endswith("/infer")
        ):  # elsewhere the route answers first: an unknown path is 404, a GET-only one 405
            return _Answer(400, error_body("the request has no Content-Length header"))
        encoding = headers.get(b"content-encoding", b"").decode("latin-1").strip().lower()
        if encoding and encoding != "identity":
            if encoding != "gzip":
                return _Answer(400, error_body(f"Content-Encoding {encoding!r} is not supported: "
                                               "send the body as it is, or gzip it"))  # fmt: skip
            body = _gunzip(body, self.max_body)
            if isinstance(body, _Answer):
                return body
        status, payload = self.application.handle(
            request.method,
            request.path,
            _text(headers.get(b"authorization")),
            body,
            _text(headers.get(b"inference-header-content-length")),
        )
        return _Answer(status, payload, close=not request.keep_alive)

    def serve_forever(self) -> None:
        """Serve until :meth:`drain` is called (from another thread or a signal handler)."""
        loop = _new_event_loop()
        try:
            loop.run_until_complete(self._serve(loop))
        finally:
            loop.close()
            self.server_close()
            self._finished.set()

    async def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            if self._stop_asked:
                return
            self.loop = loop
            self._stop = asyncio.Event()
        listener = await loop.create_server(lambda: _Connection(self), sock=self.socket)
        await self._stop.wait()
        listener.close()
        self.draining = True
        for connection in list(self.connections):
            connection.drain()
        deadline = loop.time() + self._drain_timeout
        while (self.connections or self.in_flight) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        self._all_answered = self.in_flight == 0 and not any(c.queue for c in self.connections)
        for connection in list(self.connections):
            connection._close(at_once=True)
        self.workers.shutdown(wait=False, cancel_futures=True)

    def drain(self, timeout: float = 10.0) -> bool:
        """Stop accepting connections, answer every request already received (for at most
        ``timeout`` seconds), then stop serving. True when every request was answered."""
        with self._lock:
            self._stop_asked = True
            self._drain_timeout = timeout
            stop = self._stop
        if stop is None:  # never served
            self.server_close()
            return True
        self.loop.call_soon_threadsafe(stop.set)
        self._finished.wait(timeout + 5.0)
        return self._all_answered

    def server_close(self) -> None:
        self.socket.close()


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1").strip()


def _gunzip(body: bytes, limit: int) -> bytes | _Answer:
    """A gzip body, inflated no further than the body limit (a small bomb stays small)."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        inflated = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        return _Answer(400, error_body(f"the gzip body cannot be read: {error}"))
    if len(inflated) > limit or inflater.unconsumed_tail:
        return _Answer(413, error_body(f"the body inflates past the limit of {limit} bytes"))
    return inflated


__all__ = [
    "BODY_TIMEOUT",
    "DEFAULT_MAX_BODY",
    "HEADER_TIMEOUT",
    "IDLE_TIMEOUT",
    "INLINE_BODY",
    "WORKER_HEADER",
    "Application",
    "OIPServer",
]
