"""Several worker processes behind one port (``serve --workers``): they all answer there, each
answer names its worker, and stopping the deployment stops every one of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from jukebox.config import load_settings
from jukebox.jobs import list_jobs, read_status
from jukebox.serving.client import infer
from jukebox.serving.deploy import DeploymentError, deploy_local, stop_deployment
from jukebox.serving.transport import WORKER_HEADER
from tests.serving.conftest import song_rows

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_REUSEPORT")


@pytest.fixture
def settings(tmp_path):
    return load_settings({"JUKEBOX_HOME": str(tmp_path / "home")})


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent to reap it has stopped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def wait_gone(pids, timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


def workers_reached(
    url: str, connections: int = 200, path: str = "/v2/health/ready", status: int = 200, **headers
) -> set[int]:
    """The pids named by answers on fresh connections (one request each), as separate clients
    would reach the deployment; stops early once two workers have answered ``status``."""
    seen: set[int] = set()
    for _ in range(connections):
        answer = requests.get(f"{url}{path}", headers={"Connection": "close", **headers})
        assert answer.status_code == status
        seen.add(int(answer.headers[WORKER_HEADER]))
        if len(seen) >= 2:
            break
    return seen


def test_every_answer_names_its_worker(served):
    answer = requests.get(f"{served.url}/v2/health/live")
    assert answer.headers[WORKER_HEADER] == str(os.getpid())


def test_two_workers_answer_on_one_port_and_stop_together(settings, bundle):
    deployment = deploy_local(settings, "songs", bundle_dir=bundle.path, workers=2, log=False)
    [job] = list_jobs(settings, "serve")
    pids = read_status(job.dir)["worker_pids"]
    try:
        assert len(pids) == 2 and pids[0] == job.pid
        assert read_status(job.dir)["workers"] == 2
        # Connections from many clients reach both processes behind the one port ...
        assert workers_reached(deployment.endpoint) == set(pids)
        # ... and both serve the same model: the same song, the same answer.
        answers = [infer(deployment.endpoint, "songs", song_rows(3)) for _ in range(6)]
        first = answers[0].probabilities
        assert all(a.probabilities.equals(first) for a in answers)
    finally:
        stop_deployment(settings, "songs")
    assert wait_gone(pids) == []


def test_every_worker_wants_the_token_and_sigterm_to_the_first_stops_them_all(bundle, tmp_path):
    """A token given to ``serve`` protects every worker, not only the first. SIGTERM to the
    deployment's own process only (not its process group) stops every worker: it passes the
    signal on as it drains."""
    process = subprocess.Popen(
        [sys.executable, "-m", "jukebox", "serve", "--bundle", str(bundle.path),
         "--port", "0", "--workers", "2", "--no-log", "--token", "s3cret"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "JUKEBOX_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    try:
        said = [process.stdout.readline() for _ in range(2)]
        assert said[0].startswith("Serving jukebox version 1 at http://127.0.0.1:"), said
        pids = [int(p) for p in said[1].split("pids", 1)[1].split(",")]
        assert len(pids) == 2 and pids[0] == process.pid
        url = said[0].split(" at ", 1)[1].strip()
        assert workers_reached(url, path="/v2/models/jukebox", status=401) == set(pids)
        authorized = {"Authorization": "Bearer s3cret"}
        assert workers_reached(url, path="/v2/models/jukebox", **authorized) == set(pids)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert wait_gone(pids) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_a_worker_does_not_outlive_a_killed_first_worker(bundle, tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "jukebox", "serve", "--bundle", str(bundle.path),
         "--port", "0", "--workers", "2", "--no-log"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "JUKEBOX_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    said = [process.stdout.readline() for _ in range(2)]
    pids = [int(p) for p in said[1].split("pids", 1)[1].split(",")]
    process.kill()
    process.wait()
    assert wait_gone(pids) == []


@pytest.mark.parametrize("workers", [0, -1, 65])
def test_a_number_of_workers_out_of_range_is_refused(settings, bundle, workers):
    with pytest.raises(DeploymentError, match="from 1 to 64"):
        deploy_local(settings, "songs", bundle_dir=bundle.path, workers=workers)
    assert list_jobs(settings, "serve") == []
