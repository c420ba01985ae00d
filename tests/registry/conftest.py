"""Fixtures for storage and registry tests: a real S3 server (moto) and a store per backend."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from jukebox.config import load_settings
from jukebox.storage import LocalStore, S3Store
from tests.ports import free_port

# moto accepts any key unless authentication is switched on (see test_storage's credential test).
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key-never-shown"


@pytest.fixture(scope="session")
def s3_endpoint():
    """A moto S3 server speaking real HTTP on 127.0.0.1, for the whole test session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint) -> str:
    """A fresh, empty bucket on the moto server."""
    name = f"jukebox-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    ).create_bucket(Bucket=name)
    return name


@pytest.fixture
def jukebox_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("JUKEBOX_HOME", str(home))
    for name in (
        "AWS_S3_ENDPOINT",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_S3_BUCKET",
        "AWS_DEFAULT_REGION",
        "MODEL_REGISTRY_URL",
        "MODEL_REGISTRY_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def s3_env(monkeypatch, jukebox_home, s3_endpoint, s3_bucket):
    """Settings environment pointing object storage at the moto server."""
    monkeypatch.setenv("AWS_S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_S3_BUCKET", s3_bucket)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return load_settings()


@pytest.fixture(params=["local", "s3"])
def store(request, jukebox_home):
    """The same tests run on both backends."""
    if request.param == "local":
        return LocalStore(load_settings().storage_dir, "jukebox")
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Store(
        endpoint, bucket, access_key=ACCESS_KEY, secret_key=SECRET_KEY, region="us-east-1"
    )


@contextlib.contextmanager
def running_registry(db: Path, token: str | None = None) -> Iterator[str]:
    """The embedded registry server in its own process on a free port; yields its URL."""
    port = free_port()
    code = (
        "import sys; from jukebox.registry.server.process import serve; "
        "sys.exit(serve(sys.argv[1], port=int(sys.argv[2]), token=sys.argv[3] or None))"
    )
    process = subprocess.Popen([sys.executable, "-c", code, str(db), str(port), token or ""])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/readyz/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the registry server did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory):
    """One registry for the session: tests keep apart by using model names of their own."""
    with running_registry(tmp_path_factory.mktemp("registry") / "registry.sqlite") as url:
        yield url


@pytest.fixture
def registry_env(monkeypatch, jukebox_home, registry_server):
    """Settings pointing at the session's registry server, with local object storage."""
    monkeypatch.setenv("MODEL_REGISTRY_URL", registry_server)
    return load_settings()
