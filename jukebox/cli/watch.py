"""``python -m jukebox watch``: continuous training and schedules, in the foreground.

Each new data version starts one training pipeline run for exactly that version, also those
made while it was stopped (``--from-now-on`` skips them); each scheduled run starts when it is
due. The app runs the same loop as a background job when
continuous training is switched on (Data versions page).
"""

from __future__ import annotations

import argparse
import signal


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "watch", help="start a training run for each new data version, and scheduled data runs"
    )
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between looks")
    parser.add_argument("--once", action="store_true", help="look once, then exit")
    parser.add_argument(
        "--from-now-on",
        action="store_true",
        help="train only the versions made from now on, not those made while it was stopped",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.pipelines import automation

    settings = load_settings()
    # Watching is continuous training switched on: the versions made while it was stopped are
    # trained now (the versions made before the very first switch-on are history).
    automation.switch_on(settings, start=False, from_now_on=args.from_now_on)

    def said(run) -> None:
        ref = run.arguments.get("source_options", {}).get("ref")
        what = f"data version {ref[:7]}" if ref else f"{run.arguments.get('source')} data"
        print(f"started {run.pipeline} run {run.id} on {what}", flush=True)

    if args.once:
        for started in automation.tick(settings):
            said(started)
        return 0
    stopping = False

    def stop(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Watching the data versions of {settings.data_repo} (Ctrl-C to stop)…", flush=True)
    automation.watch(settings, interval=args.interval, should_stop=lambda: stopping, on_start=said)
    return 0
