"""``python -m jukebox loadtest``: a bounded load test of a deployment, second by second.

    python -m jukebox loadtest --deployment jukebox --users 10 --duration 30
    python -m jukebox loadtest --url http://127.0.0.1:9000 --model jukebox --request songs

``--request workshop`` (the default) sends the workshop's ``locustfile.py`` request;
``songs`` sends real songs of the current data set in turn, one per request. Users are 1 to
64, the duration 1 to 300 s; it stops by itself. Errors a user can cause print one sentence and
exit with 2.
"""

from __future__ import annotations

import argparse
import sys

from jukebox.config import load_settings
from jukebox.errors import JukeboxError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "loadtest",
        help="a bounded load test of a deployment: requests/s, latency, errors per second",
        description=__doc__.split("\n\n")[0],
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--deployment", help="a local deployment's name")
    target.add_argument("--url", help="a server's address (with --model)")
    parser.add_argument("--model", help="the served model's name (with --url)")
    parser.add_argument("--users", type=int, default=10, help="connections at once (10)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (10)")
    parser.add_argument(
        "--request", choices=("workshop", "songs"), default="workshop",
        help="the workshop's locustfile request, or real songs of the current data set",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from jukebox.serving.client import base_url, model_path
    from jukebox.serving.deploy import get_deployment
    from jukebox.serving.loadtest import run_load, song_requests, workshop_request

    settings = load_settings()
    try:
        if args.deployment:
            deployment = get_deployment(settings, args.deployment)
            if not deployment.ready:
                raise JukeboxError(f"{deployment.name} is {deployment.state}, not answering.")
            endpoint, model = deployment.endpoint, deployment.name
        else:
            if not args.model:
                raise JukeboxError("--url needs --model: the name the server serves.")
            endpoint, model = args.url, args.model
        bodies = song_requests(settings) if args.request == "songs" else [workshop_request()]
        url = base_url(endpoint) + model_path(model) + "/infer"
        print(f"{args.users} users for {args.duration:g} s against {url}", flush=True)
        report = run_load(
            url, bodies, users=args.users, duration=args.duration,
            token=settings.serving_token, on_second=_print_second,
        )  # fmt: skip
    except JukeboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.sentence)
    for said in report.first_errors:
        print(f"  {said}")
    return 0


def _print_second(second) -> None:
    latency = f"p50 {second.p50_ms:6.1f} ms  p99 {second.p99_ms:6.1f} ms" if second.p50_ms else ""
    errors = f"  errors {second.errors}" if second.errors else ""
    print(f"{second.second:4d} s  {second.requests:6d} req  {latency}{errors}", flush=True)
