"""One local run of the training pipeline against the same steps called directly in one process.

Prints the machine; then the steps called directly (prepare, fit, evaluate, export + verify,
register) with the time of each; then one run of the pipeline through kfp's local mode in the
background, with the wall time of each task, the total, and the overhead over the direct calls;
and, during a second run, how long the app takes to draw its Home page (AppTest) every two
seconds, against the same before it. All use a fresh JUKEBOX_HOME holding the default data set
as the current one, and the same embedded registry.

    python benchmarks/bench_pipeline.py                         # the default data set
    python benchmarks/bench_pipeline.py --songs 2000 --days 60  # a quick run

Figures are printed, never asserted; take them while nothing else runs (the load is printed).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_training import machine  # noqa: E402


def timed(name: str, seconds: dict, function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    seconds[name] = time.perf_counter() - started
    print(f"  {name:<22} {seconds[name]:6.1f} s", flush=True)
    return result


def direct(settings, params) -> float:
    """The pipeline's steps called in this process, as the CLI's `train` does plus registering.

    The imports are timed too: each of the pipeline's tasks pays its own.
    """
    started = time.perf_counter()
    from jukebox.data.merge import merge_tables
    from jukebox.data.preparation import prepare
    from jukebox.data.store import content_id, current_info, load_current
    from jukebox.model.export import onnx_facts
    from jukebox.model.runs import save_export, save_training, training_dir
    from jukebox.model.workflow import (
        data_facts,
        evaluate_model,
        export_model,
        fit_model,
        new_report,
    )
    from jukebox.registry.register import register_bundle

    print("Steps called directly, in one process:")
    seconds: dict[str, float] = {"imports": time.perf_counter() - started}
    print(f"  {'imports':<22} {seconds['imports']:6.1f} s", flush=True)
    data = timed("load data", seconds, load_current, settings)
    prepared = timed(
        "validate and prepare",
        seconds,
        lambda: prepare(merge_tables(data.properties, data.rankings), seed=params.seed),
    )
    model, fit = timed("train", seconds, fit_model, prepared, params)
    evaluation = timed("evaluate", seconds, evaluate_model, model, prepared, data.bayes_accuracy)
    path = training_dir(settings, "bench-direct")
    onnx_file = Path(tempfile.mkdtemp()) / "model.onnx"
    preprocessing = prepared.preprocessing()
    verification = timed(
        "export + verify", seconds, export_model, model, preprocessing, prepared.x_test, onnx_file
    )

    def register() -> None:
        version = content_id(current_info(settings))
        facts = data_facts(data.summary(), prepared, version)
        report = new_report("bench-direct", params, fit, facts, evaluation).with_export(
            verification, onnx_facts(onnx_file), "now"
        )
        save_training(
            path, model, preprocessing, report, prepared.x_test, prepared.decode(prepared.y_test)
        )
        save_export(path, onnx_file, preprocessing, report)
        register_bundle(path, "bench-direct", 1, data_version=version, settings=settings)

    timed("register", seconds, register)
    total = time.perf_counter() - started
    print(f"  {'total':<22} {total:6.1f} s (test accuracy {evaluation.accuracy:.4f})")
    return total


def home_page_seconds(home: Path, repeat: int) -> list[float]:
    from streamlit.testing.v1 import AppTest

    os.environ["JUKEBOX_HOME"] = str(home)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.run()
        times.append(time.perf_counter() - started)
    return times


def data_arguments(description: str) -> argparse.ArgumentParser:
    """The options of the benchmarks that run pipelines: the size of their synthetic data set."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--songs", type=int, help="a smaller synthetic set (default: 14,000)")
    parser.add_argument("--days", type=int, help="chart days of that set (default: 314)")
    return parser


def fresh_home(prefix: str, args: argparse.Namespace):
    """Point JUKEBOX_HOME at a new directory holding the synthetic set ``args`` ask for as the
    current data set, and return its settings and that data set."""
    from jukebox.config import load_settings
    from jukebox.data.store import save_current
    from jukebox.data.synthetic import DEFAULT_SONGS, N_DAYS, generate

    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["JUKEBOX_HOME"] = str(home)
    settings = load_settings()
    data = generate(args.songs or DEFAULT_SONGS, 0, n_days=args.days or N_DAYS)
    save_current(data, settings)
    print(f"data: {data.source}, {len(data.rankings):,} chart rows; JUKEBOX_HOME {home}")
    return settings, data


def wait_until_finished(settings, run):
    """The pipeline run's record once its run has ended, whichever way."""
    from jukebox.pipelines import local
    from jukebox.pipelines.records import load_run

    while not (run := local.refresh(settings, load_run(run.path))).finished:
        time.sleep(0.2)
    return run


def main() -> None:
    parser = data_arguments(__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, help="at most this many epochs (default: as trained)")
    args = parser.parse_args()

    from jukebox.model.network import TrainingParams
    from jukebox.pipelines import local
    from jukebox.pipelines.params import RunParams
    from jukebox.pipelines.records import load_run
    from jukebox.pipelines.training import TASKS
    from jukebox.registry.connection import registry_url
    from jukebox.registry.server.process import stop_server

    print(f"machine: {machine()}")
    settings, _ = fresh_home("jukebox-bench-pipeline-", args)
    home = settings.home
    params = TrainingParams(epochs=args.epochs) if args.epochs else TrainingParams()
    try:
        registry_url(settings)  # the embedded registry, started once for both ways
        baseline = direct(settings, params)

        print("\nThe pipeline, through kfp's local mode in a background job:", flush=True)
        started = time.perf_counter()
        run = wait_until_finished(
            settings, local.start_in_background(settings, RunParams(training=params))
        )
        wall = time.perf_counter() - started
        for name in TASKS:
            task = run.tasks.get(name)
            if task is not None and task.seconds is not None:
                print(f"  {name:<22} {task.seconds:6.1f} s  {task.state}")
        in_tasks = sum(t.seconds or 0 for t in run.tasks.values())
        print(
            f"  {'total':<22} {wall:6.1f} s, {run.state}, registered version "
            f"{run.registered_version}; inside the tasks {in_tasks:.1f} s"
        )
        print(
            f"\noverhead of the pipeline over the direct calls: {wall / baseline - 1:+.0%} "
            f"({wall:.1f} s vs {baseline:.1f} s)"
        )

        # A second run, while a person uses the app: the Home page drawn every two seconds.
        before = home_page_seconds(home, 3)
        run = local.start_in_background(settings, RunParams(training=params))
        during = []
        while not (run := local.refresh(settings, load_run(run.path))).finished:
            during += home_page_seconds(home, 1)
            time.sleep(2)
        print(
            "app responsiveness, Home page drawn (AppTest): median "
            f"{statistics.median(before):.2f} s before a run, median "
            f"{statistics.median(during):.2f} s during one (max {max(during):.2f} s, "
            f"{len(during)} draws, one every 2 s)"
        )
        print(f"load average now: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    finally:
        stop_server(settings)


if __name__ == "__main__":
    main()
