"""``python -m jukebox tune``: search the network's hyperparameters, keep and register the best.

Runs ``--trials`` trainings on the current data set of ``JUKEBOX_HOME`` (or ``--songs``,
``--data``), each an experiment run of ``--experiment`` (default ``search-<id>``), judged by
the validation loss on songs held out whole, clearly worse ones pruned after a few epochs. It
prints one line per trial and the best, trains the best again, evaluates, exports and verifies
it, then registers it through the production gate and prints the gate's sentence
(``--no-register`` stops before). Ctrl-C stops the running trial (its run ends KILLED) and the
search; the best so far is still kept. ``--compile FILE`` writes the KFP search pipeline
instead of searching here.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

from jukebox.cli.train import load_data, source_of

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1

_RANGE_FLAGS = {
    "width": ("--width-min", "--width-max", int),
    "depth": ("--depth-min", "--depth-max", int),
    "dropout": ("--dropout-min", "--dropout-max", float),
    "learning_rate": ("--lr-min", "--lr-max", float),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tune",
        help="search hyperparameters; keep, export and register the best",
        description=__doc__.split("\n\n")[1].replace("``", "'"),
    )
    search = parser.add_argument_group("search")
    search.add_argument("--trials", type=int, default=10, help="trainings to try (default 10)")
    search.add_argument("--experiment", help="experiment of the trials' runs")
    search.add_argument(
        "--space",
        help="the search space as JSON, e.g. '{\"width\": [8, 64]}' (defaults for the rest)",
    )
    for name, (low, high, kind) in _RANGE_FLAGS.items():
        label = name.replace("_", " ")
        search.add_argument(low, type=kind, help=f"lowest {label} tried")
        search.add_argument(high, type=kind, help=f"highest {label} tried")
    search.add_argument("--batch-sizes", help="batch sizes to choose from, e.g. 64,128,256")
    search.add_argument("--epochs", type=int, help="most epochs one trial runs (default 20)")
    search.add_argument("--patience", type=int, help="early stopping's patience (default 3)")
    search.add_argument("--seed", type=int, help="training seed of every trial (default 42)")
    search.add_argument("--search-seed", type=int, default=0, help="seed of the TPE sampler")
    data = parser.add_argument_group("data (default: the current data set of JUKEBOX_HOME)")
    source = data.add_mutually_exclusive_group()
    source.add_argument("--songs", type=int, help="a fresh synthetic set of this many songs")
    source.add_argument("--data", type=Path, help="a directory of the two Parquet tables")
    data.add_argument("--data-seed", type=int, default=0, help="seed of the --songs set")
    data.add_argument("--days", type=int, help="chart days of the --songs set")
    data.add_argument("--countries", type=int, help="chart countries of the --songs set")
    output = parser.add_argument_group("registration")
    output.add_argument("--model-name", default="jukebox")
    output.add_argument(
        "--tolerance", type=float, default=0.01, help="how much worse than production may pass"
    )
    output.add_argument(
        "--register",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="register the best through the production gate (default: yes)",
    )
    output.add_argument("--job-dir", type=Path, help="report progress into this job directory")
    kfp = parser.add_argument_group("Kubeflow Pipelines")
    kfp.add_argument("--compile", type=Path, metavar="FILE", help="write the search pipeline")
    kfp.add_argument(
        "--parallelism", type=int, default=2, help="trials the pipeline runs at once (default 2)"
    )
    parser.set_defaults(func=run)


def space_from(args: argparse.Namespace):
    """The search space the flags give: ``--space`` JSON, then each range flag over it."""
    from jukebox.tuning.space import SearchSpace, SpaceError

    data: dict = {}
    if args.space:
        try:
            data = json.loads(args.space)
        except ValueError as error:
            raise SpaceError(f"--space is not valid JSON ({error}).") from None
        if not isinstance(data, dict):
            raise SpaceError('--space must be a JSON object, like {"width": [8, 64]}.')
    defaults = SearchSpace().to_dict()
    for name, (low, high, _kind) in _RANGE_FLAGS.items():
        given = [getattr(args, flag[2:].replace("-", "_")) for flag in (low, high)]
        if any(v is not None for v in given):
            current = data.get(name, defaults[name])
            data[name] = [g if g is not None else c for g, c in zip(given, current, strict=False)]
    if args.batch_sizes:
        try:
            data["batch_sizes"] = [int(v) for v in args.batch_sizes.split(",")]
        except ValueError:
            raise SpaceError(
                "--batch-sizes must be whole numbers separated by commas, "
                f"got {args.batch_sizes!r}."
            ) from None
    for name in ("epochs", "patience", "seed"):
        if getattr(args, name) is not None:
            data[name] = getattr(args, name)
    return SearchSpace.from_dict(data)


def trial_line(outcome) -> str:
    """One line per trial: number, searched parameters, validation figures, how it ended."""
    p = outcome.searched
    params = (
        f"width {p['width']:>4}  depth {p['depth']}  dropout {p['dropout']:.2f}  "
        f"lr {p['learning_rate']:.2e}  batch {p['batch_size']:>4}"
    )
    if outcome.value is None:
        figures = "no epoch finished"
    else:
        figures = f"val_loss {outcome.value:.4f}  val_accuracy {outcome.val_accuracy or 0:.4f}"
    ended = outcome.state + (f": {outcome.error}" if outcome.error else "")
    return f"trial {outcome.number:>3}  {params}  {figures}  {outcome.epochs} epoch(s)  {ended}"


def run(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.errors import JukeboxError
    from jukebox.tuning.jobs import stop_requested, update_status
    from jukebox.tuning.space import SpaceError

    job_dir: Path | None = args.job_dir

    def fail(message: str, code: int) -> int:
        print(f"error: {message}", file=sys.stderr, flush=True)
        update_status(job_dir, state="failed", phase="finished", error=message)
        return code

    try:
        space = space_from(args)
    except SpaceError as error:
        return fail(str(error), EXIT_BAD_INPUT)
    settings = load_settings()
    if args.compile is not None:
        return _compile(args, space, settings)
    if args.trials < 1:
        return fail(f"--trials must be at least 1, got {args.trials}.", EXIT_BAD_INPUT)
    from jukebox.jobs import new_job_id
    from jukebox.pipelines.params import source_problems

    problems = source_problems(*source_of(args))
    if problems:
        return fail(" ".join(problems), EXIT_BAD_INPUT)
    search_id = job_dir.name if job_dir is not None else new_job_id()
    experiment = args.experiment or f"search-{search_id}"
    update_status(
        job_dir,
        state="running",
        phase="loading",
        experiment=experiment,
        trials_planned=args.trials,
        space=space.to_dict(),
        model_name=args.model_name,
    )
    try:
        data, data_version = load_data(args, settings)
    except (JukeboxError, OSError) as error:
        return fail(f"could not load the data: {error}", EXIT_BAD_INPUT)
    print(f"Data: {data.source} ({len(data.rankings):,} ranking rows)", flush=True)
    print(f"Searching {args.trials} trial(s) as experiment {experiment}…", flush=True)
    update_status(job_dir, source=data.source, phase="searching")

    interrupted = False

    def on_signal(_signum, _frame) -> None:
        nonlocal interrupted
        if interrupted:  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        interrupted = True
        print("\nStopping: the running trial ends KILLED, no other starts…", flush=True)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def should_stop() -> bool:
        return interrupted or (job_dir is not None and stop_requested(job_dir))

    from jukebox.tuning.progress import SearchStatusWriter
    from jukebox.tuning.search import run_search, train_best

    writer = SearchStatusWriter(job_dir)

    def on_trial(outcome, best) -> None:
        print(trial_line(outcome), flush=True)
        writer.trial_ended(outcome, best)

    try:
        result = run_search(
            data,
            space,
            args.trials,
            settings=settings,
            experiment=experiment,
            on_trial=on_trial,
            on_trial_start=writer.trial_started,
            listeners=[writer],
            should_stop=should_stop,
            seed=args.search_seed,
            data_version=data_version,
        )
    except JukeboxError as error:
        return fail(str(error), EXIT_BAD_INPUT)
    except Exception as error:
        fail(f"{type(error).__name__}: {error}", EXIT_FAILED)
        raise
    best = result.best
    final = "stopped" if result.stopped else "done"
    if best is None:
        print("No trial finished: nothing to keep.", flush=True)
        update_status(job_dir, state=final if result.stopped else "failed", phase="finished",
                      error=None if result.stopped else "No trial finished.")  # fmt: skip
        return 0 if result.stopped else EXIT_FAILED
    print(f"Best: {trial_line(best)}", flush=True)
    print("Training the best again, then evaluating and exporting it…", flush=True)
    update_status(job_dir, phase="training the best", current={})
    try:
        kept = train_best(
            settings, data, best, training_id=f"{search_id}-best", data_version=data_version
        )
    except JukeboxError as error:
        return fail(str(error), EXIT_FAILED)
    accuracy = kept.accuracy
    verdict = "PASSED" if kept.verified else "FAILED"
    print(f"Test accuracy {accuracy:.4f}; export verification {verdict}", flush=True)
    print(f"Model directory: {kept.record.path}", flush=True)
    update_status(
        job_dir, model_dir=str(kept.record.path), accuracy=accuracy, verified=kept.verified
    )
    if not kept.verified:
        return fail("the exported model failed verification: not registering it.", EXIT_FAILED)
    if not args.register:
        update_status(job_dir, state=final, phase="finished")
        return 0
    update_status(job_dir, phase="registering")
    try:
        registration = _register(settings, kept, args)
    except JukeboxError as error:
        return fail(f"could not register the best: {error}", EXIT_FAILED)
    print(registration.gate.reason, flush=True)
    if registration.registered:
        print(f"Registered {args.model_name} version {registration.version}.", flush=True)
    update_status(
        job_dir,
        state=final,
        phase="finished",
        gate=registration.gate.reason,
        version=registration.version,
    )
    return 0


def _register(settings, kept, args):
    """Register the best through the gate; its bundle names its trial's run, so the version is
    linked to it."""
    from jukebox.pipelines.gate import register_through_gate

    return register_through_gate(
        settings, kept.record.path, args.model_name, tolerance=args.tolerance
    )


def _compile(args: argparse.Namespace, space, settings) -> int:
    from jukebox.pipelines.search import compile_search_pipeline

    if args.parallelism < 1:
        print(f"error: --parallelism must be at least 1, got {args.parallelism}.", file=sys.stderr)
        return EXIT_BAD_INPUT
    path = compile_search_pipeline(args.compile, settings, parallelism=args.parallelism)
    print(f"Wrote the search pipeline ({args.parallelism} trial(s) at once) to {path}")
    return 0
