"""The server's HTTP/1.1 framing, from raw sockets where a library would hide it: chunked bodies,
pipelined requests answered in order, upgrades and old clients, idle connections, limits, and a
stop that answers every request already received."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

from jukebox.serving.runtime import load_bundle_model
from jukebox.serving.server import start_in_thread
from jukebox.serving.transport import INLINE_BODY
from tests.serving.conftest import LABELS, MODEL, song_rows, workshop_request

INFER = f"/v2/models/{MODEL}/infer"


def _address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def _post(body: bytes, *extra: str) -> bytes:
    head = [f"POST {INFER} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _read_answers(sock: socket.socket, count: int) -> list[tuple[str, dict[str, str], bytes]]:
    """``count`` answers off one connection: status line, headers, body."""
    buffer, answers = b"", []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            assert chunk, f"the server closed the connection after {len(answers)} answers"
            buffer += chunk
        head, buffer = buffer.split(b"\r\n\r\n", 1)
        status, *lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        length = int(headers["content-length"])
        while len(buffer) < length:
            buffer += sock.recv(65536)
        answers.append((status, headers, buffer[:length]))
        buffer = buffer[length:]
    return answers


def _rows_answered(body: bytes) -> int:
    return json.loads(body)["outputs"][0]["shape"][0]


def test_a_chunked_body_is_accepted(url):
    """``requests`` sends a generator's body chunked, with no Content-Length."""
    body = json.dumps(workshop_request(song_rows(4))).encode()
    pieces = (body[i : i + 100] for i in range(0, len(body), 100))
    response = requests.post(url + INFER, data=pieces, timeout=5)
    assert response.status_code == 200, response.text
    assert response.json()["outputs"][0]["shape"] == [4, len(LABELS)]


def test_pipelined_requests_are_answered_in_the_order_sent(url):
    """A big request (answered in a worker thread) sent before small ones on the same
    connection: the answers still come back in order, each matching its request."""
    big = json.dumps(workshop_request(song_rows(2_000))).encode()
    assert len(big) > INLINE_BODY
    sizes = [2_000, 1, 3, 2_000, 2]
    bodies = {2_000: big} | {
        n: json.dumps(workshop_request(song_rows(n))).encode() for n in (1, 2, 3)
    }
    with socket.create_connection(_address(url), timeout=10) as sock:
        sock.sendall(b"".join(_post(bodies[n]) for n in sizes))
        answers = _read_answers(sock, len(sizes))
    assert [status for status, _, _ in answers] == ["HTTP/1.1 200 OK"] * len(sizes)
    assert [_rows_answered(body) for _, _, body in answers] == sizes


def test_an_http_1_0_client_gets_its_answer_and_the_connection_closed(url):
    with socket.create_connection(_address(url), timeout=5) as sock:
        sock.sendall(b"GET /v2/health/live HTTP/1.0\r\n\r\n")
        [(status, headers, body)] = _read_answers(sock, 1)
        assert sock.recv(1) == b""
    assert status.startswith("HTTP/1.1 200") and json.loads(body) == {"live": True}
    assert headers["connection"] == "close"


def test_an_upgrade_request_is_answered_over_http_and_the_connection_closed(url):
    with socket.create_connection(_address(url), timeout=5) as sock:
        sock.sendall(
            b"GET /v2/health/ready HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
            b"Upgrade: websocket\r\n\r\n"
        )
        [(status, headers, _)] = _read_answers(sock, 1)
        assert sock.recv(1) == b""
    assert status.startswith("HTTP/1.1 200") and headers["connection"] == "close"


@pytest.mark.parametrize(
    ("request_head", "status", "words"),
    [
        ("GET /v2/" + "x" * 70_000 + " HTTP/1.1\r\n\r\n", 414, "too long"),
        (
            "GET /v2 HTTP/1.1\r\n" + "".join(f"X-{i}: y\r\n" for i in range(150)) + "\r\n",
            431,
            "headers",
        ),
        (f"POST {INFER} HTTP/1.1\r\nContent-Length: nine\r\n\r\n", 400, "malformed"),
    ],
    ids=["long-url", "many-headers", "bad-length"],
)
def test_http_over_the_limits_gets_a_json_error_and_a_closed_connection(
    url, request_head, status, words
):
    with socket.create_connection(_address(url), timeout=5) as sock:
        sock.sendall(request_head.encode())
        [(line, headers, body)] = _read_answers(sock, 1)
    assert line.startswith(f"HTTP/1.1 {status}")
    assert headers["connection"] == "close"
    assert words in json.loads(body)["error"]
    assert requests.get(url + "/v2/health/live", timeout=5).status_code == 200


@pytest.fixture
def small_limit_server(bundle):
    running = start_in_thread(load_bundle_model(bundle, name=MODEL), max_body=10_000)
    yield running
    running.stop()


def test_a_chunked_body_over_the_limit_is_413(small_limit_server):
    body = json.dumps(workshop_request(song_rows(200))).encode()
    pieces = (body[i : i + 1000] for i in range(0, len(body), 1000))
    response = requests.post(small_limit_server.url + INFER, data=pieces, timeout=5)
    assert response.status_code == 413
    assert "limit" in response.json()["error"]


def test_a_silent_connection_is_closed_after_the_idle_timeout(bundle):
    running = start_in_thread(load_bundle_model(bundle, name=MODEL), idle_timeout=0.5)
    try:
        with socket.create_connection(_address(running.url), timeout=5) as sock:
            sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            _read_answers(sock, 1)  # a keep-alive connection, then silence
            started = time.monotonic()
            assert sock.recv(1) == b""
            assert 0.4 < time.monotonic() - started < 4
    finally:
        running.stop()


def test_stopping_answers_the_request_being_received_then_refuses_new_connections(bundle):
    """What a replaced deployment relies on: a stop that comes while a request is on its way
    waits for it, answers it, and only then closes."""
    running = start_in_thread(load_bundle_model(bundle, name=MODEL))
    address = _address(running.url)
    request = _post(json.dumps(workshop_request(song_rows(3))).encode())
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(request[:-20])
        time.sleep(0.1)
        stopper = threading.Thread(target=running.stop)
        stopper.start()
        time.sleep(0.2)
        with pytest.raises(OSError):
            socket.create_connection(address, timeout=2).close()
        sock.sendall(request[-20:])
        [(status, headers, body)] = _read_answers(sock, 1)
        stopper.join(10)
    assert status.startswith("HTTP/1.1 200") and _rows_answered(body) == 3
    assert headers["connection"] == "close"
    assert not stopper.is_alive()
