"""How long modelscan makes a user wait: ``python -m jukebox scan`` on a bundle, cold and cached.

Prints: the machine; for the bundle given (a training's directory, with ``model.keras``), the
wall time of ``python -m jukebox scan`` in a fresh process with an empty cache (modelscan's
scanners import TensorFlow), the same again with the report cached by sha256, and the time of
the scan itself inside one process once modelscan is imported.

    python benchmarks/bench_scan.py .jukebox/models/<training id>

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


def cli_seconds(bundle: Path, home: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "jukebox", "scan", str(bundle)],
        cwd=ROOT,
        env={**os.environ, "JUKEBOX_HOME": str(home)},
        capture_output=True,
        check=False,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="a bundle directory with model.keras")
    args = parser.parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    files = sorted(p.name for p in args.bundle.iterdir() if p.is_file())
    print(f"bundle: {args.bundle} ({', '.join(files)})")
    with tempfile.TemporaryDirectory() as home:
        print(
            f"jukebox scan, new process, empty cache: {cli_seconds(args.bundle, Path(home)):.2f} s"
        )
        print(
            f"jukebox scan, new process, cached:      {cli_seconds(args.bundle, Path(home)):.2f} s"
        )

    from jukebox.model.scan import scan_path

    started = time.perf_counter()
    scan_path(args.bundle)
    print(
        f"first scan in this process (imports modelscan's scanners): "
        f"{time.perf_counter() - started:.2f} s"
    )
    started = time.perf_counter()
    report = scan_path(args.bundle)
    print(f"scan once imported: {1000 * (time.perf_counter() - started):.0f} ms")
    print(f"report: {report.summary()}")


if __name__ == "__main__":
    main()
