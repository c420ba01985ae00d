"""How fast our training is, against the workshop's way on the same data in the same run.

Prints the machine; the data set size; for our training (default parameters: the workshop's
network, 2 epochs, batch 512, whole arrays through a batched tf.data pipeline) the time of
``fit``, the test accuracy and the peak resident memory of the process while training; then the
same for the workshop's way (``workshop_reference.py``: per-feature datasets zipped, shuffle buffer
as large as the training set, batch 32) and the ratio of the two times.

    python benchmarks/bench_training.py                  # default 1.1M-row set, both ways
    python benchmarks/bench_training.py --no-reference   # ours only
    python benchmarks/bench_training.py --songs 2000 --days 60   # a quick run

Our trained model is saved as a training under ``--home`` (default: a temporary directory), so
``bench_export.py --home`` can time its export. The machine is shared: say so with the figures.
Figures are printed, never asserted.
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
    parser.add_argument("--epochs", type=int, default=2)
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
        f"countries; train {sizes['train']:,} / validation {sizes['validation']:,} / test "
        f"{sizes['test']:,}; Bayes ceiling {data.bayes_accuracy:.4f} "
        f"(generated and prepared in {time.perf_counter() - started:.1f} s)"
    )
    rss_before = psutil.Process().memory_info().rss

    params = TrainingParams(epochs=args.epochs)
    with PeakMemory() as memory:
        result = train(prepared, params)
    metrics = evaluate(
        predict(result.model, prepared.features, prepared.x_test),
        prepared.y_test,
        prepared.labels,
        bayes_accuracy=data.bayes_accuracy,
    )
    ours = result.seconds
    print(
        f"ours: {params.epochs} epochs (batch {params.batch_size}, learning rate "
        f"{params.learning_rate}) in {ours:.1f} s; test accuracy {metrics.accuracy:.4f} "
        f"({metrics.accuracy_to_bayes:.1%} of the Bayes ceiling); peak RSS while training "
        f"{memory.peak / 2**30:.2f} GiB (before training {rss_before / 2**30:.2f} GiB; process "
        f"max so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB)"
    )
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
    reference = train_workshop_way(prepared, args.epochs)
    print(
        f"workshop way: {args.epochs} epochs (batch 32, Adam 0.001, per-feature zipped datasets) "
        f"in {reference['seconds']:.1f} s; test accuracy {reference['test_accuracy']:.4f}"
    )
    print(
        f"ratio: ours is {reference['seconds'] / ours:.1f}x faster; test accuracy "
        f"{metrics.accuracy:.4f} vs {reference['test_accuracy']:.4f} "
        f"({metrics.accuracy - reference['test_accuracy']:+.4f}); load average now "
        + ", ".join(f"{v:.1f}" for v in os.getloadavg())
    )


if __name__ == "__main__":
    main()
