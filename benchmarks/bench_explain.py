"""Explanations' cost: one song's attributions for its top 5 countries (goal under 1 s), one
counterfactual (goal under 5 s) and global importance (50 songs), on 2 cores. Prints the machine
and its load.

    python benchmarks/bench_explain.py [--bundle DIR] [--song "Not Like Us"] [--country TR]

Without ``--bundle`` it builds a model of the workshop's shape (dense 32-64-128-256, ReLU,
softmax over the data's 72 countries) with random weights: the cost of an explanation is the model's
arithmetic, which does not depend on what the weights learned. Its reference is 5,000 real songs
from ``../shared/data/song_properties.parquet`` when that file is there (and the song is looked
up in it), else songs of the synthetic generator.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jukebox.data.schema import CHART_COUNTRIES as COUNTRIES  # noqa: E402
from jukebox.data.schema import FEATURES  # noqa: E402
from jukebox.explain.attributions import explain_song  # noqa: E402
from jukebox.explain.counterfactuals import find_counterfactual  # noqa: E402
from jukebox.explain.importance import global_importance  # noqa: E402
from jukebox.explain.predictor import bundle_reference, predictor_from_bundle  # noqa: E402
from jukebox.explain.words import what_if_sentence, why_sentences  # noqa: E402

REAL_SONGS = ROOT.parent / "shared" / "data" / "song_properties.parquet"
ROUNDS = 3


def songs() -> pd.DataFrame:
    if REAL_SONGS.is_file():
        return pd.read_parquet(REAL_SONGS).dropna(subset=list(FEATURES))
    from jukebox.data.synthetic.generator import generate

    return generate(3_000, seed=0).properties


def workshop_shaped_bundle(directory: Path, reference: pd.DataFrame) -> Path:
    """A bundle whose model has the workshop's layers and random weights (seeded)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from jukebox.data.preprocessing import Preprocessing
    from jukebox.model.bundle import REFERENCE_FILE, write_bundle
    from tests.bundles import tiny_report

    rng = np.random.default_rng(0)
    minima = reference.min().to_numpy(np.float32)
    ranges = np.maximum(reference.max().to_numpy(np.float32) - minima, 1e-6)
    widths = [len(FEATURES), 32, 64, 128, 256, len(COUNTRIES)]
    inits = [
        numpy_helper.from_array(minima, "minima"),
        numpy_helper.from_array((1.0 / ranges).astype(np.float32), "inverse_ranges"),
    ]
    nodes = [
        helper.make_node("Concat", list(FEATURES), ["x"], axis=1),
        helper.make_node("Sub", ["x", "minima"], ["shifted"]),
        helper.make_node("Mul", ["shifted", "inverse_ranges"], ["h0"]),
    ]
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:], strict=False)):
        w = rng.normal(scale=np.sqrt(2 / n_in), size=(n_in, n_out)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"),
                  numpy_helper.from_array(np.zeros(n_out, np.float32), f"b{i}")]  # fmt: skip
        nodes += [helper.make_node("MatMul", [f"h{i}", f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"z{i}"])]  # fmt: skip
        last = i == len(widths) - 2
        nodes.append(
            helper.make_node("Softmax", [f"z{i}"], ["output"], axis=1)
            if last
            else helper.make_node("Relu", [f"z{i}"], [f"h{i + 1}"])
        )
    inputs = [helper.make_tensor_value_info(f, TensorProto.FLOAT, ["N", 1]) for f in FEATURES]
    output = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", len(COUNTRIES)])
    model = helper.make_model(
        helper.make_graph(nodes, "workshop_shaped", inputs, [output], inits),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    onnx_path = directory / "model.tmp.onnx"
    onnx.save(model, onnx_path)
    labels = tuple(COUNTRIES)
    pre = Preprocessing(FEATURES, tuple(map(float, minima)),
                        tuple(map(float, minima + ranges)), labels)  # fmt: skip
    bundle = directory / "bundle"
    write_bundle(bundle, onnx_model=onnx_path, preprocessing=pre, report=tiny_report(labels))
    reference.to_parquet(bundle / REFERENCE_FILE, index=False)
    return bundle


def timed(call, rounds: int = ROUNDS) -> tuple[float, list[float], object]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, help="a bundle with reference.parquet")
    parser.add_argument("--song", default="Not Like Us")
    parser.add_argument("--country", default="TR")
    parser.add_argument("--target", type=float, default=0.3)
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"python {platform.python_version()}")  # fmt: skip
    print("loadavg before:", Path("/proc/loadavg").read_text().strip())
    catalogue = songs()
    with tempfile.TemporaryDirectory() as tmp:
        if args.bundle:
            bundle = args.bundle
        else:
            sample = catalogue.loc[:, list(FEATURES)].astype(float)
            sample = sample.sample(min(5_000, len(sample)), random_state=0)
            bundle = workshop_shaped_bundle(Path(tmp), sample)
        predict = predictor_from_bundle(bundle)
        reference = bundle_reference(bundle)
        named = catalogue[catalogue["name"] == args.song]
        row = named.iloc[0] if len(named) else catalogue.iloc[0]
        song = {f: float(row[f]) for f in FEATURES}
        print(f"model: {bundle if args.bundle else 'workshop-shaped, random weights'}, "
              f"{len(predict.labels)} countries; reference {len(reference)} songs; "
              f"song: {row['name']} — {row['artists']}")  # fmt: skip

        started = time.perf_counter()
        explain_song(predict, song, reference)
        print(f"attributions, top 5 countries, first call: {time.perf_counter() - started:.3f} s")
        median, times, why = timed(lambda: explain_song(predict, song, reference))
        print(f"attributions, top 5 countries: median {median:.3f} s "
              f"({', '.join(f'{t:.3f}' for t in times)}) — goal < 1 s")  # fmt: skip
        print("  " + why_sentences(why[0], 1)[0])

        country = args.country if args.country in predict.labels else why[-1].country
        median, times, cf = timed(
            lambda: find_counterfactual(predict, song, country, args.target, reference)
        )
        print(f"counterfactual {country} ≥ {args.target}: median {median:.3f} s "
              f"({', '.join(f'{t:.3f}' for t in times)}) — goal < 5 s")  # fmt: skip
        print("  " + what_if_sentence(cf))

        median, times, table = timed(
            lambda: global_importance(predict, reference, reference), rounds=1
        )
        print(f"global importance, 50 songs × 10 background, {len(table)} countries: "
              f"{median:.3f} s")  # fmt: skip
    print("loadavg after:", Path("/proc/loadavg").read_text().strip())


if __name__ == "__main__":
    main()
