"""``python -m jukebox registry ...``: run, start, stop and check the embedded model registry."""

from __future__ import annotations

import argparse
from pathlib import Path

from jukebox.config import load_settings
from jukebox.errors import JukeboxError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("registry", help="the embedded Kubeflow-compatible registry")
    commands = parser.add_subparsers(dest="registry_command", required=True)

    serve = commands.add_parser(
        "serve",
        help="serve the registry in the foreground until Ctrl-C or SIGTERM",
        description="The bearer token, if any, is read from MODEL_REGISTRY_TOKEN.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    serve.add_argument("--db", type=Path, help="SQLite file (default: JUKEBOX_HOME's registry)")
    serve.add_argument("--job-dir", type=Path, help=argparse.SUPPRESS)
    serve.set_defaults(func=_serve)

    start = commands.add_parser("start", help="start the background registry (or reuse it)")
    start.set_defaults(func=_start)
    stop = commands.add_parser("stop", help="stop the background registry")
    stop.set_defaults(func=_stop)
    status = commands.add_parser("status", help="say whether the background registry runs")
    status.set_defaults(func=_status)


def _serve(args: argparse.Namespace) -> int:
    from jukebox.registry.server.process import serve

    settings = load_settings()
    try:
        return serve(
            args.db or settings.registry_db,
            host=args.host,
            port=args.port,
            token=settings.registry_token,
            job_dir=args.job_dir,
        )
    except OSError as error:
        print(
            f"Cannot serve the registry on {args.host}:{args.port}: {error.strerror or error}."
            " Choose another --port (0 picks a free one)."
        )
        return 1


def _start(args: argparse.Namespace) -> int:
    from jukebox.registry.server.process import ensure_server

    try:
        print(ensure_server(load_settings()))
    except JukeboxError as error:
        print(error)
        return 1
    return 0


def _stop(args: argparse.Namespace) -> int:
    from jukebox.registry.server.process import stop_server

    print(f"stopped {stop_server(load_settings())} registry server(s)")
    return 0


def _status(args: argparse.Namespace) -> int:
    from jukebox.registry.server.process import RegistryServerStatus, running_servers

    jobs = running_servers(load_settings())
    for job in jobs:
        print(f"running: {RegistryServerStatus.read(job).url or 'starting'} (pid {job.pid})")
    if not jobs:
        print("not running")
    return 0 if jobs else 1
