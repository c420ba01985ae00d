"""Embedded model registry: listing speed and concurrent registrations, through the official client.

Prints:
- the time to list 1,000 versions of one model with ``ModelRegistry.get_model_versions`` (goal:
  under 200 ms): versions without custom properties, with the server's default page size and
  with pages of 100, and versions carrying 8 custom properties each (the metadata the design
  puts on a version); plus the same listing over plain HTTP, which is what the server costs;
- 50 registrations started at once from 50 separate processes: whether all succeeded, each
  exactly once, and how long they took;
- the machine it ran on, with its load (the machine is shared: figures vary with it).

Two costs sit in the official client, not in the server, and are shown apart:
- it creates a new TLS context for every call, even over plain HTTP, and OpenSSL then parses the
  CA bundle named by SSL_CERT_FILE (~100 ms per call on this machine), so the listing is timed
  with the environment as it is and with SSL_CERT_FILE/SSL_CERT_DIR empty;
- it turns every custom property into a pydantic object through a JSON round trip (~0.1-0.3 ms
  each), which grows with the number of properties per version.

Run: ``python benchmarks/bench_registry.py`` (a few minutes; uses a temporary JUKEBOX_HOME).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jukebox.config import load_settings  # noqa: E402
from jukebox.registry.server import ensure_server, stop_server  # noqa: E402

API = "/api/model_registry/v1"
VERSIONS = 1_000
WRITERS = 50
NO_CA_BUNDLE = {"SSL_CERT_FILE": "", "SSL_CERT_DIR": ""}

LIST_WITH_CLIENT = """
import json, statistics, sys, time, warnings
warnings.simplefilter("ignore")
import logging
logging.disable(logging.WARNING)
from model_registry import ModelRegistry
url, expected, cases = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
client = ModelRegistry("http://127.0.0.1", int(url.rsplit(":", 1)[1]), author="bench",
                       is_secure=False)
results = {}
for label, name, page in cases:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        pager = client.get_model_versions(name)
        if page:
            pager = pager.page_size(page)
        versions = list(pager)
        times.append((time.perf_counter() - start) * 1000)
        assert len(versions) == expected, len(versions)
    results[label] = {"median_ms": statistics.median(times), "best_ms": min(times)}
print(json.dumps(results))
"""
# (label, model, page size): versions without custom properties, and versions carrying the
# metadata the design puts on each (metrics, data version, run, sha256...: 8 properties).
CASES = [
    ("bare versions, default pages", "bare", None),
    ("bare versions, pages of 100", "bare", 100),
    ("8 properties each, default pages", "described", None),
]

REGISTER = """
import sys, time, warnings
warnings.simplefilter("ignore")
import logging
logging.disable(logging.WARNING)
from model_registry import ModelRegistry
from mr_openapi.exceptions import ConflictException
url, version, go = sys.argv[1], sys.argv[2], float(sys.argv[3])
client = ModelRegistry("http://127.0.0.1", int(url.rsplit(":", 1)[1]), author="bench",
                       is_secure=False)
time.sleep(max(0.0, go - time.time()))  # all processes register at the same moment
start = time.perf_counter()
for attempt in range(5):
    try:
        client.register_model("concurrent", "file:///m/" + version, model_format_name="onnx",
                              model_format_version="1", version=version)
        break
    except ConflictException:
        continue  # another process created the registered model first: search again
else:
    sys.exit("conflict after 5 attempts")
print(f"{(time.perf_counter() - start) * 1000:.0f}")
"""


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.platform()}; {os.cpu_count()} CPUs; Python {platform.python_version()};"
        f" load average {load}"
    )


def fill(url: str, name: str, count: int, properties: int) -> None:
    kinds = [
        {"metadataType": "MetadataDoubleValue", "double_value": 0.875},
        {"metadataType": "MetadataIntValue", "int_value": "12"},
        {"metadataType": "MetadataStringValue", "string_value": "md5:0123456789abcdef"},
        {"metadataType": "MetadataBoolValue", "bool_value": True},
    ]
    session = requests.Session()
    model = session.post(f"{url}{API}/registered_models", json={"name": name}).json()
    for number in range(count):
        body = {"name": f"1.{number}", "registeredModelId": model["id"], "author": "bench"}
        if properties:
            body["customProperties"] = {f"p{i}": kinds[i % len(kinds)] for i in range(properties)}
        session.post(f"{url}{API}/model_versions", json=body).raise_for_status()


def list_over_http(url: str, name: str) -> float:
    session = requests.Session()
    model = session.get(f"{url}{API}/registered_model", params={"name": name}).json()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        items = session.get(f"{url}{API}/registered_models/{model['id']}/versions").json()["items"]
        times.append((time.perf_counter() - start) * 1000)
        assert len(items) == VERSIONS
    return statistics.median(times)


def list_with_client(url: str, env: dict[str, str]) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", LIST_WITH_CLIENT, url, str(VERSIONS), json.dumps(CASES)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def concurrent_registrations(url: str) -> None:
    go = time.time() + 25  # time for every process to import the client and connect
    env = {**os.environ, **NO_CA_BUNDLE}
    started = time.perf_counter()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", REGISTER, url, f"v{number}", str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for number in range(WRITERS)
    ]
    outputs = [writer.communicate(timeout=600) for writer in writers]
    wall = time.perf_counter() - started
    failures = [err.strip()[-300:] for writer, (_, err) in zip(writers, outputs, strict=True)
                if writer.returncode != 0]  # fmt: skip
    durations = [float(out.strip()) for out, _ in outputs if out.strip()]

    session = requests.Session()
    models = session.get(f"{url}{API}/registered_models").json()["items"]
    model = session.get(f"{url}{API}/registered_model", params={"name": "concurrent"}).json()
    versions = session.get(f"{url}{API}/registered_models/{model['id']}/versions").json()["items"]
    names = [version["name"] for version in versions]
    artifacts = session.get(f"{url}{API}/model_artifacts").json()["items"]
    artifacts = [item for item in artifacts if item["name"] == "concurrent"]
    succeeded = WRITERS - len(failures)
    print(f"\n{WRITERS} concurrent registrations from {WRITERS} separate processes")
    print(f"  succeeded: {succeeded} / {WRITERS}" + (f"; failures: {failures}" if failures else ""))
    print(
        f"  registered models named 'concurrent': {[m['name'] for m in models].count('concurrent')}"
    )
    print(
        f"  versions: {len(names)}, distinct: {len(set(names))}, exactly the 50 expected:"
        f" {sorted(names) == sorted(f'v{n}' for n in range(WRITERS))}"
    )
    print(f"  model artifacts: {len(artifacts)} (one per version: {len(artifacts) == WRITERS})")
    if durations:
        print(
            f"  one registration (3 entities, ~6 client calls) while all 50 run: median"
            f" {statistics.median(durations):.0f} ms, slowest {max(durations):.0f} ms"
        )
    print(f"  wall time including 50 interpreter starts: {wall:.1f} s")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-registry-") as home:
        settings = load_settings({"JUKEBOX_HOME": home})
        start = time.perf_counter()
        url = ensure_server(settings)
        print(f"Machine: {machine()}")
        print(f"Server started in {time.perf_counter() - start:.2f} s at {url}")
        try:
            start = time.perf_counter()
            fill(url, "bare", VERSIONS, properties=0)
            fill(url, "described", VERSIONS, properties=8)
            print(
                f"Created 2 x {VERSIONS} versions over HTTP in {time.perf_counter() - start:.1f} s"
            )
            print(f"\nListing {VERSIONS} versions of one model (median of 3; goal < 200 ms)")
            for name in ("bare", "described"):
                print(f"  plain HTTP, one request, {name:9s}: {list_over_http(url, name):7.1f} ms")
            for label, env in (("environment as is", {}), ("SSL_CERT_FILE empty", NO_CA_BUNDLE)):
                for case, figures in list_with_client(url, env).items():
                    print(
                        f"  official client, {case:32s}, {label:19s}: "
                        f"{figures['median_ms']:7.1f} ms (best {figures['best_ms']:.1f})"
                    )
            concurrent_registrations(url)
        finally:
            stop_server(settings)


if __name__ == "__main__":
    main()
