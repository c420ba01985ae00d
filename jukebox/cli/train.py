"""``python -m jukebox train``: train, evaluate, export and verify one model from a terminal.

By default it trains on the current data set of ``JUKEBOX_HOME`` (generating the default synthetic
one when there is none), prints progress and the test metrics, and writes a verified bundle to
``JUKEBOX_HOME/models/<training id>/``. ``--no-export`` stops after training and evaluation (the
Export page or ``--export-only`` can export later). With ``--job-dir`` (how the Train page starts
it) it also reports progress into that job's ``status.json`` and stops cleanly when the job's
``STOP`` file appears.

Every training is a run of an experiment in the model registry (``--experiment``, default
``jukebox``; source ``page`` with ``--job-dir``, else ``cli``): its parameters, data version,
each epoch's figures, the final test and validation figures and the training directory. A
registry that cannot log it is a warning; the training goes on.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from jukebox.model.network import ROWS, SCALINGS, ParamsError, TrainingParams

if TYPE_CHECKING:
    from jukebox.data.songdata import SongData
    from jukebox.model.runs import TrainingRecord

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1

_DEFAULTS = TrainingParams()


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """The network, training and data flags, shared by ``train`` and ``pipeline run``."""
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
    hyper.add_argument(
        "--rows",
        choices=ROWS,
        default=_DEFAULTS.rows,
        help="one training row per song, weighted by its chart rows (same loss, far fewer "
        "rows), or every chart row as in the workshop",
    )
    hyper.add_argument(
        "--scaling",
        choices=SCALINGS,
        default=_DEFAULTS.scaling,
        help="each feature through its training quantiles onto a normal score, or min-max",
    )
    hyper.add_argument(
        "--early-stopping",
        action=argparse.BooleanOptionalAction,
        default=_DEFAULTS.early_stopping,
        help="stop once the validation loss has not improved for --patience epochs, keeping "
        "the best epoch's weights (--epochs is then the most it runs)",
    )
    hyper.add_argument("--patience", type=int, default=_DEFAULTS.patience)
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


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train, evaluate and export a model",
        description=__doc__.split("\n\n")[1].replace("``", "'"),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_training_arguments(parser)
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
    output.add_argument(
        "--experiment",
        default="jukebox",
        help="the model registry experiment this training is logged to as a run",
    )
    parser.set_defaults(func=run)


def params_from(args: argparse.Namespace) -> TrainingParams:
    """The training parameters the flags give (``ParamsError`` says which one is wrong)."""
    return TrainingParams(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        dropout=args.dropout,
        width=args.width,
        depth=args.depth,
        seed=args.seed,
        rows=args.rows,
        scaling=args.scaling,
        early_stopping=args.early_stopping,
        patience=args.patience,
    )


def source_of(args: argparse.Namespace) -> tuple[str, dict]:
    """The data source the flags name, as ``data.store.fetch`` and the pipelines take it:
    ``synthetic`` (``--songs``), ``directory`` (``--data``) or ``current``."""
    if args.songs is not None:
        options = {"songs": args.songs, "seed": args.data_seed}
        return "synthetic", options | {"days": args.days or 0, "countries": args.countries or 0}
    if args.data is not None:
        return "directory", {"path": str(args.data.resolve())}
    return "current", {}


def load_data(args: argparse.Namespace, settings) -> tuple[SongData, str | None]:
    """The data set the flags name, and its content id when it is the current data set.

    The content id (one hash over the data set's files) is what the registry records as the
    data version until the data is versioned by DVC; the same two tables always give the same id.
    """
    from jukebox.data import store

    kind, options = source_of(args)
    data = store.fetch(kind, options, settings)
    if kind != "current":
        return data, None
    return data, store.content_id(store.current_info(settings))


def run(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.errors import JukeboxError
    from jukebox.model.jobs import is_staged, stop_requested, update_status

    job_dir: Path | None = args.job_dir

    def fail(message: str, code: int) -> int:
        print(f"error: {message}", file=sys.stderr, flush=True)
        update_status(job_dir, state="failed", phase="finished", error=message)
        return code

    if args.export_only:
        return _export_only(args.export_only)
    update_status(job_dir, state="running", phase="loading")
    try:
        params = params_from(args)
    except ParamsError as error:
        return fail(str(error), EXIT_BAD_INPUT)
    from jukebox.pipelines.params import source_problems

    problems = source_problems(*source_of(args))
    if not args.experiment.strip():
        problems.append("--experiment needs a name (the default is jukebox).")
    if problems:
        return fail(" ".join(problems), EXIT_BAD_INPUT)
    update_status(job_dir, params=params.to_dict())

    from jukebox.jobs import new_job_id
    from jukebox.model.progress import ConsolePrinter, StatusWriter
    from jukebox.model.workflow import run_training

    settings = load_settings()
    try:
        data, data_version = load_data(args, settings)
    except (JukeboxError, OSError) as error:
        return fail(f"could not load the data: {error}", EXIT_BAD_INPUT)
    finally:
        if args.data is not None and is_staged(settings, args.data):
            shutil.rmtree(args.data, ignore_errors=True)  # handed over by the page: read once
    print(f"Data: {data.source} ({len(data.rankings):,} ranking rows)", flush=True)
    update_status(job_dir, source=data.source, bayes_accuracy=data.bayes_accuracy)

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
    training_id = args.training_id or (job_dir.name if job_dir is not None else new_job_id())

    def on_phase(name: str) -> None:
        print(f"[{name}]", flush=True)
        update_status(job_dir, phase=name)

    def warn(sentence: str) -> None:
        print(f"warning: {sentence}", flush=True)
        update_status(job_dir, tracking=sentence)

    from jukebox.registry.tracking import finish_training, training_run

    try:
        with training_run(
            settings,
            params=params.to_dict(),
            source="page" if job_dir is not None else "cli",
            experiment=args.experiment,
            name=training_id,
            data_version=data_version,
            warn=warn,
        ) as tracker:
            if tracker is not None:
                run = tracker.run
                print(f"Logged as run {run.name} of experiment {run.experiment}", flush=True)
                update_status(job_dir, run=run.to_dict())
                listeners.append(tracker)
            record = run_training(
                settings,
                data,
                params,
                training_id=training_id,
                listeners=listeners,
                should_stop=should_stop,
                export=args.export,
                on_phase=on_phase,
                data_version=data_version,
            )
            finish_training(settings, tracker, record, warn=warn)
    except JukeboxError as error:
        return fail(str(error), EXIT_BAD_INPUT)
    except Exception as error:  # the job's status must say it failed, whatever happened
        fail(f"{type(error).__name__}: {error}", EXIT_FAILED)
        raise

    _print_results(record)
    update_status(
        job_dir,
        state="stopped" if record.report.fit.stopped else "done",
        phase="finished",
        progress=1.0,
        training_id=record.id,
        model_dir=str(record.path),
        results=record.report.evaluation.headline(),
        verified=record.verification_passed if record.verification else None,
    )
    if args.export and not record.verification_passed:
        print("error: the exported model failed verification (see above).", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _export_only(training_id: str) -> int:
    from jukebox.config import load_settings
    from jukebox.errors import JukeboxError
    from jukebox.model.runs import load_training, training_dir
    from jukebox.model.workflow import export_training

    path = training_dir(load_settings(), training_id)
    if load_training(path) is None:
        print(f"error: there is no training {training_id!r} in {path.parent}.", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        record = export_training(path)
    except JukeboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    _print_results(record)
    return 0 if record.verification_passed else EXIT_FAILED


def _print_results(record: TrainingRecord) -> None:
    report = record.report
    print("\nTest metrics:")
    for name, value in report.evaluation.headline().items():
        if value is not None:
            print(f"  {name:<18} {value:.4f}")
    print(f"  {'chance':<18} {report.data.chance_accuracy:.4f}  (always the most frequent country)")
    print(
        f"Trained {report.fit.epochs_run} epoch(s) in {report.fit.seconds:.1f} s"
        + (" (stopped early)" if report.fit.stopped else "")
    )
    verification = report.verification
    if verification is not None:
        print(
            f"Export verification: {'PASSED' if verification.passed else 'FAILED'}"
            f"  onnxruntime max diff {verification.onnxruntime_max_abs_diff}"
            f"  OpenVINO max diff {verification.openvino_max_abs_diff}"
        )
        for problem in verification.problems:
            print(f"  problem: {problem}")
    print(f"Model directory: {record.path}", flush=True)
