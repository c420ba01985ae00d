"""``python -m jukebox pipeline``: the training pipeline from a terminal.

- ``pipeline run``: run it here (kfp's local mode), in the foreground, with the data and
  training flags of ``train`` plus ``--model-name``, ``--version`` and ``--tolerance``; prints
  each task as it ends and the version it registered, or why none was;
- ``pipeline compile --output FILE``: the KFP IR YAML, to import in Data Science Pipelines;
- ``pipeline submit``: run it on the cluster ``KFP_HOST`` names (``--cron`` or ``--every`` for
  a recurring run);
- ``pipeline runs`` and ``pipeline show RUN``: the runs recorded here, or on the cluster;
- ``pipeline schedule --cron C | --every S`` and ``pipeline schedules``: the data pipeline (or,
  with ``--pipeline training``, the training pipeline) on a schedule here (``python -m jukebox
  watch`` or the app's background loop runs it).

``--pipeline data`` runs, compiles or submits the data pipeline (extract → transform → validate
→ load and version with DVC → train on the new version) instead of the training pipeline.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from jukebox.cli.train import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    add_training_arguments,
    params_from,
    source_of,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("pipeline", help="the training pipeline (Kubeflow Pipelines)")
    commands = parser.add_subparsers(dest="pipeline_command", required=True)

    run = commands.add_parser(
        "run",
        help="run the training pipeline here, in the foreground",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_run_arguments(run)
    run.add_argument(
        "--verbose", action="store_true", help="show kfp's own output too, not only the tasks'"
    )
    run.add_argument("--record", metavar="RUN", help=argparse.SUPPRESS)  # a recorded run
    run.set_defaults(func=run_here)

    compile_ = commands.add_parser("compile", help="write the pipeline as KFP IR YAML")
    compile_.add_argument("--output", "-o", type=Path, required=True, help="the YAML file")
    compile_.add_argument("--pipeline", choices=("training", "data"), default="training")
    compile_.set_defaults(func=run_compile)

    submit = commands.add_parser(
        "submit",
        help="run it on the KFP of KFP_HOST",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_run_arguments(submit)
    schedule = submit.add_mutually_exclusive_group()
    schedule.add_argument(
        "--cron", help='a recurring run: six cron fields, seconds first ("0 0 2 * * *")'
    )
    schedule.add_argument("--every", type=int, metavar="SECONDS", help="a recurring run")
    submit.add_argument("--follow", action="store_true", help="wait until the run ends")
    submit.set_defaults(func=run_submit)

    runs = commands.add_parser("runs", help="the pipeline runs, newest first")
    runs.set_defaults(func=run_list)

    schedule = commands.add_parser(
        "schedule",
        help="run the data pipeline (or --pipeline training) here on a schedule",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _add_run_arguments(schedule)
    schedule.set_defaults(pipeline="data")  # what a schedule here was before it could train
    when = schedule.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help='six cron fields, seconds first ("0 0 6 * * *")')
    when.add_argument("--every", type=int, metavar="SECONDS")
    schedule.set_defaults(func=run_schedule)

    schedules = commands.add_parser("schedules", help="the schedules here")
    schedules.add_argument("--remove", metavar="ID", help="remove this schedule")
    schedules.set_defaults(func=run_schedules)

    show = commands.add_parser("show", help="one run: its tasks, metrics and outcome")
    show.add_argument("run_id", metavar="RUN")
    show.add_argument("--json", action="store_true", help="the whole record as JSON")
    show.set_defaults(func=run_show)


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pipeline", choices=("training", "data"), default="training", help="which pipeline"
    )
    parser.add_argument("--message", "-m", default="", help="data pipeline: the version's message")
    parser.add_argument(
        "--data-version", metavar="REF", help="train on this DVC data version (commit or md5)"
    )
    add_training_arguments(parser)
    # A run draws its own seed unless given one: with the Train page's seed on the same data it
    # would train that very model again, which the registry refuses to register twice.
    seed = next(action for action in parser._actions if action.dest == "seed")
    # ("%(default).0s" tells the help formatter the default is already said.)
    seed.default, seed.help = None, "training seed (default: a new one each run)%(default).0s"
    model = parser.add_argument_group("registration")
    model.add_argument("--model-name", default="jukebox", help="registered model name")
    model.add_argument("--version", default="next", help='a whole number, or "next"')
    model.add_argument(
        "--tolerance",
        type=float,
        default=0.01,
        help="how much lower than production the test accuracy may be and still register",
    )


def params_of(args: argparse.Namespace):
    """The run's parameters from the flags (``RunParamsError`` / ``ParamsError`` say what is
    wrong), the data source as ``train`` reads it."""
    from jukebox.pipelines.params import DataRunParams, RunParams, fresh_seed

    if args.seed is None:
        args.seed = fresh_seed()
    if getattr(args, "data_version", None):
        source, options = "version", {"ref": args.data_version}
    else:
        source, options = source_of(args)
    if getattr(args, "pipeline", "training") == "data":
        return DataRunParams(
            source=source,
            source_options=options,
            message=args.message,
            model_name=args.model_name,
            training=params_from(args),
            tolerance=args.tolerance,
        )
    return RunParams(
        model_name=args.model_name,
        version=args.version,
        source=source,
        source_options=options,
        training=params_from(args),
        tolerance=args.tolerance,
    )


def run_here(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.errors import JukeboxError
    from jukebox.pipelines import local
    from jukebox.pipelines.params import RunParams, check_version_free

    settings = load_settings()
    try:
        if args.record:
            run = local.execute(settings, args.record)
        else:
            params = params_of(args)
            if isinstance(params, RunParams):
                check_version_free(params, settings)
            print(f"Running the {args.pipeline} pipeline here ({params.source} data)…", flush=True)
            run = local.run_here(settings, params, verbose=args.verbose)
    except JukeboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(_summary(run))
    return 0 if run.state == "succeeded" else EXIT_FAILED


def _summary(run) -> str:
    lines = [f"Run {run.id}: {run.state} in {run.seconds:.0f} s"]
    for task in run.tasks.values():
        took = f" {task.seconds:.1f} s" if task.seconds is not None else ""
        lines.append(f"  {task.name:<22} {task.state}{took}")
    if run.registered_version:
        model = run.arguments.get("model_name")
        lines.append(f"Registered {model} version {run.registered_version}.")
    if run.new_data_version:
        lines.append(f"New data version {run.new_data_version[:7]}.")
    elif run.note:
        lines.append(run.note)
    if run.error:
        lines.append(f"error: {run.error}")
    return "\n".join(lines)


def _compiler(pipeline: str):
    if pipeline == "data":
        from jukebox.pipelines.data import compile_data_pipeline

        return compile_data_pipeline
    from jukebox.pipelines.training import compile_pipeline

    return compile_pipeline


def run_compile(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.pipelines.components import service_addresses

    settings = load_settings()
    print(f"Wrote {_compiler(args.pipeline)(args.output)} (image {settings.pipeline_image}).")
    for parameter, default in service_addresses(settings).items():
        said = default or "none: give it when you start a run, or its tasks fail on the cluster"
        print(f"  {parameter}: {said}")
    return 0


def run_submit(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.errors import JukeboxError
    from jukebox.pipelines import remote

    settings = load_settings()
    if not settings.pipelines_are_remote:
        print("error: KFP_HOST is not set: say which Kubeflow Pipelines to submit to, or use "
              "`pipeline run` to run it here.", file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    try:
        arguments = params_of(args).arguments()
        with tempfile.TemporaryDirectory() as scratch:
            package = _compiler(args.pipeline)(Path(scratch) / "pipeline.yaml")
            name = f"jukebox-{args.pipeline} {time.strftime('%Y-%m-%d %H:%M')}"
            if args.cron or args.every:
                schedule = remote.create_recurring_run(
                    settings, package, arguments, name=name,
                    cron=args.cron, interval_seconds=args.every,
                )  # fmt: skip
                print(f"Recurring run {schedule.id} created: {schedule.name}")
                return 0
            run = remote.submit_run(settings, package, arguments, run_name=name)
        print(f"Submitted run {run.id} to {settings.kfp_host}")
        if args.follow:
            run = remote.follow_run(settings, run.id, on_change=lambda r: print(f"  {r.state}"))
            print(f"Run {run.id}: {run.state}")
            return 0 if run.succeeded else EXIT_FAILED
    except JukeboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def run_list(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.errors import JukeboxError
    from jukebox.pipelines import local
    from jukebox.pipelines.records import list_runs

    settings = load_settings()
    if settings.pipelines_are_remote:
        from jukebox.pipelines import remote

        try:
            for run in remote.list_runs(settings):
                print(f"{run.id}  {run.state:<10} {run.name}")
        except JukeboxError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        return 0
    runs = [local.refresh(settings, run) for run in list_runs(settings)]
    if not runs:
        print("No pipeline run yet: start one with `python -m jukebox pipeline run`.")
    for run in runs:
        outcome = (
            f"registered version {run.registered_version}"
            if run.registered_version
            else run.note or run.error or ""
        )
        print(f"{run.id}  {run.state:<10} {run.seconds:7.0f} s  {outcome}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.pipelines import local
    from jukebox.pipelines.records import load_run, run_as_dict, run_dir

    settings = load_settings()
    if settings.pipelines_are_remote:
        return _show_remote(settings, args)
    run = load_run(run_dir(settings, args.run_id))
    if run is None:
        print(f"error: there is no pipeline run {args.run_id!r} here.", file=sys.stderr)
        return EXIT_BAD_INPUT
    run = local.refresh(settings, run)
    if args.json:
        print(json.dumps(run_as_dict(run), indent=2, default=str))
        return 0
    print(_summary(run))
    for task in run.tasks.values():
        for name, value in task.metrics.items():
            print(f"  {task.name}: {name} = {value:g}")
    return 0


def _show_remote(settings, args: argparse.Namespace) -> int:
    """``pipeline show`` with ``KFP_HOST``: the run on the cluster, with its tasks."""
    from dataclasses import asdict

    from jukebox.errors import JukeboxError
    from jukebox.pipelines import remote

    try:
        run = remote.get_run(settings, args.run_id)
    except JukeboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(asdict(run), indent=2, default=str))
        return 0
    print(f"Run {run.id} on {settings.kfp_host}: {run.state}  {run.name}")
    for task in run.tasks:
        took = ""
        if task.started_at and task.finished_at:
            took = f" {(task.finished_at - task.started_at).total_seconds():.1f} s"
        print(f"  {task.name:<22} {task.state}{took}" + (f"  {task.error}" if task.error else ""))
    if not run.tasks:
        print("  (the server reported no tasks yet)")
    if run.error:
        print(f"error: {run.error}")
    return 0


def run_schedule(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.errors import JukeboxError
    from jukebox.pipelines import automation

    try:
        schedule = automation.add_schedule(
            load_settings(), params_of(args), cron=args.cron, interval_seconds=args.every
        )
    except JukeboxError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(
        f"Schedule {schedule.id}: the {args.pipeline} pipeline {schedule.every}. It runs while "
        "`python -m jukebox watch` (or the app's continuous training) runs."
    )
    return 0


def run_schedules(args: argparse.Namespace) -> int:
    from jukebox.config import load_settings
    from jukebox.errors import JukeboxError
    from jukebox.pipelines import automation

    settings = load_settings()
    if args.remove:
        try:
            automation.remove_schedule(settings, args.remove)
        except JukeboxError as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"Removed schedule {args.remove}.")
        return 0
    schedules = automation.read_state(settings).schedules
    if not schedules:
        print("No schedule: add one with `python -m jukebox pipeline schedule --cron ...`.")
    for schedule in schedules:
        due = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(schedule.next_due()))
        print(
            f"{schedule.id}  {schedule.pipeline:<17} {schedule.every:<24} next {due}  "
            f"last run {schedule.last_run_id}"
        )
    return 0
