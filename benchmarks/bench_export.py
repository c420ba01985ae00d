"""How long export plus verification takes for a model trained on the default data set.

Exports the newest training under ``--home`` (as ``bench_training.py --home`` leaves it; or trains
a default 2-epoch model first when there is none) with tf2onnx, then verifies it with onnxruntime
and OpenVINO against Keras on the whole test split, and prints: the machine, the test rows, the
conversion time, the verification time, the total, and both runtimes' largest absolute
difference. TensorFlow's import time is printed apart: a page or job pays it once.

    python benchmarks/bench_training.py --no-reference --home /tmp/jb
    python benchmarks/bench_export.py --home /tmp/jb

Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_training import machine  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="JUKEBOX_HOME with a training")
    args = parser.parse_args()

    from jukebox.config import load_settings
    from jukebox.model.runs import list_trainings
    from jukebox.model.workflow import export_training

    print(f"machine: {machine()}")
    settings = load_settings({"JUKEBOX_HOME": str(args.home)})
    records = list_trainings(settings)
    if not records:
        sys.exit(
            f"No training under {settings.models_dir}: run "
            f"`python benchmarks/bench_training.py --no-reference --home {args.home}` first."
        )
    record = records[0]
    started = time.perf_counter()
    import keras  # noqa: F401  (timed apart: every exporting process pays it once)
    import tf2onnx  # noqa: F401

    print(f"import TensorFlow, Keras and tf2onnx: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    verification = export_training(record.path).verification
    total = time.perf_counter() - started
    seconds = verification.seconds
    print(
        f"export of {record.id} ({record.report.data.source}): {verification.rows:,} test rows; "
        f"load model + Keras predict {seconds.get('keras_predict', 0):.2f} s, tf2onnx "
        f"{seconds.get('convert', 0):.2f} s, verify {seconds.get('verify', 0):.2f} s "
        f"(onnxruntime {seconds.get('onnxruntime', 0):.2f} s, OpenVINO "
        f"{seconds.get('openvino', 0):.2f} s); total with bundle writing {total:.2f} s"
    )
    print(
        f"verification {'passed' if verification.passed else 'FAILED'}: onnxruntime max abs "
        f"diff {verification.onnxruntime_max_abs_diff:.2e}, OpenVINO max abs diff "
        f"{verification.openvino_max_abs_diff:.2e} (tolerance {verification.tolerance:g})"
    )


if __name__ == "__main__":
    main()
