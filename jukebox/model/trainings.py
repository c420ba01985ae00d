"""Trainings on disk: train, evaluate and export one model into its own directory, and find them.

Each training lives in ``settings.models_dir/<training id>/``::

    model.keras          the trained Keras model (raw features in, scaling inside)
    preprocessing.json   feature order, training-split minima and maxima, labels in output order
    metrics.json         test metrics, params, training history, data source, and after export
                         "verification" and "onnx"
    test_split.parquet   the raw test rows (features + country), so export can verify later
    model.onnx           after export (then the directory is a ModelBundle)
    model_card.md        after export

A training directory becomes a bundle (``read_bundle`` accepts it) once it is exported. The
training id is the background job's id when the page started it, so the two can be matched, and
sorts by start time.

This module is what the CLI, the background job and the pipelines call; pages call it too, but
only through functions that import TensorFlow when they run.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from jukebox.config import Settings
from jukebox.data.preparation import Prepared, prepare
from jukebox.data.schema import LABEL
from jukebox.jobs import new_job_id
from jukebox.model.bundle import (
    KERAS_FILE,
    METRICS_FILE,
    ONNX_FILE,
    PREPROCESSING_FILE,
    BundleError,
    Preprocessing,
    file_sha256,
    write_bundle,
)
from jukebox.model.evaluation import SUMMARY_METRICS, chance_accuracy, evaluate
from jukebox.model.network import TrainingParams
from jukebox.model.training import ProgressListener, TrainingResult

if TYPE_CHECKING:
    import keras

    from jukebox.data.songdata import SongData

TEST_SPLIT_FILE = "test_split.parquet"


@dataclass(frozen=True)
class TrainingRecord:
    """One training directory as read back from disk (no TensorFlow needed)."""

    id: str
    path: Path
    metrics: dict

    @property
    def exported(self) -> bool:
        return (self.path / ONNX_FILE).is_file()

    @property
    def verification(self) -> dict:
        return self.metrics.get("verification") or {}

    @property
    def verification_passed(self) -> bool:
        return self.verification.get("passed") is True

    @property
    def params(self) -> dict:
        return self.metrics.get("params", {})

    @property
    def source(self) -> str:
        return self.metrics.get("data", {}).get("source", "")

    @property
    def label(self) -> str:
        """A short name for pickers: id, accuracy and whether it is exported."""
        accuracy = self.metrics.get("accuracy")
        score = f"accuracy {accuracy:.3f}" if isinstance(accuracy, float) else "no metrics"
        state = (
            "export verified"
            if self.verification_passed
            else "export FAILED"
            if self.exported
            else "not exported"
        )
        return f"{self.id} · {score} · {state}"

    def summary(self) -> dict:
        """One flat row for a comparison table."""
        training = self.metrics.get("training", {})
        return {
            "training": self.id,
            **{name: self.metrics.get(name) for name in SUMMARY_METRICS},
            "accuracy_to_bayes": self.metrics.get("accuracy_to_bayes"),
            **{k: self.params.get(k) for k in TrainingParams.__dataclass_fields__},
            "epochs_run": training.get("epochs_run"),
            "seconds": training.get("seconds"),
            "stopped_early": training.get("stopped"),
            "source": self.source,
            "exported": self.exported,
            "verified": self.verification_passed,
        }


def training_dir(settings: Settings, training_id: str) -> Path:
    return settings.models_dir / training_id


def load_training(path: str | Path) -> TrainingRecord | None:
    """The training in ``path``, or None when it holds no finished training."""
    path = Path(path)
    try:
        metrics = json.loads((path / METRICS_FILE).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not (path / PREPROCESSING_FILE).is_file():
        return None
    return TrainingRecord(path.name, path, metrics)


def list_trainings(settings: Settings) -> list[TrainingRecord]:
    """Every finished training under ``settings.models_dir``, newest first."""
    root = settings.models_dir
    if not root.is_dir():
        return []
    records = (load_training(d) for d in sorted(root.iterdir(), reverse=True) if d.is_dir())
    return [r for r in records if r is not None]


def machine() -> str:
    """The machine a figure was measured on, in one line."""
    import os

    return f"{platform.machine()} · {os.cpu_count()} CPU · Python {platform.python_version()}"


def run_training(
    settings: Settings,
    data: SongData,
    params: TrainingParams | None = None,
    *,
    training_id: str | None = None,
    listeners: Iterable[ProgressListener] = (),
    should_stop: Callable[[], bool] | None = None,
    export: bool = True,
    on_phase: Callable[[str], None] | None = None,
    data_version: str | None = None,
) -> TrainingRecord:
    """Prepare ``data``, train, evaluate on the test split, save, and (by default) export.

    ``on_phase`` is told each phase as it starts (``preparing``, ``training``, ``evaluating``,
    ``saving``, ``exporting``). ``data_version`` (an id of the data's content, such as a hash
    over its files) is recorded in ``metrics.json`` under ``data.version``. Errors a user can
    cause (data too small, NaN loss) are raised as ``PreparationError`` / ``TrainingError``
    saying what to change.
    """
    from jukebox.data.merge import merge_tables
    from jukebox.model.training import predict, train

    params = params or TrainingParams()
    phase = on_phase or (lambda _name: None)
    phase("preparing")
    prepared = prepare(merge_tables(data.properties, data.rankings), seed=params.seed)
    phase("training")
    result = train(prepared, params, listeners=listeners, should_stop=should_stop)
    phase("evaluating")
    probabilities = predict(result.model, prepared, prepared.x_test)
    metrics = evaluate(
        probabilities, prepared.y_test, prepared.labels, bayes_accuracy=data.bayes_accuracy
    )
    phase("saving")
    path = training_dir(settings, training_id or new_job_id())
    summary = _data_summary(data, prepared)
    if data_version:
        summary["version"] = data_version
    save_training(path, result, prepared, metrics, data_summary=summary)
    if export:
        phase("exporting")
        export_training(path, model=result.model)
    record = load_training(path)
    assert record is not None
    return record


def _data_summary(data: SongData, prepared: Prepared) -> dict:
    return {
        "source": data.source,
        "songs": int(data.n_songs),
        "ranking_rows": int(len(data.rankings)),
        "bayes_accuracy": data.bayes_accuracy,
        "seed": data.seed,
        "split": prepared.summary(),
        "chance_accuracy": chance_accuracy(prepared.y_train, prepared.y_test),
    }


def save_training(
    path: Path,
    result: TrainingResult,
    prepared: Prepared,
    metrics: dict,
    *,
    data_summary: dict,
) -> None:
    """Write model.keras, preprocessing.json, metrics.json and the test split into ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    result.model.save(path / KERAS_FILE)
    (path / PREPROCESSING_FILE).write_text(prepared.preprocessing().to_json())
    test = pd.DataFrame(prepared.x_test, columns=list(prepared.features))
    test[LABEL] = prepared.decode(prepared.y_test)
    test.to_parquet(path / TEST_SPLIT_FILE, index=False)
    full = {
        **metrics,
        "training_id": path.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "params": result.params.to_dict(),
        "training": {
            "epochs_run": result.epochs_run,
            "stopped": result.stopped,
            "seconds": result.seconds,
            "history": result.history,
            "machine": machine(),
        },
        "data": data_summary,
    }
    (path / METRICS_FILE).write_text(json.dumps(full, indent=2, default=float))


def read_test_split(path: Path, preprocessing: Preprocessing) -> tuple[np.ndarray, np.ndarray]:
    """Raw test features (columns in the model's feature order) and their countries."""
    try:
        test = pd.read_parquet(path / TEST_SPLIT_FILE)
    except FileNotFoundError as error:
        raise BundleError(
            f"{path.name} has no {TEST_SPLIT_FILE}: it was not written by a training, so there "
            "is no test split to verify the export against."
        ) from error
    x = test[list(preprocessing.features)].to_numpy(dtype=np.float32)
    return x, test[LABEL].astype(str).to_numpy()


def keras_probabilities(model: keras.Model, features, x: np.ndarray) -> np.ndarray:
    """The Keras model's output on raw rows ``x``, by direct calls on large chunks.

    Calling the model eagerly skips ``predict``'s graph tracing, which costs more than the
    arithmetic for a few hundred thousand rows.
    """
    chunk = 65536
    parts = []
    for start in range(0, len(x), chunk):
        rows = np.asarray(x[start : start + chunk], dtype=np.float32)
        inputs = [rows[:, i : i + 1] for i in range(len(features))]
        parts.append(np.asarray(model(inputs, training=False)))
    if not parts:
        return np.zeros((0, model.outputs[0].shape[-1]), dtype=np.float32)
    return np.concatenate(parts).astype(np.float32)


def export_training(path: str | Path, *, model: keras.Model | None = None) -> dict:
    """Export the training in ``path`` to ONNX, verify it on its test split, write the bundle.

    The bundle is written whether verification passes or not: a failed one carries
    ``verification.passed = false`` and its problems, so it is shown as failed and can never be
    registered. Returns the verification figures.
    """
    import keras

    from jukebox.model.export import describe_onnx, export_onnx, verify

    path = Path(path)
    preprocessing = Preprocessing.from_json((path / PREPROCESSING_FILE).read_text())
    metrics = json.loads((path / METRICS_FILE).read_text())
    x_test, _countries = read_test_split(path, preprocessing)
    started = time.perf_counter()
    model = model or keras.models.load_model(path / KERAS_FILE)
    expected = keras_probabilities(model, preprocessing.features, x_test)
    predicted = time.perf_counter()
    tmp = path / f".{ONNX_FILE}.tmp"
    export_onnx(model, preprocessing.features, preprocessing.labels, tmp)
    exported = time.perf_counter()
    verification = verify(tmp, expected, preprocessing.features, x_test)
    verification["keras_predict_seconds"] = predicted - started
    verification["convert_seconds"] = exported - predicted
    verification["export_seconds"] = exported - started
    verification["total_seconds"] = time.perf_counter() - started
    description = describe_onnx(tmp)
    metrics["verification"] = verification
    metrics["onnx"] = {
        "sha256": file_sha256(tmp),
        "opset": description["opset"],
        "producer": description["producer"],
        "inputs": description["inputs"],
        "outputs": description["outputs"],
        "bytes": description["bytes"],
    }
    metrics["exported"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        write_bundle(
            path,
            onnx_model=tmp,
            preprocessing=preprocessing,
            metrics=metrics,
            model_card=model_card(path.name, metrics, preprocessing),
        )
    finally:
        tmp.unlink(missing_ok=True)
    return verification


def _fmt(value, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return "—" if value is None else str(value)


def model_card(training_id: str, metrics: dict, preprocessing: Preprocessing) -> str:
    """A Markdown model card: what the model does, how it was trained, how good it is."""
    data = metrics.get("data", {})
    params = metrics.get("params", {})
    training = metrics.get("training", {})
    verification = metrics.get("verification", {})
    split = data.get("split", {})
    lines = [
        f"# Jukebox model {training_id}",
        "",
        "Predicts, from a song's 13 Spotify audio features, the probability that it charts in "
        f"each of {len(preprocessing.labels)} countries.",
        "",
        "## Inputs and output",
        "",
        "One FP32 input of shape [N, 1] per feature, raw values (the min-max scaling fitted on "
        "the training split is inside the graph), in this order: "
        + ", ".join(f"`{f}`" for f in preprocessing.features)
        + ".",
        "",
        "Output `output`, FP32 [N, countries]: softmax probabilities, columns in this order: "
        + ", ".join(preprocessing.labels)
        + ".",
        "",
        "## Data",
        "",
        f"- Source: {data.get('source', 'unknown')}",
        f"- Split: {split.get('train', '?')} training, {split.get('validation', '?')} "
        f"validation, {split.get('test', '?')} test rows; test = chart dates "
        f"{split.get('test_from', '?')} to {split.get('test_to', '?')} (the latest 20%).",
        "",
        "## Training",
        "",
        *(f"- {k}: {v}" for k, v in params.items()),
        f"- epochs run: {training.get('epochs_run')}"
        + (" (stopped early by the user)" if training.get("stopped") else ""),
        f"- time: {_fmt(training.get('seconds'), 3)} s on {training.get('machine', '?')}",
        "",
        "## Test metrics",
        "",
        "| metric | value |",
        "|---|---|",
        *(f"| {name} | {_fmt(metrics.get(name))} |" for name in SUMMARY_METRICS),
        f"| chance (most frequent country) | {_fmt(data.get('chance_accuracy'))} |",
    ]
    if metrics.get("bayes_accuracy"):
        lines.append(f"| Bayes ceiling of the data | {_fmt(metrics.get('bayes_accuracy'))} |")
        lines.append(f"| accuracy / Bayes ceiling | {_fmt(metrics.get('accuracy_to_bayes'))} |")
    lines += [
        "",
        "## Export verification",
        "",
        f"- passed: **{verification.get('passed')}** (tolerance {verification.get('tolerance')})",
        f"- onnxruntime max |ONNX - Keras|: {_fmt(verification.get('onnxruntime_max_abs_diff'))}",
        f"- OpenVINO max |ONNX - Keras|: {_fmt(verification.get('openvino_max_abs_diff'))}",
        f"- rows compared: {verification.get('rows')}",
        *(f"- problem: {p}" for p in verification.get("problems", [])),
        "",
        "## Limits",
        "",
        "Audio features say only part of why a song charts somewhere; language, artists and "
        "marketing are not in them. Treat the probabilities as a hint, not a forecast.",
        "",
    ]
    return "\n".join(lines)


def bundle_zip(path: str | Path) -> bytes:
    """The bundle files of ``path`` as a zip archive in memory, for a download button."""
    import io
    import zipfile

    from jukebox.model.bundle import BUNDLE_FILES

    path = Path(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in BUNDLE_FILES:
            if (path / name).is_file():
                archive.write(path / name, f"{path.name}/{name}")
    return buffer.getvalue()
