"""How fast the app draws, and how much memory it holds, on the default data set.

Prints: the machine; the time from starting ``streamlit run app.py`` to a drawn Home page in
headless Chromium (cold start); Explore's first load on the default synthetic data set (about
1.1 million chart entries); how long Explore takes to redraw after each of a series of
interactions (from the interaction until the rerun it caused has finished and the browser has
drawn it, in the page's own clock); and the peak resident memory of the streamlit process while
serving Explore, then with four sessions (Explore, Train, Registry, Predict).

    python benchmarks/bench_app.py              # default data set (generated in a temp dir)
    python benchmarks/bench_app.py --songs 2000 --days 30  # a quick run on a small data set
    python benchmarks/bench_app.py --screenshot docs/screenshot.png  # also the README's picture

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser.harness import (  # noqa: E402
    AppServer,
    launch_chromium,
    timed_rerun,
    wait_until_idle,
)


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    import plotly
    import streamlit

    return (
        f"{platform.platform()}; {cpu}; {os.cpu_count()} logical CPUs; "
        f"{memory_kb / 2**20:.1f} GiB RAM; Python {platform.python_version()}; "
        f"streamlit {streamlit.__version__}; plotly {plotly.__version__}"
    )


def memory_mb(pid: int) -> tuple[float, float]:
    """Current and peak resident memory of a process (VmRSS, VmHWM), in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS", "VmHWM")):
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


SESSIONS = {"train": "Train", "registry": "Registry", "predict": "Where will this song chart?"}


def four_sessions(browser, server: AppServer) -> None:
    """Resident memory of the app with four browser sessions: the Explore one already open,
    and one each on Train, Registry and Predict (issue 11: goal under 1.5 GB)."""
    pages = []
    for path, heading in SESSIONS.items():
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        start = time.perf_counter()
        page.goto(f"{server.url}/{path}")
        page.get_by_role("heading", name=heading).first.wait_for(timeout=300_000)
        wait_until_idle(page, timeout=300)
        print(f"  a session on {path}: drawn in {time.perf_counter() - start:.2f} s")
        pages.append(page)
    time.sleep(2)
    rss, peak = memory_mb(server.process.pid)
    children = children_rss_mb(server.process.pid)
    print(
        f"streamlit process resident memory, four sessions (Explore, Train, Registry, Predict):"
        f" {rss:,.0f} MB now, {peak:,.0f} MB peak (VmHWM); processes it started (the embedded "
        f"registry): {children:,.0f} MB; load average {load_average()}"
    )
    for page in pages:
        page.context.close()


def children_rss_mb(pid: int) -> float:
    """Resident memory of the processes ``pid`` started (and theirs), in MB."""
    total = 0.0
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    for child in map(int, children):
        try:
            total += memory_mb(child)[0] + children_rss_mb(child)
        except (OSError, KeyError):
            continue
    return total


def prepare_choice(page, widget_label: str, option: str) -> None:
    """Open the selectbox or multiselect labelled ``widget_label`` and type ``option``."""
    box = page.locator(
        '[data-testid="stSelectbox"], [data-testid="stMultiSelect"]', has_text=widget_label
    )
    box.locator("input").first.click()
    box.locator("input").first.fill(option)


def measure(page, label: str, prepare, trigger, results: list) -> None:
    """Time one interaction: ``prepare`` (typing, not timed), then ``trigger`` until drawn."""
    prepare()
    seconds = timed_rerun(page, trigger)
    page.keyboard.press("Escape")
    results.append((label, seconds))
    print(f"  {label:<55} {seconds:6.2f} s", flush=True)


def take_screenshot(page, path: Path) -> None:
    """Explore's first screen down to the map, for the README."""
    page.set_viewport_size({"width": 1400, "height": 1330})
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.mouse.move(0, 0)
    time.sleep(2)  # plotly re-lays out its charts to the new width
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 1000})
    time.sleep(1)
    print(f"Screenshot of Explore: {path}")


def run(
    songs: int | None, days: int | None, seed: int, home: Path, screenshot: Path | None
) -> None:
    print("Machine:", machine())
    print(f"Load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    command = [sys.executable, "-m", "jukebox", "data", "generate", "--seed", str(seed)]
    if songs:
        command += ["--songs", str(songs)]
    if days:
        command += ["--days", str(days)]
    start = time.perf_counter()
    env = {**os.environ, "JUKEBOX_HOME": str(home)}
    subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
    print(f"Data set generated in {time.perf_counter() - start:.1f} s ({' '.join(command[3:])})")

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()

        server = AppServer(home, home / "streamlit.log")
        start = time.perf_counter()
        server.start(timeout=120)
        try:
            page.goto(server.url)
            page.get_by_text("The model's life").wait_for(timeout=60_000)
            wait_until_idle(page)
            cold = time.perf_counter() - start
            print(f"Cold start to a drawn Home page: {cold:.2f} s")

            start = time.perf_counter()
            page.goto(f"{server.url}/explore")
            page.locator("path.choroplethlocation").first.wait_for(timeout=300_000)
            wait_until_idle(page)
            first = time.perf_counter() - start
            print(f"Explore first load (read, validate, join, reduce, draw): {first:.2f} s")
            rows = page.locator('[data-testid="stMetricValue"]').first.inner_text()
            print(f"Chart entries in the data set: {rows}")

            print("Explore redraw after an interaction (until drawn in the browser):")
            results: list[tuple[str, float]] = []
            enter = lambda: page.keyboard.press("Enter")  # noqa: E731
            colour = page.locator('[data-testid="stSelectbox"]', has_text="Colour countries by")
            default = colour.locator("input").first.input_value()
            print(f"  (the map's default colouring: {default})")
            first, second = [c for c in ("Mean energy", "Mean valence", "Mean tempo (BPM)")
                             if c != default][:2]  # fmt: skip
            for number, (label, widget, option) in enumerate(
                [
                    (f"map colour: the default -> {first}", "Colour countries by", first),
                    ("country filter: add Germany", "Countries", "Germany"),
                    ("country filter: add Japan", "Countries", "Japan"),
                    (f"map colour: {first} -> {second}", "Colour countries by", second),
                ]
            ):
                measure(
                    page,
                    label,
                    lambda w=widget, o=option: prepare_choice(page, w, o),
                    enter,
                    results,
                )
                if number == 0 and screenshot:
                    take_screenshot(page, screenshot)

            countries = page.locator('[data-testid="stMultiSelect"]', has_text="Countries")
            measure(
                page,
                "country filter: remove Japan (a selection seen before)",
                lambda: countries.locator("input").first.click(),
                lambda: page.keyboard.press("Backspace"),
                results,
            )

            def tab(label: str) -> None:
                measure(
                    page,
                    f"open the {label} tab",
                    lambda: None,
                    lambda: page.get_by_role("tab", name=label).click(),
                    results,
                )

            tab("Distributions")
            measure(
                page,
                "country filter: add France (Distributions tab)",
                lambda: prepare_choice(page, "Countries", "France"),
                enter,
                results,
            )
            tab("Correlations")
            measure(
                page,
                "country filter: remove France (Correlations tab)",
                lambda: countries.locator("input").first.click(),
                lambda: page.keyboard.press("Backspace"),
                results,
            )
            tab("Countries")
            tab("Top songs")
            start_thumb = page.locator('[data-testid="stSlider"] input[type="range"]').first
            measure(
                page,
                "top songs: move the start of their date range",
                start_thumb.focus,
                lambda: start_thumb.press("ArrowRight"),
                results,
            )
            worst = max(seconds for _, seconds in results)
            print(f"Slowest redraw: {worst:.2f} s")
            print(f"Load average after the interactions: {load_average()}")
            rss, peak = memory_mb(server.process.pid)
            print(
                f"streamlit process resident memory, one session on Explore: {rss:,.0f} MB now, "
                f"{peak:,.0f} MB peak (VmHWM, since start)"
            )
            four_sessions(browser, server)
        finally:
            server.stop()
            browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, help="songs to generate (default: the CLI default)")
    parser.add_argument("--days", type=int, help="chart days (default: the CLI default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--screenshot", type=Path, help="save Explore's first screen here (PNG)")
    args = parser.parse_args()
    screenshot = args.screenshot.resolve() if args.screenshot else None
    with tempfile.TemporaryDirectory(prefix="jukebox-bench-") as home:
        run(args.songs, args.days, args.seed, Path(home), screenshot)


if __name__ == "__main__":
    main()
