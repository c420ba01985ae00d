"""``python -m jukebox``: the operations of the app from a terminal.

Each command group lives in ``jukebox/cli/<group>.py`` and exposes ``register(subparsers)``,
which adds its parser and sets ``func`` to the function that runs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMAND_GROUPS = (
    "data",
    "train",
    "tune",
    "pipeline",
    "watch",
    "registry",
    "serve",
    "monitor",
    "explain",
    "loadtest",
    "scan",
    "canary",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m jukebox", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        # A group that fails to import is a bug to see at once, never a command quietly gone.
        importlib.import_module(f"jukebox.cli.{group}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
