"""Embedded model registry: listing speed and concurrent registrations, through the official client.

Prints:
- the time to list 1,000 versions of one model with ``ModelRegistry.get_model_versions`` (goal:
  under 200 ms), with the server's default page size and with pages of 100, and the time the
  same listing takes over plain HTTP (what the server itself costs);
- 50 registrations started at once from 50 separate processes: whether all succeeded, each
  exactly once, and how long they took;
- the machine it ran on.

The official client creates a new TLS context for every call, even over plain HTTP, and OpenSSL
then parses the system CA bundle named by SSL_CERT_FILE: on some machines that alone costs
~100 ms per call. The listing is therefore timed twice: with the environment as it is, and with
SSL_CERT_FILE/SSL_CERT_DIR empty (no bundle to parse), so the server's share is visible.

Run: ``python benchmarks/bench_registry.py`` (about a minute; uses a temporary JUKEBOX_HOME).
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
url, name, expected = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = ModelRegistry("http://127.0.0.1", int(url.rsplit(":", 1)[1]), author="bench",
                       is_secure=False)
results = {}
for label, page in (("default pages", None), ("pages of 100", 100)):
    times = []
    for _ in range(5):
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


def fill(url: str, name: str, count: int) -> None:
    session = requests.Session()
    model = session.post(f"{url}{API}/registered_models", json={"name": name}).json()
    for number in range(count):
        response = session.post(
            f"{url}{API}/model_versions",
            json={
                "name": f"1.{number}",
                "registeredModelId": model["id"],
                "author": "bench",
                "customProperties": {
                    "accuracy": {"metadataType": "MetadataDoubleValue", "double_value": 0.5},
                    "epochs": {"metadataType": "MetadataIntValue", "int_value": "10"},
                    "data_version": {"metadataType": "MetadataStringValue", "string_value": "x"},
                },
            },
        )
        response.raise_for_status()


def list_over_http(url: str, name: str) -> float:
    session = requests.Session()
    model = session.get(f"{url}{API}/registered_model", params={"name": name}).json()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        items = session.get(f"{url}{API}/registered_models/{model['id']}/versions").json()["items"]
        times.append((time.perf_counter() - start) * 1000)
        assert len(items) == VERSIONS
    return statistics.median(times)


def list_with_client(url: str, name: str, env: dict[str, str]) -> dict:
    output = subprocess.run(
        [sys.executable, "-c", LIST_WITH_CLIENT, url, name, str(VERSIONS)],
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
            fill(url, "bench", VERSIONS)
            print(f"Created {VERSIONS} versions over HTTP in {time.perf_counter() - start:.1f} s")
            print(f"\nListing {VERSIONS} versions (median of 5; goal < 200 ms)")
            print(f"  plain HTTP, one request:            {list_over_http(url, 'bench'):7.1f} ms")
            for label, env in (("environment as is", {}), ("SSL_CERT_FILE empty", NO_CA_BUNDLE)):
                for pages, figures in list_with_client(url, "bench", env).items():
                    print(
                        f"  official client, {pages:13s}, {label:19s}: "
                        f"{figures['median_ms']:7.1f} ms (best {figures['best_ms']:.1f})"
                    )
            concurrent_registrations(url)
        finally:
            stop_server(settings)


if __name__ == "__main__":
    main()
