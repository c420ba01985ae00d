"""Running the server: restart survival, reuse, restart when dead, the foreground command,
and many processes writing at once."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from jukebox.jobs import list_jobs, read_status, start_job, stop_job
from jukebox.registry.server import ensure_server, is_healthy, stop_server
from jukebox.registry.server.process import running_servers
from tests.registry.server.conftest import Rest, official_client, settings_for

# Every test here starts the registry (or a client) as a process of its own.
pytestmark = pytest.mark.slow

_INHERITED_LOOP = None


def register_in_child(url: str, model: str, version: str) -> None:
    """Run in a forked process (cheap: the client is already imported): one registration."""
    import asyncio
    import warnings

    from mr_openapi.exceptions import ConflictException

    # The parent's event loop came along with the fork and shares its epoll instance with the
    # parent: if it were garbage-collected here, closing it would unregister the parent's wakeup
    # pipe and hang the parent. So keep it alive (os._exit skips finalizers) and use a new one.
    global _INHERITED_LOOP
    _INHERITED_LOOP = asyncio.get_event_loop_policy().get_event_loop()
    asyncio.set_event_loop(asyncio.new_event_loop())
    warnings.simplefilter("ignore")
    client = official_client(url)
    for _ in range(3):
        try:
            client.register_model(
                model, f"file:///m/{version}", model_format_name="onnx",
                model_format_version="1", version=version,
            )  # fmt: skip
            os._exit(0)
        except ConflictException:
            # Another process created the registered model between this one's search and its
            # create: search again, as any caller of a registry with unique names must.
            continue
    os._exit(3)


def test_data_survives_a_restart(tmp_path):
    settings = settings_for(tmp_path / "home")
    first_url = ensure_server(settings)
    try:
        official_client(first_url).register_model(
            "kept", "file:///m", model_format_name="onnx", model_format_version="1", version="1",
            metadata={"accuracy": 0.75},
        )  # fmt: skip
        assert stop_server(settings) == 1
        assert not is_healthy(first_url)

        client = official_client(ensure_server(settings))
        assert client.get_model_version("kept", "1").custom_properties == {"accuracy": 0.75}
        assert client.get_model_artifact("kept", "1").uri == "file:///m"
    finally:
        stop_server(settings)


def test_ensure_server_reuses_the_running_one_and_replaces_a_dead_one(tmp_path):
    settings = settings_for(tmp_path / "home")
    url = ensure_server(settings)
    try:
        assert url.startswith("http://127.0.0.1:")
        assert ensure_server(settings) == url
        [job] = list_jobs(settings, "registry")
        assert read_status(job.dir)["state"] == "running"

        os.kill(job.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while job.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        new_url = ensure_server(settings)
        assert is_healthy(new_url, settings.registry_db)
        assert len(running_servers(settings)) == 1
        assert len(list_jobs(settings, "registry")) == 2
    finally:
        stop_server(settings)
    assert running_servers(settings) == []


def test_concurrent_ensure_server_calls_share_one_server(tmp_path):
    home = tmp_path / "home"
    code = (
        "from jukebox.config import load_settings; from jukebox.registry.server import "
        "ensure_server; print(ensure_server(load_settings()))"
    )
    env = {**os.environ, "JUKEBOX_HOME": str(home)}
    processes = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(3)
    ]
    try:
        urls = {process.communicate(timeout=120)[0].strip() for process in processes}
        assert len(urls) == 1 and urls.pop().startswith("http://127.0.0.1:")
    finally:
        stop_server(settings_for(home))


def test_serve_runs_in_the_foreground_and_stops_on_sigterm(tmp_path):
    settings = settings_for(tmp_path / "home")
    db = tmp_path / "elsewhere.sqlite"
    job = start_job(
        settings,
        "registry-fg",
        ["-m", "jukebox", "registry", "serve", "--port", "0", "--db", str(db),
         "--job-dir", "{job_dir}"],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "url" not in read_status(job.dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        url = read_status(job.dir)["url"]
        assert is_healthy(url, db) and db.exists()
        assert Rest(url).post("/registered_models", {"name": "fg"}).status_code == 201
    except BaseException:
        stop_job(job)
        raise

    os.kill(job.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while job.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not job.is_alive()
    assert read_status(job.dir)["state"] == "stopped"
    assert "Model registry serving" in job.log_tail()
    assert "Traceback" not in job.log_tail()


def test_foreground_command_exits_zero_on_ctrl_c(tmp_path):
    """``python -m jukebox registry serve`` in a terminal: Ctrl-C ends it cleanly (SIGTERM is
    covered by the test above)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "jukebox", "registry", "serve", "--port", "0",
         "--db", str(tmp_path / "r.sqlite")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "JUKEBOX_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    try:
        banner = process.stdout.readline()
        assert "Model registry serving" in banner
        url = banner.rsplit(" ", 1)[1].strip()
        assert is_healthy(url, tmp_path / "r.sqlite")
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=20)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "Traceback" not in output


def test_parallel_registrations_from_processes_and_two_servers_each_happen_once(tmp_path):
    """Twelve processes register versions of one new model at once, through two server processes
    sharing one database: every registration succeeds, none is duplicated."""
    settings = settings_for(tmp_path / "home")
    url = ensure_server(settings)
    second = start_job(
        settings,
        "registry-second",
        ["-m", "jukebox", "registry", "serve", "--port", "0",
         "--db", str(settings.registry_db), "--job-dir", "{job_dir}"],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "url" not in read_status(second.dir) and time.monotonic() < deadline:
            time.sleep(0.05)
        urls = [url, read_status(second.dir)["url"]]
        fork = multiprocessing.get_context("fork")
        workers = [
            fork.Process(target=register_in_child, args=(urls[i % 2], "shared", f"v{i}"))
            for i in range(12)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=170)
        assert [worker.exitcode for worker in workers] == [0] * 12

        rest = Rest(url)
        models = rest.get("/registered_models", pageSize="100").json()["items"]
        assert [m["name"] for m in models] == ["shared"]
        versions = rest.get(f"/registered_models/{models[0]['id']}/versions").json()["items"]
        assert sorted(v["name"] for v in versions) == sorted(f"v{i}" for i in range(12))
        artifacts = rest.get("/model_artifacts").json()["items"]
        assert len(artifacts) == 12 and all(a["name"] == "shared" for a in artifacts)

        # The same version raced by many writers is created exactly once.
        statuses = _race_same_version(urls, models[0]["id"])
        assert sorted(statuses) == [201] + [409] * 7
    finally:
        stop_job(second)
        stop_server(settings)


def _race_same_version(urls: list[str], model_id: str) -> list[int]:
    code = (
        "import sys, json, requests; r = requests.post(sys.argv[1] + "
        "'/api/model_registry/v1/model_versions', json={'name': 'race', "
        "'registeredModelId': sys.argv[2]}, timeout=60); print(r.status_code)"
    )
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", code, urls[i % 2], model_id], stdout=subprocess.PIPE, text=True
        )
        for i in range(8)
    ]
    return [json.loads(racer.communicate(timeout=120)[0]) for racer in racers]


def test_serving_on_a_busy_port_says_so(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "jukebox", "registry", "serve", "--port", str(port),
             "--db", str(tmp_path / "r.sqlite")],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, "JUKEBOX_HOME": str(tmp_path / "home")},
        )  # fmt: skip
    assert result.returncode == 1
    assert f"Cannot serve the registry on 127.0.0.1:{port}" in result.stdout
    assert "--port" in result.stdout and "Traceback" not in result.stderr
