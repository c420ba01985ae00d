"""``python -m jukebox monitor ...``: run, start, stop and check the embedded monitoring service
(the TrustyAI REST API over the payload log in JUKEBOX_HOME)."""

from __future__ import annotations

import argparse

from jukebox.config import load_settings
from jukebox.errors import JukeboxError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("monitor", help="the embedded TrustyAI-compatible monitor")
    commands = parser.add_subparsers(dest="monitor_command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve the monitoring API in the foreground until Ctrl-C or SIGTERM",
        description="The bearer token, if any, is read from TRUSTYAI_TOKEN.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    serve.add_argument(
        "--interval", type=float, default=5.0, help="seconds between scheduled metric rounds"
    )
    serve.add_argument("--job-dir", help=argparse.SUPPRESS)
    serve.set_defaults(func=_serve)
    start = commands.add_parser("start", help="start the background service (or reuse it)")
    start.set_defaults(func=_start)
    stop = commands.add_parser("stop", help="stop the background service")
    stop.set_defaults(func=_stop)


def _serve(args: argparse.Namespace) -> int:
    from pathlib import Path

    from jukebox.monitoring.paths import monitoring_dir
    from jukebox.monitoring.process import serve

    settings = load_settings()
    try:
        return serve(
            monitoring_dir(settings),
            host=args.host,
            port=args.port,
            token=settings.trustyai_token,
            alert_after=settings.drift_alert_after,
            interval=args.interval,
            job_dir=Path(args.job_dir) if args.job_dir else None,
        )
    except OSError as error:
        print(
            f"Cannot serve the monitoring API on {args.host}:{args.port}: "
            f"{error.strerror or error}. Choose another --port (0 picks a free one)."
        )
        return 1


def _start(args: argparse.Namespace) -> int:
    from jukebox.monitoring.process import ensure_service

    try:
        print(ensure_service(load_settings()))
    except JukeboxError as error:
        print(error)
        return 1
    return 0


def _stop(args: argparse.Namespace) -> int:
    from jukebox.monitoring.process import stop_service

    print(f"stopped {stop_service(load_settings())} monitoring service(s)")
    return 0
