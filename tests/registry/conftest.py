"""Fixtures for registry tests: object storage (tests/s3.py) and the embedded registry server,
served in a thread of the test process so that a test session starts no process for it."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jukebox.config import load_settings
from tests.s3 import (  # noqa: F401
    ACCESS_KEY,
    SECRET_KEY,
    jukebox_home,
    s3_bucket,
    s3_endpoint,
    s3_env,
    store,
)


@contextlib.contextmanager
def registry_in_thread(db: Path, token: str | None = None) -> Iterator[str]:
    """The embedded registry's app served by uvicorn in a thread, on a free port; yields its URL.

    The same app as ``python -m jukebox registry serve`` runs, started in well under a second.
    """
    import uvicorn

    from jukebox.registry.server.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # As the real server does: without it, each response waits 40 ms for a delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(create_app(db, token=token), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the registry server did not start")
            time.sleep(0.01)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@pytest.fixture(scope="session")
def registry_server(tmp_path_factory):
    """One registry for the session: tests keep apart by using model names of their own."""
    with registry_in_thread(tmp_path_factory.mktemp("registry") / "registry.sqlite") as url:
        yield url


@pytest.fixture
def registry_env(monkeypatch, jukebox_home, registry_server):  # noqa: F811
    """Settings pointing at the session's registry server, with local object storage."""
    monkeypatch.setenv("MODEL_REGISTRY_URL", registry_server)
    return load_settings()


def model_names(settings=None) -> list[str]:
    """The names of every registered model, as the official client lists them."""
    from jukebox.registry.connection import connect
    from jukebox.registry.official_api import all_pages

    return [rm.name for rm in all_pages(connect(settings).get_registered_models())]


def production_versions(name: str, settings=None) -> list[str]:
    """The versions of ``name`` that carry the production mark (there should be one at most)."""
    from jukebox.registry.versions import list_versions

    return [v.version for v in list_versions(name, settings) if v.production]
