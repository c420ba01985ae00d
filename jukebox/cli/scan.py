"""``python -m jukebox scan PATH``: scan a model file or a bundle directory with modelscan.

Prints modelscan's findings, the files it scanned and those it did not (it has no scanner for
ONNX), and exits 1 when a finding is of medium severity or higher or a model file could not be
scanned: what registration and deployment refuse. Exits 0 otherwise, low findings included, and
2 when PATH does not exist.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from jukebox.config import load_settings
from jukebox.errors import JukeboxError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="scan a model file or bundle with modelscan; non-zero exit on medium or higher",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("path", type=Path, help="a model file or a bundle directory")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jukebox.model.scan import scan_cache_dir, scan_path

    try:
        report = scan_path(args.path, cache_dir=scan_cache_dir(load_settings()))
    except JukeboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(report.to_json())
        return 0 if report.passed else 1
    print(f"modelscan {report.modelscan_version} on {report.path}:")
    for issue in report.issues:
        print(f"  {issue}")
    for error in report.errors:
        print(f"  could not scan: {error}")
    if not report.issues and not report.errors:
        print("  No issues found.")
    print(f"Scanned: {', '.join(report.scanned) or 'no file modelscan has a scanner for'}")
    if report.unscanned_models:
        print(f"Not scanned (modelscan has no ONNX scanner): {', '.join(report.unscanned_models)}")
    others = [s for s in report.not_scanned if s.source not in report.unscanned_models]
    if others:
        print(f"Not model files: {', '.join(s.source for s in others)}")
    if report.passed:
        print("Passed: no finding of medium severity or higher.")
        return 0
    print(
        "Refused: registration and deployment refuse these files "
        "(a finding of medium severity or higher, or a model file that could not be scanned)."
    )
    return 1
