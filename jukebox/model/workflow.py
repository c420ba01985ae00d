"""One training, wired: prepare → fit → evaluate → save → export → verify.

Each step is a plain function of its own module (``data.preparation.prepare``,
``model.fit.train``, ``model.evaluation.evaluate``, ``model.export.export_onnx`` and ``verify``);
this module only calls them in order and hands what they return to ``model.runs``, the one place
that reads and writes a training's directory. The CLI, the background training job and the
pipelines' components call these functions; pages reach them through those.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from jukebox.config import Settings
from jukebox.data.preparation import Prepared, prepare
from jukebox.jobs import new_job_id
from jukebox.model.network import TrainingParams
from jukebox.model.report import (
    DataFacts,
    Evaluation,
    FitFacts,
    ModelReport,
    SplitFacts,
    Verification,
)
from jukebox.model.runs import (
    TrainingRecord,
    read_keras,
    read_preprocessing,
    read_test_split,
    save_export,
    save_training,
    training_dir,
)

if TYPE_CHECKING:
    import keras
    import numpy as np

    from jukebox.data.preprocessing import Preprocessing
    from jukebox.data.songdata import SongData
    from jukebox.model.fit import ProgressListener

Phase = Callable[[str], None]


def machine() -> str:
    """The machine a figure was measured on, in one line."""
    return f"{platform.machine()} · {os.cpu_count()} CPU · Python {platform.python_version()}"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """A fitted Keras model with the prepared data it learnt from, its report, and its output on
    the test split (evaluated, then kept so that verifying the export does not predict again)."""

    model: keras.Model
    prepared: Prepared
    report: ModelReport
    test_output: np.ndarray


def data_facts(summary: Mapping, prepared: Prepared, version: str | None = None) -> DataFacts:
    """What the report records of the data: source, size, split, ceiling, version.

    ``summary`` is ``SongData.summary()`` or a data set directory's ``dataset.json``.
    """
    from jukebox.model.evaluation import chance_accuracy

    return DataFacts(
        source=str(summary.get("source", "")),
        songs=int(summary.get("songs", 0)),
        ranking_rows=int(summary.get("ranking_rows", 0)),
        split=SplitFacts.from_dict(prepared.summary()),
        chance_accuracy=chance_accuracy(prepared.y_train, prepared.y_test),
        bayes_accuracy=summary.get("bayes_accuracy"),
        seed=summary.get("seed"),
        version=version,
    )


def fit_model(
    prepared: Prepared,
    params: TrainingParams,
    *,
    listeners: Iterable[ProgressListener] = (),
    should_stop: Callable[[], bool] | None = None,
) -> tuple[keras.Model, FitFacts]:
    """Fit the network on ``prepared``: the model and how fitting went."""
    from jukebox.model.fit import train

    fitted = train(prepared, params, listeners=listeners, should_stop=should_stop)
    facts = FitFacts(fitted.epochs_run, fitted.stopped, fitted.seconds, fitted.history, machine())
    return fitted.model, facts


def evaluate_model(
    model: keras.Model, prepared: Prepared, bayes_accuracy: float | None = None
) -> Evaluation:
    """The model's figures on the test split."""
    return _evaluate_output(predict_test_split(model, prepared), prepared, bayes_accuracy)


def predict_test_split(model: keras.Model, prepared: Prepared) -> np.ndarray:
    """The model's probabilities for each row of the test split."""
    from jukebox.model.fit import predict

    return predict(model, prepared.features, prepared.x_test)


def _evaluate_output(
    output: np.ndarray, prepared: Prepared, bayes_accuracy: float | None
) -> Evaluation:
    from jukebox.model.evaluation import evaluate

    return evaluate(output, prepared.y_test, prepared.labels, bayes_accuracy=bayes_accuracy)


def new_report(
    training_id: str,
    params: TrainingParams,
    fit: FitFacts,
    data: DataFacts,
    evaluation: Evaluation,
) -> ModelReport:
    return ModelReport(
        training_id=training_id,
        created=_now(),
        params=params.to_dict(),
        fit=fit,
        data=data,
        evaluation=evaluation,
    )


def train_model(
    data: SongData,
    params: TrainingParams | None = None,
    *,
    training_id: str = "",
    listeners: Iterable[ProgressListener] = (),
    should_stop: Callable[[], bool] | None = None,
    on_phase: Phase | None = None,
    data_version: str | None = None,
) -> TrainedModel:
    """Prepare ``data``, fit the network and evaluate it on the test split (nothing is saved).

    ``on_phase`` is told each phase as it starts (``preparing``, ``training``, ``evaluating``).
    Errors a user can cause (data too small, non-finite values, a diverging loss) are raised as
    ``PreparationError`` / ``TrainingError`` saying what to change.
    """
    from jukebox.data.merge import merge_tables

    params = params or TrainingParams()
    phase = on_phase or (lambda _name: None)
    phase("preparing")
    prepared = prepare(merge_tables(data.properties, data.rankings), seed=params.seed)
    phase("training")
    model, fit = fit_model(prepared, params, listeners=listeners, should_stop=should_stop)
    phase("evaluating")
    output = predict_test_split(model, prepared)
    evaluation = _evaluate_output(output, prepared, data.bayes_accuracy)
    facts = data_facts(data.summary(), prepared, data_version)
    report = new_report(training_id, params, fit, facts, evaluation)
    return TrainedModel(model, prepared, report, output)


def convert_model(model: keras.Model, preprocessing: Preprocessing, onnx_file: Path) -> None:
    """Convert ``model`` to ONNX at ``onnx_file``, names and shapes as the contract says."""
    from jukebox.model.export import export_onnx

    export_onnx(model, preprocessing.features, preprocessing.labels, onnx_file)


def verify_model(
    model: keras.Model,
    preprocessing: Preprocessing,
    x_test: np.ndarray,
    onnx_file: Path,
    expected: np.ndarray | None = None,
) -> Verification:
    """Check the ONNX file against the Keras model on ``x_test`` with both runtimes;
    ``expected``, the Keras output on ``x_test`` when already computed, spares predicting it."""
    from jukebox.model.export import verify
    from jukebox.model.fit import predict

    started = time.perf_counter()
    if expected is None:
        expected = predict(model, preprocessing.features, x_test)
    predicted = time.perf_counter()
    verification = verify(onnx_file, expected, preprocessing.features, x_test)
    seconds = {**verification.seconds, "keras_predict": predicted - started}
    return replace(verification, seconds=seconds)


def export_model(
    model: keras.Model,
    preprocessing: Preprocessing,
    x_test: np.ndarray,
    onnx_file: Path,
    expected: np.ndarray | None = None,
) -> Verification:
    """Convert ``model`` to ONNX at ``onnx_file`` and verify it, timing each part."""
    started = time.perf_counter()
    convert_model(model, preprocessing, onnx_file)
    converted = time.perf_counter()
    verification = verify_model(model, preprocessing, x_test, onnx_file, expected)
    seconds = {
        **verification.seconds,
        "convert": converted - started,
        "export": converted - started + verification.seconds["keras_predict"],
        "total": time.perf_counter() - started,
    }
    return replace(verification, seconds=seconds)


def export_training(
    path: str | Path,
    *,
    model: keras.Model | None = None,
    test_output: np.ndarray | None = None,
) -> TrainingRecord:
    """Export the saved training in ``path`` to ONNX, verify it on its test split, and make the
    directory a bundle. ``model`` spares reading ``model.keras`` back when it is at hand, and
    ``test_output`` (its output on the saved test split) predicting that split again."""
    from jukebox.model.export import onnx_facts
    from jukebox.model.runs import load_training

    path = Path(path)
    record = load_training(path)
    if record is None:
        from jukebox.model.bundle import BundleError

        raise BundleError(f"{path} holds no finished training to export.")
    preprocessing = read_preprocessing(path)
    x_test, _countries = read_test_split(path, preprocessing)
    model = model or read_keras(path)
    with tempfile.TemporaryDirectory(dir=path) as scratch:
        onnx_file = Path(scratch) / "model.onnx"
        verification = export_model(model, preprocessing, x_test, onnx_file, test_output)
        report = record.report.with_export(verification, onnx_facts(onnx_file), _now())
        return save_export(path, onnx_file, preprocessing, report)


def run_training(
    settings: Settings,
    data: SongData,
    params: TrainingParams | None = None,
    *,
    training_id: str | None = None,
    listeners: Iterable[ProgressListener] = (),
    should_stop: Callable[[], bool] | None = None,
    export: bool = True,
    on_phase: Phase | None = None,
    data_version: str | None = None,
) -> TrainingRecord:
    """Train on ``data``, save the training under ``settings.models_dir`` and (by default)
    export it: the whole model lab in one call, as the CLI and the background job run it."""
    phase = on_phase or (lambda _name: None)
    training_id = training_id or new_job_id()
    trained = train_model(
        data,
        params,
        training_id=training_id,
        listeners=listeners,
        should_stop=should_stop,
        on_phase=phase,
        data_version=data_version,
    )
    phase("saving")
    prepared = trained.prepared
    record = save_training(
        training_dir(settings, training_id),
        trained.model,
        prepared.preprocessing(),
        trained.report,
        prepared.x_test,
        prepared.decode(prepared.y_test),
        x_train=prepared.x_train,
    )
    if export:
        phase("exporting")
        record = export_training(record.path, model=trained.model, test_output=trained.test_output)
    return record
