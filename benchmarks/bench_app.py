"""How fast the app draws, and how much memory it holds, on the default data set.

Prints: the machine; the time from starting ``streamlit run app.py`` to a drawn Home page in
headless Chromium (cold start); Explore's first load on the default synthetic data set (about
1.1 million chart entries); how long Explore takes to redraw after each of a series of
interactions (from the interaction until the rerun it caused has finished and the browser has
drawn it, in the page's own clock); the same for the Data versions page over three versions of
that data set (the first look at a version reads it; every interaction after is timed); and the
peak resident memory of the streamlit process while serving Explore, then with four sessions
(Explore, Train, Registry, Predict).

    python benchmarks/bench_app.py              # default data set (generated in a temp dir)
    python benchmarks/bench_app.py --songs 2000 --days 30  # a quick run on a small data set
    python benchmarks/bench_app.py --screenshot docs/screenshot.png  # also the README's picture
    python benchmarks/bench_app.py --only-data-versions    # the Data versions page alone

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


def make_versions(home: Path) -> list:
    """Three data versions of the generated data set, as a person makes them: the data set,
    then a feature shifted, then songs appended (each versioned with DVC)."""
    from jukebox.config import load_settings
    from jukebox.data import changes
    from jukebox.data.store import load_current, save_current
    from jukebox.data.versions import list_versions, version_current

    settings = load_settings({"JUKEBOX_HOME": str(home)})
    start = time.perf_counter()
    version_current(settings, "the generated data set")
    for change, amount in ((changes.CHANGES[2], 0.1), (changes.CHANGES[0], 200)):
        changed = changes.simulate(load_current(settings), change, amount, 1, "energy")
        save_current(changed, settings)
        version_current(settings, changes.what_changed(changed))
    versions = list_versions(settings)
    print(f"{len(versions)} data versions made in {time.perf_counter() - start:.1f} s")
    return versions


def data_versions_page(page, server: AppServer, versions: list) -> list[tuple[str, float]]:
    """Time the Data versions page: its first draw (reads the newest two versions), the first
    look at the oldest one, then interactions that read nothing new."""
    newest, middle, oldest = versions[:3]
    start = time.perf_counter()
    page.goto(f"{server.url}/data_versions")
    page.get_by_text("Every feature's shift").first.wait_for(timeout=300_000)
    wait_until_idle(page, timeout=300)
    print(f"Data versions first load (list, read two versions, diff, draw): "
          f"{time.perf_counter() - start:.2f} s")  # fmt: skip
    enter = lambda: page.keyboard.press("Enter")  # noqa: E731
    first_look: list[tuple[str, float]] = []
    measure(
        page,
        f"From: {middle.short} -> {oldest.short} (first look: reads it)",
        lambda: prepare_choice(page, "From", oldest.short),
        enter,
        first_look,
    )
    results: list[tuple[str, float]] = []
    for label, widget, option in [
        ("feature: -> valence", "Feature", "valence"),
        ("feature: valence -> tempo", "Feature", "tempo"),
        (f"From: {oldest.short} -> {middle.short} (a pair seen before)", "From", middle.short),
        (f"To: {newest.short} -> {oldest.short} (both read before)", "To", oldest.short),
        (f"To: {oldest.short} -> {newest.short} (a pair seen before)", "To", newest.short),
        ("feature: tempo -> danceability", "Feature", "danceability"),
    ]:
        measure(page, label, lambda w=widget, o=option: prepare_choice(page, w, o), enter, results)
    measure(
        page,
        "revert picker: open and pick the oldest version",
        lambda: prepare_choice(page, "Make an older version current again", oldest.short),
        enter,
        results,
    )
    worst = max(seconds for _, seconds in results)
    print(f"Data versions: slowest interaction after the first look at each version: "
          f"{worst:.2f} s; load average {load_average()}")  # fmt: skip
    return results


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
    songs: int | None,
    days: int | None,
    seed: int,
    home: Path,
    screenshot: Path | None,
    only_data_versions: bool = False,
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
    versions = make_versions(home)

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
            if only_data_versions:
                data_versions_page(page, server, versions)
                return

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
            data_versions_page(page, server, versions)
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
    parser.add_argument(
        "--only-data-versions", action="store_true", help="time the Data versions page alone"
    )
    args = parser.parse_args()
    screenshot = args.screenshot.resolve() if args.screenshot else None
    with tempfile.TemporaryDirectory(prefix="jukebox-bench-") as home:
        run(args.songs, args.days, args.seed, Path(home), screenshot, args.only_data_versions)


if __name__ == "__main__":
    main()
