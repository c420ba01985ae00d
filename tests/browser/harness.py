"""Serve the app for real and drive it in headless Chromium: shared by browser tests and
benchmarks.

``AppServer`` runs ``streamlit run app.py`` on a free local port with its own ``JUKEBOX_HOME``;
``launch_chromium`` starts Debian's Chromium through Playwright (never a browser download).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

from tests.ports import free_port

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
BROWSER_DAYS = 30  # 72 countries x top 50 x 30 days: about 100,000 chart entries


def generate_data(
    home: Path, songs: int = BROWSER_SONGS, seed: int = 7, days: int | None = BROWSER_DAYS
) -> None:
    """A data set made the way a user makes one, with the CLI."""
    command = [sys.executable, "-m", "jukebox", "data", "generate", "--songs", str(songs)]
    command += ["--seed", str(seed)] + (["--days", str(days)] if days else [])
    subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "JUKEBOX_HOME": str(home)},
        check=True,
        capture_output=True,
        timeout=300,
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
            # Edits elsewhere in the checkout must not make the served app reload its pages.
            "--server.fileWatcherType", "none",
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


SCRIPT_STATE = '[data-testid="stApp"]'
_ARM_TIMER = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (window.__jukeboxObserver) window.__jukeboxObserver.disconnect();
  window.__jukeboxRan = false;
  window.__jukeboxDrawn = null;
  window.__jukeboxObserver = new MutationObserver(() => {
    const state = app.getAttribute('data-test-script-state');
    if (state === 'running') window.__jukeboxRan = true;
    if (state === 'notRunning' && window.__jukeboxRan && window.__jukeboxDrawn === null) {
      // two animation frames after the run: the browser has drawn what the run sent
      requestAnimationFrame(() => requestAnimationFrame(() => {
        window.__jukeboxDrawn = performance.now();
      }));
    }
  });
  window.__jukeboxObserver.observe(
    app, {attributes: true, attributeFilter: ['data-test-script-state']});
  return performance.now();
}"""


def wait_until_idle(page, timeout: float = 60.0) -> None:
    """Wait until the app's script is not running (Streamlit's own state on the app element)."""
    page.wait_for_selector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout * 1000
    )


def timed_rerun(page, action, timeout: float = 120.0) -> float:
    """Seconds from ``action`` until the rerun it causes has finished and been drawn.

    Measured in the page's own clock: a MutationObserver sees Streamlit's script state go to
    ``running`` and back to ``notRunning``; two animation frames later the result is on screen.
    """
    armed_at = page.evaluate(_ARM_TIMER)
    action()
    page.wait_for_function("() => window.__jukeboxDrawn !== null", timeout=timeout * 1000)
    return (page.evaluate("window.__jukeboxDrawn") - armed_at) / 1000
