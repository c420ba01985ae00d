"""Serve the app for real and drive it in headless Chromium: shared by browser tests and
benchmarks.

``AppServer`` runs ``streamlit run app.py`` on a free local port with its own ``JUKEBOX_HOME``;
``launch_chromium`` starts Debian's Chromium through Playwright (never a browser download).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
BROWSER_SONGS = 2_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def generate_data(home: Path, songs: int = BROWSER_SONGS, seed: int = 7) -> None:
    """A data set made the way a user makes one, with the CLI."""
    env = {**os.environ, "JUKEBOX_HOME": str(home)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jukebox",
            "data",
            "generate",
            "--songs",
            str(songs),
            "--seed",
            str(seed),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


class AppServer:
    """A running ``streamlit run app.py``: its base URL, process and log file."""

    def __init__(self, home: Path, log: Path, port: int | None = None):
        self.home = home
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> AppServer:
        env = {**os.environ, "JUKEBOX_HOME": str(self.home)}
        command = [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.port", str(self.port),
            "--server.address", "127.0.0.1",
            "--server.headless", "true",
            "--browser.gatherUsageStats", "false",
        ]  # fmt: skip
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited early:\n{self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/_stcore/health", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"streamlit did not answer in {timeout:.0f} s:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def launch_chromium(playwright):
    """Headless Debian Chromium, with everything that phones home switched off."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)


def outside_requests(urls: list[str]) -> list[str]:
    """The URLs that went to a host other than this machine (data: and blob: stay local)."""
    outside = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            continue
        if parts.hostname not in LOCAL_HOSTS:
            outside.append(url)
    return outside


def wait_until_idle(page, timeout: float = 30.0) -> None:
    """Wait until the app has finished running its script (the status widget is gone)."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    # The running indicator can appear a moment after an interaction; it must stay gone.
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        if running:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 0.5:
            return
        time.sleep(0.05)
    raise TimeoutError(f"the app was still running after {timeout:.0f} s")
