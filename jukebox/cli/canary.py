"""``python -m jukebox serve-canary``: the router of a canary rollout (started as a job by
:func:`jukebox.serving.canary.start_canary`, not usually by hand).

    python -m jukebox serve-canary --name NAME --primary URL --primary-version V \\
        --canary URL --canary-version W --percent 20 [--port N] [--seed S] [--job-dir DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve-canary",
        help="route a deployment's requests between two versions' servers by weight",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("--name", required=True, help="the deployment (model name in its URLs)")
    parser.add_argument("--primary", required=True, help="the serving version's server URL")
    parser.add_argument("--primary-version", required=True)
    parser.add_argument("--canary", required=True, help="the canary version's server URL")
    parser.add_argument("--canary-version", required=True)
    parser.add_argument("--percent", type=float, required=True, help="the canary's share, 0-100")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, help="seed the per-request draw (reproducible splits)")
    parser.add_argument("--job-dir", type=Path, help="where to report status (set by jobs)")
    parser.add_argument("--primary-job-dir", type=Path, help="the primary server's job directory")
    parser.add_argument("--canary-job-dir", type=Path, help="the canary server's job directory")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jukebox.serving.canary import run_router

    run_router(
        args.name,
        (args.primary, args.primary_version),
        (args.canary, args.canary_version),
        args.percent,
        host=args.host,
        port=args.port,
        seed=args.seed,
        job_dir=args.job_dir,
        upstream_job_dirs=(args.primary_job_dir, args.canary_job_dir),
    )
    return 0
