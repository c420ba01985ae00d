"""A bounded load test of a deployment: what the workshop's ``6-advanced_deployments/`` does
with Locust, from the app and the CLI.

``users`` threads each keep one connection open and post requests back to back (no think time,
as the workshop's ``locustfile.py``) for ``duration`` seconds, then stop by themselves. Every
second the figures of that second (requests, errors, latency percentiles) go to ``on_second``,
so a page can draw them live. Locust itself is not used: its ``geventhttpclient`` conflicts
with the pinned tritonclient, and one keep-alive ``http.client`` connection per user is all a
bounded test from one machine needs (the client's own cost is printed by
``benchmarks/bench_serving.py``: a few µs a request).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np

from jukebox.errors import JukeboxError

MAX_USERS = 64
MAX_DURATION = 300.0

WORKSHOP_FEATURES = {
    "is_explicit": 1.0, "duration_ms": 0.27927992323571016, "danceability": 0.9089068825910931,
    "energy": 0.472935276552163, "key": 0.09090909090909091, "loudness": 0.7477259841743289,
    "mode": 1.0, "speechiness": 0.08425624321389794, "acousticness": 0.010735492809498851,
    "instrumentalness": 0.0, "liveness": 0.13183279742765275, "valence": 0.2157258064516129,
    "tempo": 0.42839339231137696,
}  # fmt: skip
"""The one song of the workshop's ``locustfile.py`` (already min-max scaled there: a request
any v2 server takes, whatever it makes of the values)."""


def workshop_request() -> dict:
    """The workshop's ``locustfile.py`` request body, as it sends it."""
    return {
        "inputs": [
            {"name": name, "shape": [1, 1], "datatype": "FP32", "data": [value]}
            for name, value in WORKSHOP_FEATURES.items()
        ]
    }


def song_requests(settings, n: int = 200) -> list[dict]:
    """One request per song for ``n`` real songs of the current data set (the same ones every
    time), to load a deployment the way listeners' songs would."""
    from jukebox.data.schema import FEATURES
    from jukebox.data.store import load_current
    from jukebox.serving.client import build_request

    songs = load_current(settings).properties.loc[:, list(FEATURES)]
    chosen = songs.sample(min(n, len(songs)), random_state=0).to_dict("records")
    return [build_request([song]) for song in chosen]


class LoadTestError(JukeboxError, ValueError):
    """A load test cannot run as asked; the message says why."""


@dataclass(frozen=True)
class LoadSecond:
    """One second of a load test: requests answered, errors, latency percentiles (ms)."""

    second: int
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class LoadReport:
    """A whole load test: its settings, every second, and the totals."""

    url: str
    users: int
    duration: float
    seconds: list[LoadSecond]
    requests: int
    errors: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    elapsed: float
    first_errors: list[str] = field(default_factory=list)

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    @property
    def sentence(self) -> str:
        latency = f", p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms" if self.p50_ms else ""
        errors = f"{self.errors:,} errors" if self.errors else "no error"
        return (
            f"{self.users} users for {self.elapsed:.0f} s: {self.requests:,} requests answered "
            f"({self.requests_per_second:,.0f}/s){latency}, {errors}."
        )


def _percentiles(latencies: Sequence[float]) -> tuple[float | None, float | None, float | None]:
    if not latencies:
        return None, None, None
    p50, p95, p99 = np.percentile(np.asarray(latencies) * 1000, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def check_load(users: int, duration: float) -> None:
    """Refuse a test outside the bounds, in a sentence."""
    if not 1 <= users <= MAX_USERS:
        raise LoadTestError(f"Users must be from 1 to {MAX_USERS} (now {users}).")
    if not 1 <= duration <= MAX_DURATION:
        raise LoadTestError(f"A load test lasts 1 to {MAX_DURATION:.0f} s (now {duration:g}).")


def run_load(
    infer_url: str,
    bodies: Sequence[dict],
    *,
    users: int = 10,
    duration: float = 10.0,
    token: str | None = None,
    on_second: Callable[[LoadSecond], None] = lambda second: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> LoadReport:
    """Post ``bodies`` (round robin) to ``infer_url`` from ``users`` connections for
    ``duration`` seconds; ``on_second`` gets each second's figures as it ends."""
    check_load(users, duration)
    if not bodies:
        raise LoadTestError("Give at least one request to send.")
    parts = urlsplit(infer_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LoadTestError(f"{infer_url!r} is not an http(s) address of a model's infer path.")
    payloads = [json.dumps(body).encode() for body in bodies]
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    samples: list[tuple[float, float, bool]] = []  # (done at, latency, ok); list.append is atomic
    first_errors: list[str] = []
    start = time.monotonic()
    end = start + duration
    stop = threading.Event()

    def user(offset: int) -> None:
        https = parts.scheme == "https"
        kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
        connection = kind(parts.hostname, parts.port, timeout=10)
        i = offset
        while not stop.is_set() and time.monotonic() < end:
            began = time.monotonic()
            try:
                connection.request("POST", parts.path, payloads[i % len(payloads)], headers)
                response = connection.getresponse()
                answer = response.read()
                ok = response.status == 200
                if not ok and len(first_errors) < 5:
                    said = answer[:200].decode(errors="replace")
                    first_errors.append(f"HTTP {response.status}: {said}")
            except (OSError, http.client.HTTPException) as error:
                ok = False
                if len(first_errors) < 5:
                    first_errors.append(f"{type(error).__name__}: {error}")
                connection.close()
                time.sleep(0.05)  # a refused connection must not spin
            done = time.monotonic()
            samples.append((done - start, done - began, ok))
            i += users
        connection.close()

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(users)]
    for thread in threads:
        thread.start()
    seconds: list[LoadSecond] = []
    seen = 0
    try:
        while any(t.is_alive() for t in threads):
            tick = start + len(seconds) + 1
            while time.monotonic() < tick and any(t.is_alive() for t in threads):
                if should_stop():
                    stop.set()
                time.sleep(0.02)
            # Threads append as they finish a request, so what came since the last look is
            # what this second answered.
            now = len(samples)
            seconds.append(_second(len(seconds) + 1, samples[seen:now]))
            seen = now
            on_second(seconds[-1])
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)
    elapsed = max((t for t, _, _ in samples), default=0.0)
    total = _second(0, samples)
    return LoadReport(
        infer_url, users, duration, seconds, total.requests, total.errors,
        total.p50_ms, total.p95_ms, total.p99_ms, elapsed, first_errors,
    )  # fmt: skip


def _second(number: int, samples: Sequence[tuple[float, float, bool]]) -> LoadSecond:
    latencies = [latency for _, latency, ok in samples if ok]
    return LoadSecond(
        number, len(latencies), len(samples) - len(latencies), *_percentiles(latencies)
    )
