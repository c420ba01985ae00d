"""``python -m jukebox serve``: an Open Inference Protocol v2 server for one model version.

    python -m jukebox serve --bundle DIR [--name NAME] [--version V] --port N [--grpc-port G]
    python -m jukebox serve --model NAME --version V --port N [--grpc-port G]

``--bundle`` serves a bundle directory; ``--model`` fetches a registered version from object
storage (every sha256 checked) and serves it. Either way its files are scanned with modelscan
first (:mod:`jukebox.model.scan`), and a finding of medium or higher refuses to serve them
before anything is loaded. ``--port 0`` picks a free port; the address is
printed, and written to ``status.json`` when the server runs as a background job
(``--job-dir``). ``--grpc-port`` also serves the protocol's gRPC form
(``inference.GRPCInferenceService``) from the same process, over the same loaded model. The
token comes from ``--token`` or ``JUKEBOX_SERVING_TOKEN``; prefer the
variable, since a command line is visible to every user of the machine.

``--workers N`` runs N server processes behind the one port (Linux; see
:mod:`jukebox.serving.workers`): throughput grows with cores. Each worker counts its own
``/metrics`` and writes its own payload-log segments; gRPC is served by the first worker only.

Every answered inference, REST or gRPC, goes to the payload logger that
:func:`_inference_logger` chooses, unless ``--no-log``. ``GET /metrics`` counts requests as
OpenVINO Model Server does, for REST and gRPC together.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

from jukebox.config import load_settings
from jukebox.errors import JukeboxError
from jukebox.serving.inference_log import InferenceLogger

DEFAULT_NAME = "jukebox"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve a model over the Open Inference Protocol v2 (REST)",
        description=__doc__.split("\n\n")[0],
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--bundle", type=Path, help="a bundle directory to serve")
    source.add_argument("--model", help="a registered model to fetch and serve (with --version)")
    parser.add_argument(
        "--version",
        help="the registered version to serve (with --model), or the version to report for a "
        "bundle (default 1)",
    )
    parser.add_argument(
        "--name", help=f"model name in URLs (default: the --model name, or {DEFAULT_NAME!r})"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0 picks a free one)")
    parser.add_argument(
        "--grpc-port",
        type=int,
        help="also serve inference.GRPCInferenceService on this port (0 picks a free one)",
    )
    parser.add_argument("--sha256", help="expected sha256 of model.onnx; refuse to serve others")
    parser.add_argument("--token", help="require this bearer token (or JUKEBOX_SERVING_TOKEN)")
    parser.add_argument("--max-body-mb", type=float, default=64.0, help="largest request body")
    parser.add_argument(
        "--no-log",
        action="store_true",
        help="do not hand inferences to the payload log (monitoring sees none of them)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (Linux); /metrics then counts per worker",
    )
    parser.add_argument("--worker-of", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--job-dir", type=Path, help="report state to this job's status.json")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here so that `python -m jukebox --help` stays fast.
    from jukebox.model.scan import refuse_unsafe, scan_cache_dir, scan_path
    from jukebox.serving.dataplane import DataPlane
    from jukebox.serving.deploy import report_server_status
    from jukebox.serving.runtime import load_bundle_model
    from jukebox.serving.server import make_server, serve_until_signalled
    from jukebox.serving.workers import check_workers

    settings = load_settings()
    token = args.token or settings.serving_token
    extra_worker = args.worker_of is not None
    if extra_worker:  # one more worker of a first one: it reports nothing and serves no gRPC
        from jukebox.serving.workers import die_with_parent

        die_with_parent(args.worker_of)
        args.job_dir, args.grpc_port, args.workers = None, None, 1

    def report(**fields) -> None:
        report_server_status(args.job_dir, **fields)

    report(state="starting", pid=os.getpid())
    if args.model and not args.version:
        return _fail(report, "--model needs --version: say which registered version to serve")
    name = args.name or args.model or DEFAULT_NAME
    version = str(args.version or "1")
    try:
        check_workers(args.workers)
        if args.bundle:
            bundle_dir, expected = args.bundle, args.sha256
        else:
            bundle_dir, expected = _fetch(args.model, version, args.sha256, settings)
        # modelscan before anything loads: a bundle whose files fail the scan is never loaded.
        refuse_unsafe(scan_path(bundle_dir, cache_dir=scan_cache_dir(settings)), "serve")
        model = load_bundle_model(bundle_dir, name=name, version=version, expected_sha256=expected)
        # One data plane for REST and gRPC: one logger, and /metrics counts both.
        plane = DataPlane(model, inference_logger=_inference_logger(args, settings))
        server = make_server(
            model,
            host=args.host,
            port=args.port,
            token=token,
            max_body=int(args.max_body_mb * 1024 * 1024),
            plane=plane,
            reuse_port=args.workers > 1 or extra_worker,
        )
    except JukeboxError as error:  # a bad bundle, registry or storage: the message says why
        return _fail(report, str(error))
    except OSError as error:
        return _fail(
            report,
            f"cannot listen on {args.host}:{args.port} ({error.strerror or error}): "
            "choose another port, or 0 for a free one",
        )
    grpc_server = grpc_port = None
    if args.grpc_port is not None:
        from jukebox.serving.grpc_server import make_grpc_server

        try:
            grpc_server, grpc_port = make_grpc_server(
                model,
                host=args.host,
                port=args.grpc_port,
                token=token,
                max_body=server.max_body,
                plane=plane,
            )
        except (OSError, RuntimeError) as error:
            server.server_close()
            return _fail(
                report,
                f"cannot serve gRPC on {args.host}:{args.grpc_port} ({error}): "
                "choose another --grpc-port, or 0 for a free one",
            )

    workers = []
    if args.workers > 1:
        from jukebox.serving.deploy import TOKEN_ENV
        from jukebox.serving.workers import start_workers, worker_command

        command = worker_command(
            bundle=Path(bundle_dir).resolve(),
            name=name,
            version=version,
            host=args.host,
            port=server.port,
            sha256=model.sha256,
            max_body_mb=args.max_body_mb,
            log=plane.inference_logger is not None,
        )
        try:
            workers = start_workers(
                [command] * (args.workers - 1), env={TOKEN_ENV: token} if token else None
            )
        except JukeboxError as error:
            server.server_close()
            if grpc_server is not None:
                grpc_server.stop(grace=0)
            return _fail(report, str(error))

    endpoint = server.url

    def ready() -> None:
        # The status is written before the announcement: whoever waits for the printed line
        # (a script, the Deploy page) may read the status at once.
        report(
            state="ready",
            pid=os.getpid(),
            host=args.host,
            port=server.port,
            endpoint=endpoint,
            model=name,
            version=version,
            registered_model=args.model,
            sha256=model.sha256,
            bundle=str(Path(bundle_dir).resolve()),
            labels=list(model.labels),
            auth=bool(token),
            grpc_port=grpc_port,
            logging=plane.inference_logger is not None,
            workers=args.workers,
            worker_pids=[os.getpid(), *(w.pid for w in workers)],
        )
        print(f"Serving {name} version {version} at {endpoint}", flush=True)
        if grpc_server is not None:
            print(f"gRPC (inference.GRPCInferenceService) at {args.host}:{grpc_port}", flush=True)
        if workers:
            print(f"{args.workers} workers share the port: pids {pids()}", flush=True)
        if plane.inference_logger is not None and not extra_worker:
            threading.Thread(
                target=_watch, args=(settings, name, bundle_dir, version), daemon=True
            ).start()

    def pids() -> str:
        return ", ".join(str(pid) for pid in [os.getpid(), *(w.pid for w in workers)])

    def draining() -> None:
        from jukebox.serving.workers import ask_to_stop

        ask_to_stop(workers)  # they drain beside this one

    def stopped() -> None:
        if workers:
            from jukebox.serving.workers import stop_workers

            stop_workers(workers)
        if grpc_server is not None:
            grpc_server.stop(grace=5).wait()
        if plane.inference_logger is not None:
            plane.inference_logger.close()  # write what is still pending
        report(state="stopped")

    serve_until_signalled(server, on_ready=ready, on_stop=stopped, on_draining=draining)
    print("Stopped.", flush=True)
    return 0


def _inference_logger(args: argparse.Namespace, settings) -> InferenceLogger | None:
    """The payload logger this server hands every answered inference to, or None with
    ``--no-log``: the one place where serving meets monitoring. With ``TRUSTYAI_URL`` the
    inferences go to that TrustyAI service as KServe's logger sends them (CloudEvents); else to
    the bounded payload log in ``JUKEBOX_HOME``, which the embedded service reads."""
    if args.no_log:
        return None
    if settings.trustyai_url:
        from jukebox.monitoring.forwarder import CloudEventForwarder

        return CloudEventForwarder(settings.trustyai_url, settings.trustyai_token)
    from jukebox.monitoring.paths import monitoring_dir
    from jukebox.monitoring.payload_log import PayloadLog

    return PayloadLog(monitoring_dir(settings))


def _watch(settings, name: str, bundle_dir: Path, version: str) -> None:
    """Have the monitoring service watch this deployment (its training reference and meanshift),
    as the workshop's setup notebook does by hand; in a thread of its own once the server is
    ready, since starting the embedded service takes a second or two. A failure is said, and
    serving goes on: monitoring is never a reason not to answer."""
    from jukebox.monitoring.attach import watch_deployment

    try:
        print(watch_deployment(settings, name, bundle_dir, version), flush=True)
    except (JukeboxError, OSError, ValueError) as error:
        print(f"Monitoring is not watching {name}: {error}", file=sys.stderr, flush=True)


def _fetch(model: str, version: str, sha256: str | None, settings) -> tuple[Path, str | None]:
    """Download a registered version (sha256 checked by the registry façade) and return it with
    the sha256 the registry recorded for ``model.onnx``, which the server checks again."""
    from jukebox.registry.fetch import fetch_bundle
    from jukebox.registry.versions import get_version

    info = get_version(model, version, settings)
    path = fetch_bundle(model, version, settings=settings)
    return path, sha256 or info.onnx_sha256


def _fail(report, message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    report(state="failed", error=message)
    return 2
