"""The continuous-training loop, locally: from a new data version to a registered, gated model.

Prints the machine, then each stage with its time: versioning the new data (DVC add and push,
git commit), the watcher noticing it (one tick), and the training run it starts, split by task
(fetch reads the version back through DVC at its git revision); then the total and the share
that is DVC and git (versioning plus reading the version back, against reading the same tables
from the current data set).

    python benchmarks/bench_loop.py                         # the default data set
    python benchmarks/bench_loop.py --songs 2000 --days 60  # a quick run

Figures are printed, never asserted; take them while nothing else runs.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pipeline import data_arguments, fresh_home, wait_until_finished  # noqa: E402
from benchmarks.bench_training import machine  # noqa: E402


def main() -> None:
    args = data_arguments(__doc__.splitlines()[0]).parse_args()

    from jukebox.data import changes, versions
    from jukebox.data.store import load_current, read_data_dir, save_current, write_data_dir
    from jukebox.pipelines import automation
    from jukebox.registry.server.process import stop_server

    print(f"machine: {machine()}")
    settings, _ = fresh_home("jukebox-bench-loop-", args)
    versions.version_current(settings, "the first data")
    automation.switch_on(settings, start=False)
    try:
        save_current(changes.drop_rows(load_current(settings), 0.05), settings)
        started = time.perf_counter()
        version = versions.version_current(settings, "new charts")
        versioned = time.perf_counter() - started
        print(f"  {'version (DVC + git)':<24} {versioned:6.1f} s  -> {version.short}")

        detect_started = time.perf_counter()
        (run,) = automation.tick(settings)
        detected = time.perf_counter() - detect_started
        print(f"  {'detect (one tick)':<24} {detected:6.1f} s  -> run {run.id}")
        run_started = time.perf_counter()
        run = wait_until_finished(settings, run)
        ran = time.perf_counter() - run_started
        for task in sorted(run.tasks.values(), key=lambda t: t.started or 0):
            print(f"  {task.name:<24} {task.seconds or 0:6.1f} s  {task.state}")
        total = versioned + detected + ran
        print(
            f"  {'total':<24} {total:6.1f} s: {run.state}, registered version "
            f"{run.registered_version} (training run {ran:.1f} s)"
        )

        # What reading through DVC costs over reading the same tables from a plain directory.
        started = time.perf_counter()
        versions.read_version(settings, version.commit)
        through_dvc = time.perf_counter() - started
        plain = Path(tempfile.mkdtemp()) / "plain"
        write_data_dir(load_current(settings), plain)
        started = time.perf_counter()
        read_data_dir(plain)
        direct = time.perf_counter() - started
        overhead = versioned + max(0.0, through_dvc - direct)
        print(
            f"DVC/git overhead: {overhead:.1f} s of {total:.1f} s ({overhead / total:.0%}): "
            f"versioning {versioned:.1f} s, reading the version back {through_dvc:.1f} s vs "
            f"{direct:.1f} s from a directory"
        )
        print(f"load average now: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    finally:
        stop_server(settings)


if __name__ == "__main__":
    main()
