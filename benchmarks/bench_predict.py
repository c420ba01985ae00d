"""How fast the Predict page answers, on the real 14k-song catalogue and a local server.

Prints: the machine; building the catalogue from ``song_properties``; a catalogue search; the
Predict page's script run in AppTest with the whole catalogue in its type-ahead (first run, then
reruns after moving a dial with a live prediction each time); and one prediction's round trip
through the v2 client against ``python -m jukebox serve`` on a tiny bundle.

    python benchmarks/bench_predict.py

Needs ``../shared/data/song_properties.parquet`` for the catalogue figures (skipped without it).
Figures are printed, never asserted.
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402
import requests  # noqa: E402

from jukebox.config import load_settings  # noqa: E402
from jukebox.data import catalogue as song_catalogue  # noqa: E402
from jukebox.data.schema import CHART_COUNTRIES  # noqa: E402
from jukebox.serving.prediction import Target, predict  # noqa: E402
from jukebox.ui.song_words import PRESETS  # noqa: E402
from tests.bundles import make_tiny_bundle  # noqa: E402

SONGS = ROOT.parent / "shared" / "data" / "song_properties.parquet"


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown CPU",
    )  # fmt: skip
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def timed(function, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(times):7.1f} ms   p95 {p95:7.1f} ms   (n={len(times)})"


def start_server(bundle: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "jukebox", "serve", "--bundle", str(bundle), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if requests.get(url + "/v2/health/ready", timeout=1).ok:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the inference server did not start")


def main() -> None:
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        os.environ["JUKEBOX_HOME"] = str(home)
        bundle = make_tiny_bundle(Path(tmp) / "bundle", labels=CHART_COUNTRIES)
        server, url = start_server(bundle.path)
        try:
            target = Target(url, "jukebox")
            song = PRESETS["Latin dance hit"].features
            predict(target, [song])
            print(f"Prediction round trip (client + server, 72 countries): "
                  f"{summary(timed(lambda: predict(target, [song]), 200))}")  # fmt: skip

            if not SONGS.is_file():
                print(f"Catalogue figures skipped: {SONGS} is absent")
                return
            (home / "data").mkdir(parents=True)
            pd.read_parquet(SONGS).to_parquet(home / "data" / "song_properties.parquet")
            path = song_catalogue.catalogue_path(load_settings())
            catalogue = song_catalogue.load_catalogue(path)
            print(f"Catalogue of {len(catalogue):,} songs, built from parquet: "
                  f"{summary(timed(lambda: song_catalogue.load_catalogue(path), 5))}")  # fmt: skip
            queries = ["water", "Taylor Swift", "drake yeat", "feat", "zzz nothing"]
            search = timed(lambda: [song_catalogue.search_songs(catalogue, q) for q in queries], 10)
            print(f"Search (one query):              "
                  f"{summary([t / len(queries) for t in search])}")  # fmt: skip

            from streamlit.testing.v1 import AppTest

            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
            at.switch_page("app_pages/predict.py")
            started = time.perf_counter()
            at.run()
            print(f"Predict page, first run (catalogue loaded): "
                  f"{(time.perf_counter() - started) * 1000:7.1f} ms")  # fmt: skip
            at.selectbox(key="a_target").select("📋 Paste an address…").run()
            at.text_input(key="a_url").input(url)
            at.text_input(key="a_model").input("jukebox")
            at.selectbox(key="a_song").select(catalogue["label"].iloc[100]).run()
            at.button(key="predict").click().run()
            assert not at.exception, at.exception
            tempos = [90.0 + i for i in range(15)]
            reruns = []
            for tempo in tempos:
                started = time.perf_counter()
                at.slider(key="a_tempo").set_value(tempo).run()
                reruns.append((time.perf_counter() - started) * 1000)
            print(f"Predict page rerun after a dial move, with a new prediction: {summary(reruns)}")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()
