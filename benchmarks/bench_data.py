"""Time the data layer on the default synthetic set and print the figures (no pass/fail).

    python benchmarks/bench_data.py [--repeat 3]

Prints: the machine and its load, the time (wall and CPU) to generate the default data set (best
of the repeats), to validate it again, to save and load it, to merge it into the training table,
and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(function, repeat: int = 1):
    """The last result, and (wall, cpu) seconds of each call: on a shared machine the CPU time
    says what the code costs, the wall time what a user waited."""
    times, result = [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return result, times


def line(label: str, times: list[tuple[float, float]]) -> str:
    wall = min(t[0] for t in times)
    cpu = min(t[1] for t in times)
    text = f"{label:<32} {wall:6.2f} s wall, {cpu:5.2f} s CPU"
    if len(times) > 1:
        text += (
            f" (best of {len(times)}; median wall {statistics.median(t[0] for t in times):.2f} s)"
        )
    return text


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="generations to time (3)")
    args = parser.parse_args()

    from jukebox.config import load_settings
    from jukebox.data.merge import merge_tables
    from jukebox.data.store import load_current, save_current
    from jukebox.data.synthetic import generate
    from jukebox.data.validation import conform_properties, conform_rankings

    load = os.getloadavg()
    print(f"machine: {platform.platform()}, Python {platform.python_version()}")
    print(
        f"cpus: {os.cpu_count()}, load average at start: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}"
    )

    data, times = timed(generate, args.repeat)
    print(
        line("generate default set", times)
        + f"  ({data.n_songs:,} songs, {len(data.rankings):,} rows, "
        f"Bayes ceiling {data.bayes_accuracy:.1%})"
    )
    _, times = timed(lambda: (conform_properties(data.properties), conform_rankings(data.rankings)))
    print(line("validate both tables", times))
    with tempfile.TemporaryDirectory() as home:
        settings = load_settings({"JUKEBOX_HOME": home})
        _, times = timed(lambda: save_current(data, settings))
        print(line("save (parquet + dataset.json)", times))
        _, times = timed(lambda: load_current(settings))
        print(line("load and validate", times))
    table, times = timed(lambda: merge_tables(data.properties, data.rankings), 3)
    print(line("merge into the training table", times))
    print(f"{'training table in memory':<32} {table.memory_usage(deep=True).sum() / 1e6:6.0f} MB")
    print(f"{'peak resident memory':<32} {peak_rss_mb():6.0f} MB")


if __name__ == "__main__":
    main()
