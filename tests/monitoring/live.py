"""A real monitoring service for tests: ``python -m jukebox monitor serve`` on 127.0.0.1, a free
port, its own JUKEBOX_HOME; stopped when the ``with`` block ends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.ports import free_port


@contextmanager
def running_monitor(home: Path, token: str, alert_after: int = 3) -> Iterator[str]:
    """The base URL of a monitoring service over ``home`` that requires ``token``; its schedule
    is off (``--interval 0``): a test evaluates with ``POST /jukebox/evaluate`` when it means to."""
    port = free_port()
    env = {**os.environ, "JUKEBOX_HOME": str(home), "TRUSTYAI_TOKEN": token,
           "JUKEBOX_DRIFT_ALERT_AFTER": str(alert_after)}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "jukebox", "monitor", "serve", "--host", "127.0.0.1",
         "--port", str(port), "--interval", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(url + "/q/health/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("monitor serve did not start: " + process.stdout.read().decode())
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
