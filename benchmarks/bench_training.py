"""How good and how fast the default training is, against the defaults before it and the workshop.

Prints the machine; the data set (songs, chart rows, split, Bayes ceiling); then, for each way
of training, the time of ``fit``, the test accuracy (chart rows of the test period) and its ratio
to the Bayes ceiling:

- **new default**: ``TrainingParams()`` (issue 22: quantile scaling, one wide hidden layer with
  dropout, found by the search);
- **old default** (issues 11 to 21): min-max scaling, the workshop's 32-64-128-256 network, song
  by song with early stopping (patience 3);
- **first default** (before issue 11): every chart row, 2 epochs, batch 512, no early stopping;
- **workshop's way** (``workshop_reference.py``: per-feature datasets zipped, shuffle buffer as
  large as the training set, batch 32), 2 epochs: the slow one, left out with ``--no-reference``.

``--search N`` also runs the hyperparameter search (``jukebox.tuning``) with N trials on the same
data and prints its best trial, its test accuracy and ratio. ``--learning-curve`` trains the new
and the old default on a growing share of the training songs and prints their test accuracy side
by side against the number of training songs, with the ceiling: whether more songs would help.

    python benchmarks/bench_training.py --no-reference --learning-curve   # the README's figures
    python benchmarks/bench_training.py --no-reference --search 20
    python benchmarks/bench_training.py --songs 2000 --days 60   # a quick run

The new default's model is saved as a training under ``--home`` (default: a temporary
directory), so ``bench_export.py --home`` can time its export. The machine is shared: say so
with the figures. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = psutil.virtual_memory().total / 2**30
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (
        f"{cpu} · {os.cpu_count()} CPU · {memory:.0f} GiB · Python {platform.python_version()} · "
        f"load average {load}"
    )


class PeakMemory:
    """Samples this process's resident memory in a thread; ``peak`` in bytes."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        process = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, help="synthetic songs (default: the default set)")
    parser.add_argument("--days", type=int, help="chart days of the synthetic set")
    parser.add_argument("--epochs", type=int, help="most epochs of the new default")
    parser.add_argument(
        "--learning-curve",
        action="store_true",
        help="test accuracy of the new default against the number of training songs",
    )
    parser.add_argument("--search", type=int, metavar="N", help="also run an N-trial search")
    parser.add_argument("--reference", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--home", type=Path, help="JUKEBOX_HOME to save our training in")
    args = parser.parse_args()

    from jukebox.config import load_settings
    from jukebox.data.merge import merge_tables
    from jukebox.data.preparation import prepare
    from jukebox.data.synthetic import DEFAULT_SONGS, N_DAYS, generate
    from jukebox.model.evaluation import evaluate
    from jukebox.model.fit import predict, train
    from jukebox.model.network import TrainingParams
    from jukebox.model.report import FitFacts, ModelReport
    from jukebox.model.runs import save_training
    from jukebox.model.workflow import data_facts

    print(f"machine: {machine()}")
    started = time.perf_counter()
    data = generate(args.songs or DEFAULT_SONGS, 0, n_days=args.days or N_DAYS)
    prepared = prepare(merge_tables(data.properties, data.rankings), seed=42)
    sizes = prepared.sizes()
    print(
        f"data: {data.source}, {len(data.rankings):,} ranking rows, {prepared.n_classes} "
        f"countries; chart rows train {sizes['train']:,} / validation {sizes['validation']:,} / "
        f"test {sizes['test']:,}; songs train {prepared.song_counts()['train_songs']:,} / "
        f"validation {prepared.song_counts()['validation_songs']:,} (held out whole); "
        f"Bayes ceiling {data.bayes_accuracy:.4f} "
        f"(generated and prepared in {time.perf_counter() - started:.1f} s)"
    )
    rss_before = psutil.Process().memory_info().rss

    def run(name: str, params, on=prepared):
        patience = params.patience if params.early_stopping else "-"
        result = train(on, params)
        metrics = evaluate(
            predict(result.model, prepared.features, prepared.x_test),
            prepared.y_test,
            prepared.labels,
            bayes_accuracy=data.bayes_accuracy,
        )
        print(
            f"{name}: {result.epochs_run} epoch(s) in {result.seconds:.1f} s; test accuracy "
            f"{metrics.accuracy:.4f} = {metrics.accuracy_to_bayes:.1%} of the Bayes ceiling "
            f"(width {params.width}, depth {params.depth}, dropout {params.dropout}, "
            f"{params.scaling} scaling, rows={params.rows}, batch {params.batch_size}, learning "
            f"rate {params.learning_rate}, patience {patience}); load average "
            + ", ".join(f"{v:.1f}" for v in os.getloadavg()),
            flush=True,
        )
        return result, metrics

    first = TrainingParams(
        **{**OLD_NETWORK, "epochs": 2, "batch_size": 512, "rows": "chart rows"},
        early_stopping=False,
    )
    run("first default", first)
    old = TrainingParams(**OLD_NETWORK)
    run("old default", old)
    params = TrainingParams(**({"epochs": args.epochs} if args.epochs else {}))
    with PeakMemory() as memory:
        result, metrics = run("new default", params)
    ours = result.seconds
    print(
        f"new default: peak RSS while training {memory.peak / 2**30:.2f} GiB (before training "
        f"{rss_before / 2**30:.2f} GiB; process max so far "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB)"
    )
    if args.learning_curve:
        learning_curve(prepared, {"new default": params, "old default": old}, data, run)
    if args.search:
        search(prepared, data, args.search, run, args.home or Path(tempfile.mkdtemp()))
    home = args.home or Path(tempfile.mkdtemp(prefix="jukebox-bench-"))
    settings = load_settings({"JUKEBOX_HOME": str(home)})
    path = settings.models_dir / time.strftime("bench-%Y%m%d-%H%M%S")
    report = ModelReport(
        training_id=path.name,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        params=params.to_dict(),
        fit=FitFacts(result.epochs_run, result.stopped, result.seconds, result.history, machine()),
        data=data_facts(data.summary(), prepared),
        evaluation=metrics,
    )
    save_training(
        path,
        result.model,
        prepared.preprocessing(),
        report,
        prepared.x_test,
        prepared.decode(prepared.y_test),
    )
    print(f"our training saved in {path} (time its export with bench_export.py --home {home})")

    if not args.reference:
        return
    from benchmarks.workshop_reference import train_workshop_way

    print("workshop way: training (this is the slow one)…", flush=True)
    reference = train_workshop_way(prepared, 2)
    print(
        f"workshop way: 2 epochs (batch 32, Adam 0.001, per-feature zipped datasets) "
        f"in {reference['seconds']:.1f} s; test accuracy {reference['test_accuracy']:.4f} = "
        f"{reference['test_accuracy'] / data.bayes_accuracy:.1%} of the Bayes ceiling"
    )
    print(
        f"ratio: ours is {reference['seconds'] / ours:.1f}x faster; test accuracy "
        f"{metrics.accuracy:.4f} vs {reference['test_accuracy']:.4f} "
        f"({metrics.accuracy - reference['test_accuracy']:+.4f}); load average now "
        + ", ".join(f"{v:.1f}" for v in os.getloadavg())
    )


def learning_curve(prepared, defaults: dict, data, run) -> None:
    """Train each default on the first 1/8, 1/4, 1/2 and all of the training songs (one fixed
    shuffle) and print their test ratios side by side."""
    import dataclasses

    import numpy as np

    songs = np.unique(prepared.songs_train)
    order = np.random.default_rng(0).permutation(songs)
    print(f"learning curve (Bayes ceiling {data.bayes_accuracy:.4f}):")
    rows = []
    for share in (0.125, 0.25, 0.5, 1.0):
        kept = np.isin(prepared.songs_train, order[: max(1, int(share * len(songs)))])
        subset = dataclasses.replace(
            prepared,
            x_train=prepared.x_train[kept],
            y_train=prepared.y_train[kept],
            songs_train=prepared.songs_train[kept],
        )
        n = int(share * len(songs))
        ratios = [run(f"  {name}, {n:,} songs", p, on=subset)[1] for name, p in defaults.items()]
        rows.append((n, [m.accuracy_to_bayes for m in ratios]))
    print(f"{'training songs':>16}  " + "  ".join(f"{name:>12}" for name in defaults))
    for n, ratios in rows:
        print(f"{n:>16,}  " + "  ".join(f"{r:>12.1%}" for r in ratios))


def search(prepared, data, trials: int, run, home: Path) -> None:
    """Run the default search space for ``trials`` trials on ``prepared`` (its trials logged to
    the embedded registry of ``home``) and train its best again, printing its test figures."""
    from jukebox.config import load_settings
    from jukebox.tuning.search import run_search
    from jukebox.tuning.space import SearchSpace

    space = SearchSpace()
    settings = load_settings({"JUKEBOX_HOME": str(home)})
    started = time.perf_counter()

    def line(outcome, best) -> None:
        print(
            f"  trial {outcome.number:>2} {outcome.state:<8} validation loss "
            f"{outcome.value if outcome.value is not None else float('nan'):.4f} "
            f"{outcome.searched} ({outcome.seconds:.0f} s)",
            flush=True,
        )

    result = run_search(
        prepared, space, trials, settings=settings, experiment="bench-search", on_trial=line
    )
    best = result.best
    print(
        f"search: {len(result.trials)} trial(s) in {time.perf_counter() - started:.0f} s; best "
        f"trial {best.number}, validation loss {best.value:.4f}: {best.searched}"
    )
    run("search's best", space.params(best.searched))


OLD_NETWORK = {
    "epochs": 50,
    "batch_size": 256,
    "learning_rate": 0.003,
    "width": 32,
    "depth": 4,
    "dropout": 0.0,
    "scaling": "min-max",
    "patience": 3,
}
"""The default of issues 11 to 21, for comparison."""


if __name__ == "__main__":
    main()
