"""``python -m jukebox train``: train, evaluate, export and verify one model from a terminal.

By default it trains on the current data set of ``JUKEBOX_HOME`` (generating the default synthetic
one when there is none), prints progress and the test metrics, and writes a verified bundle to
``JUKEBOX_HOME/models/<training id>/``. ``--no-export`` stops after training and evaluation (the
Export page or ``--export-only`` can export later). With ``--job-dir`` (how the Train page starts
it) it also reports progress into that job's ``status.json`` and stops cleanly when the job's
``STOP`` file appears.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import signal
import sys
import time
from pathlib import Path

from jukebox.model.network import ParamsError, TrainingParams

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1

_DEFAULTS = TrainingParams()


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train, evaluate and export a model",
        description=__doc__.split("\n\n")[1].replace("``", "'"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    hyper = parser.add_argument_group("network and training")
    hyper.add_argument("--epochs", type=int, default=_DEFAULTS.epochs)
    hyper.add_argument("--batch-size", type=int, default=_DEFAULTS.batch_size)
    hyper.add_argument("--learning-rate", type=float, default=_DEFAULTS.learning_rate)
    hyper.add_argument("--dropout", type=float, default=_DEFAULTS.dropout)
    hyper.add_argument(
        "--width", type=int, default=_DEFAULTS.width, help="units of the first hidden layer"
    )
    hyper.add_argument(
        "--depth", type=int, default=_DEFAULTS.depth, help="hidden layers (each doubles)"
    )
    hyper.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    data = parser.add_argument_group("data (default: the current data set of JUKEBOX_HOME)")
    source = data.add_mutually_exclusive_group()
    source.add_argument(
        "--songs", type=int, help="train on a fresh synthetic set of this many songs instead"
    )
    source.add_argument(
        "--data",
        type=Path,
        help="a directory holding song_properties.parquet and song_rankings.parquet",
    )
    data.add_argument("--data-seed", type=int, default=0, help="seed of the --songs set")
    data.add_argument(
        "--days", type=int, help="chart days of the --songs set (default: the full period)"
    )
    data.add_argument(
        "--countries", type=int, help="number of chart countries of the --songs set (default: all)"
    )
    output = parser.add_argument_group("output")
    output.add_argument(
        "--export",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="export to ONNX and verify after training (default: yes)",
    )
    output.add_argument("--training-id", help="name of the model directory (default: a new id)")
    output.add_argument(
        "--export-only",
        metavar="TRAINING_ID",
        help="do not train: export and verify the existing training of this id",
    )
    output.add_argument("--job-dir", type=Path, help="report progress into this job directory")
    parser.set_defaults(func=run)


def _load_data(args: argparse.Namespace, settings):
    if args.songs is not None:
        from jukebox.data.schema import CHART_COUNTRIES
        from jukebox.data.synthetic import N_DAYS, generate

        return generate(
            args.songs,
            args.data_seed,
            n_days=args.days or N_DAYS,
            countries=CHART_COUNTRIES[: args.countries] if args.countries else CHART_COUNTRIES,
        )
    if args.data is not None:
        from jukebox.model.datasets import load_directory

        return load_directory(args.data)
    from jukebox.data.store import ensure_current

    return ensure_current(settings)


def _data_version(args: argparse.Namespace, settings) -> str | None:
    """An id of the current data set's content, when training on it: one hash over its files.

    Until the data is versioned by DVC this is what the registry records as the data version;
    the same two tables always give the same id.
    """
    if args.songs is not None or args.data is not None:
        return None
    from jukebox.data.store import current_info

    files = (current_info(settings) or {}).get("files")
    if not files:
        return None
    listing = "".join(f"{name} {files[name]['sha256']}\n" for name in sorted(files))
    return "sha256:" + hashlib.sha256(listing.encode()).hexdigest()


def run(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.jobs import write_status

    job_dir: Path | None = args.job_dir

    def report(**fields) -> None:
        if job_dir is not None:
            write_status(job_dir, **fields)

    def fail(message: str, code: int) -> int:
        print(f"error: {message}", file=sys.stderr, flush=True)
        report(state="failed", phase="finished", error=message, updated=time.time())
        return code

    if args.export_only:
        return _export_only(args.export_only)
    report(state="running", phase="loading", updated=time.time())
    try:
        params = TrainingParams(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            dropout=args.dropout,
            width=args.width,
            depth=args.depth,
            seed=args.seed,
        )
    except ParamsError as error:
        return fail(str(error), EXIT_BAD_INPUT)
    report(params=params.to_dict())

    from jukebox.data.preparation import PreparationError
    from jukebox.model.progress import ConsolePrinter, StatusWriter, stop_requested
    from jukebox.model.training import TrainingError
    from jukebox.model.trainings import run_training

    settings = load_settings()
    try:
        data = _load_data(args, settings)
    except (ValueError, OSError) as error:
        return fail(f"could not load the data: {error}", EXIT_BAD_INPUT)
    if args.data is not None and args.data.resolve().parent == settings.staging_dir:
        shutil.rmtree(args.data, ignore_errors=True)  # handed over by the page: read once
    print(f"Data: {data.source} ({len(data.rankings):,} ranking rows)", flush=True)
    report(source=data.source)

    terminated = False

    def on_sigterm(_signum, _frame) -> None:
        nonlocal terminated
        terminated = True

    if job_dir is not None:
        signal.signal(signal.SIGTERM, on_sigterm)

    def should_stop() -> bool:
        return terminated or (job_dir is not None and stop_requested(job_dir))

    listeners = [ConsolePrinter()]
    if job_dir is not None:
        listeners.append(StatusWriter(job_dir))
    training_id = args.training_id or (job_dir.name if job_dir is not None else None)

    def on_phase(name: str) -> None:
        print(f"[{name}]", flush=True)
        report(phase=name, updated=time.time())

    try:
        record = run_training(
            settings,
            data,
            params,
            training_id=training_id,
            listeners=listeners,
            should_stop=should_stop,
            export=args.export,
            on_phase=on_phase,
            data_version=_data_version(args, settings),
        )
    except (PreparationError, TrainingError, ParamsError) as error:
        return fail(str(error), EXIT_BAD_INPUT)
    except Exception as error:  # the job's status must say it failed, whatever happened
        fail(f"{type(error).__name__}: {error}", EXIT_FAILED)
        raise

    _print_results(record)
    stopped = record.metrics.get("training", {}).get("stopped", False)
    report(
        state="stopped" if stopped else "done",
        phase="finished",
        progress=1.0,
        training_id=record.id,
        model_dir=str(record.path),
        results=_headline(record.metrics),
        verification=record.verification or None,
        updated=time.time(),
    )
    if args.export and not record.verification_passed:
        print("error: the exported model failed verification (see above).", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _export_only(training_id: str) -> int:
    from jukebox.config import load_settings
    from jukebox.model.bundle import BundleError
    from jukebox.model.trainings import export_training, load_training, training_dir

    path = training_dir(load_settings(), training_id)
    if load_training(path) is None:
        print(f"error: there is no training {training_id!r} in {path.parent}.", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        export_training(path)
    except BundleError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    record = load_training(path)
    _print_results(record)
    return 0 if record.verification_passed else EXIT_FAILED


def _headline(metrics: dict) -> dict:
    from jukebox.model.evaluation import SUMMARY_METRICS

    keys = (*SUMMARY_METRICS, "bayes_accuracy", "accuracy_to_bayes")
    return {k: metrics.get(k) for k in keys}


def _print_results(record) -> None:
    metrics = record.metrics
    print("\nTest metrics:")
    for name, value in _headline(metrics).items():
        if value is not None:
            print(f"  {name:<18} {value:.4f}")
    chance = metrics.get("data", {}).get("chance_accuracy")
    if chance is not None:
        print(f"  {'chance':<18} {chance:.4f}  (always the most frequent country)")
    training = metrics.get("training", {})
    print(
        f"Trained {training.get('epochs_run')} epoch(s) in {training.get('seconds', 0):.1f} s"
        + (" (stopped early)" if training.get("stopped") else "")
    )
    verification = record.verification
    if verification:
        print(
            f"Export verification: {'PASSED' if verification.get('passed') else 'FAILED'}"
            f"  onnxruntime max diff {verification.get('onnxruntime_max_abs_diff')}"
            f"  OpenVINO max diff {verification.get('openvino_max_abs_diff')}"
        )
        for problem in verification.get("problems", []):
            print(f"  problem: {problem}")
    print(f"Model directory: {record.path}", flush=True)
