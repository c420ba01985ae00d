"""A training's directory: the one place that reads and writes it.

Steps never open files (Kedro's catalog is the model): the workflow hands this module typed
values to save and gets typed values back. Each training lives in
``settings.models_dir/<training id>/``::

    model.keras          the trained Keras model (raw features in, scaling inside)
    preprocessing.json   feature order, training-split minima and maxima, labels in output order
    metrics.json         the ModelReport: test metrics, params, fitting, data, and after export
                         the verification and the ONNX facts
    test_split.parquet   the raw test rows (features + country), so export can verify later
    model.onnx           after export (then the directory is a ModelBundle)
    model_card.md        after export
    experiment_run.json  the experiment run in the model registry that logged this training
                         (experiment, ids, name), when it was tracked; registering the bundle
                         links the version to that run

The training id is the background job's id when a page started it, so the two can be matched,
and sorts by start time.
"""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from jukebox.config import Settings
from jukebox.data.preprocessing import Preprocessing
from jukebox.data.schema import LABEL
from jukebox.model.bundle import (
    BUNDLE_FILES,
    KERAS_FILE,
    METRICS_FILE,
    ONNX_FILE,
    PREPROCESSING_FILE,
    REFERENCE_FILE,
    BundleError,
    write_bundle,
)
from jukebox.model.card import model_card
from jukebox.model.report import SUMMARY_METRICS, Evaluation, FitFacts, ModelReport, Verification

if TYPE_CHECKING:
    import keras

TEST_SPLIT_FILE = "test_split.parquet"


@dataclass(frozen=True)
class TrainingRecord:
    """One training directory as read back from disk (no TensorFlow needed)."""

    id: str
    path: Path
    report: ModelReport

    @property
    def exported(self) -> bool:
        return (self.path / ONNX_FILE).is_file()

    @property
    def verification(self) -> Verification | None:
        return self.report.verification

    @property
    def verification_passed(self) -> bool:
        return self.report.verification_passed

    @property
    def label(self) -> str:
        """A short name for pickers: id, accuracy and whether it is exported."""
        state = (
            "export verified"
            if self.verification_passed
            else "export FAILED"
            if self.exported
            else "not exported"
        )
        return f"{self.id} · accuracy {self.report.evaluation.accuracy:.3f} · {state}"

    def summary(self) -> dict:
        """One flat row for a comparison table."""
        report = self.report
        return {
            "training": self.id,
            **{name: getattr(report.evaluation, name) for name in SUMMARY_METRICS},
            "accuracy_to_bayes": report.evaluation.accuracy_to_bayes,
            **report.params,
            "epochs_run": report.fit.epochs_run,
            "seconds": report.fit.seconds,
            "stopped_early": report.fit.stopped,
            "source": report.data.source,
            "exported": self.exported,
            "verified": self.verification_passed,
        }


def training_dir(settings: Settings, training_id: str) -> Path:
    return settings.models_dir / training_id


def load_training(path: str | Path) -> TrainingRecord | None:
    """The training in ``path``, or None when it holds no finished training."""
    path = Path(path)
    if not (path / PREPROCESSING_FILE).is_file():
        return None
    try:
        report = ModelReport.from_json((path / METRICS_FILE).read_text())
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    return TrainingRecord(path.name, path, report)


def list_trainings(settings: Settings) -> list[TrainingRecord]:
    """Every finished training under ``settings.models_dir``, newest first."""
    root = settings.models_dir
    if not root.is_dir():
        return []
    records = (load_training(d) for d in sorted(root.iterdir(), reverse=True) if d.is_dir())
    return [r for r in records if r is not None]


def save_training(
    path: Path,
    model: keras.Model | Path,
    preprocessing: Preprocessing,
    report: ModelReport,
    x_test: np.ndarray,
    countries_test: np.ndarray,
    x_train: np.ndarray | None = None,
) -> TrainingRecord:
    """Write model.keras, preprocessing.json, metrics.json and the raw test split into ``path``,
    and with ``x_train`` the bundle's drift reference (a sample of its raw rows).

    ``model`` is the Keras model, or a ``model.keras`` file already written (copied as it is,
    so a pipeline step need not load TensorFlow to save it).
    """
    path.mkdir(parents=True, exist_ok=True)
    if isinstance(model, Path):
        shutil.copyfile(model, path / KERAS_FILE)
    else:
        model.save(path / KERAS_FILE)
    (path / PREPROCESSING_FILE).write_text(preprocessing.to_json())
    test = pd.DataFrame(x_test, columns=list(preprocessing.features))
    test[LABEL] = countries_test
    test.to_parquet(path / TEST_SPLIT_FILE, index=False)
    if x_train is not None:
        reference_sample(x_train, preprocessing.features).to_parquet(
            path / REFERENCE_FILE, index=False
        )
    (path / METRICS_FILE).write_text(report.to_json())
    return TrainingRecord(path.name, path, report)


REFERENCE_ROWS = 5_000


def reference_sample(x_train: np.ndarray, features: Sequence[str]) -> pd.DataFrame:
    """At most :data:`REFERENCE_ROWS` raw training rows drawn without replacement (the same
    ones for the same split), as the monitoring service's ``TRAINING`` reference."""
    rng = np.random.default_rng(0)
    rows = rng.choice(len(x_train), min(REFERENCE_ROWS, len(x_train)), replace=False)
    return pd.DataFrame(x_train[np.sort(rows)], columns=list(features))


def read_reference(path: Path) -> pd.DataFrame | None:
    """The bundle's drift reference, or None for a bundle trained before there was one."""
    try:
        return pd.read_parquet(path / REFERENCE_FILE)
    except FileNotFoundError:
        return None


def read_preprocessing(path: Path) -> Preprocessing:
    return Preprocessing.from_json((path / PREPROCESSING_FILE).read_text())


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


def read_keras(path: Path) -> keras.Model:
    import keras

    # safe_mode=True: a Lambda layer's Python code is refused, never run (Keras's default too, said
    # here so that no change of default can turn it off).
    return keras.models.load_model(path / KERAS_FILE, safe_mode=True)


FIT_FILE = "fit.json"


PROBABILITIES_FILE = "test_probabilities.parquet"


def save_fitted(
    directory: Path, model: keras.Model, fit: FitFacts, probabilities: np.ndarray, labels
) -> None:
    """A fitted model, how fitting went, and its output on the test split (one column per
    country): what a pipeline's train step hands on, so evaluating and verifying need no
    TensorFlow."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / KERAS_FILE)
    (directory / FIT_FILE).write_text(json.dumps(asdict(fit), indent=2))
    frame = pd.DataFrame(np.asarray(probabilities, dtype=np.float32), columns=list(labels))
    frame.to_parquet(directory / PROBABILITIES_FILE, index=False)


def keras_file(directory: Path) -> Path:
    return directory / KERAS_FILE


def read_fit(directory: Path) -> FitFacts:
    return FitFacts.from_dict(json.loads((directory / FIT_FILE).read_text()))


def read_test_probabilities(directory: Path) -> np.ndarray:
    """The Keras model's output on the test split, as :func:`save_fitted` wrote it."""
    return pd.read_parquet(directory / PROBABILITIES_FILE).to_numpy(dtype=np.float32)


def save_json(path: Path, record: Evaluation | Verification) -> None:
    """An evaluation or a verification, as one pipeline step hands it to the next."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record.to_dict(), indent=2))


def read_evaluation(path: Path) -> Evaluation:
    return Evaluation.from_dict(json.loads(path.read_text()))


def read_verification(path: Path) -> Verification:
    return Verification.from_dict(json.loads(path.read_text()))


def save_export(
    path: Path, onnx_file: Path, preprocessing: Preprocessing, report: ModelReport
) -> TrainingRecord:
    """Make the training directory a bundle: the ONNX file, the updated report, the model card.

    Written whether verification passed or not: a failed one carries its problems, so it is
    shown as failed and can never be registered.
    """
    write_bundle(
        path,
        onnx_model=onnx_file,
        preprocessing=preprocessing,
        report=report,
        model_card=model_card(path.name, report, preprocessing),
    )
    return TrainingRecord(path.name, path, report)


RUN_FILE = "experiment_run.json"


def save_run_ref(path: str | Path, run: Mapping[str, Any]) -> None:
    """Record which experiment run logged the training in ``path`` (a ``RunRef`` as a dict)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / RUN_FILE).write_text(json.dumps(dict(run), indent=2))


def read_run_ref(path: str | Path) -> dict[str, Any] | None:
    """The experiment run recorded in ``path``, or None when the training was not tracked (or
    the record is unreadable: a bundle without a run registers all the same)."""
    try:
        data = json.loads((Path(path) / RUN_FILE).read_text())
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("run_id") else None


def bundle_zip(path: str | Path) -> bytes:
    """The bundle files of ``path`` as a zip archive in memory, for a download button."""
    path = Path(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in BUNDLE_FILES:
            if (path / name).is_file():
                archive.write(path / name, f"{path.name}/{name}")
    return buffer.getvalue()
