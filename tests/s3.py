"""Fixtures for object storage, shared by tests/storage and tests/registry: a real S3 server
(moto, in a thread of the test process), an empty home, and a store per backend.

A conftest that needs them imports them by name.
"""

from __future__ import annotations

import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

from jukebox.config import load_settings
from jukebox.storage import LocalStore, S3Store
from tests.ports import free_port

# moto accepts any key unless authentication is switched on (see the credential tests).
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
