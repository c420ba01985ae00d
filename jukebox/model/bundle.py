"""ModelBundle: the directory a trained model travels in, and the same layout in object storage.

``models/<name>/<version>/`` holds ``model.onnx`` (raw features in, probabilities out),
``model.keras``, ``preprocessing.json`` (scaler minima and maxima, feature order, country labels
in output order), ``metrics.json``, ``model_card.md`` and, for bundles trained since monitoring
came, ``reference.parquet``: a sample of the raw training rows (at most 5,000, as the workshop
uploads ``X_train[:5000]``), which a deployment uploads to the monitoring service as its
``TRAINING`` reference, so drift is measured against what this very model learned from.
Everything but the two models is JSON, text or Parquet: reading a bundle never executes code.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from jukebox.data.preprocessing import Preprocessing, ScalingError
from jukebox.errors import JukeboxError
from jukebox.model.report import ModelReport

ONNX_FILE = "model.onnx"
KERAS_FILE = "model.keras"
PREPROCESSING_FILE = "preprocessing.json"
METRICS_FILE = "metrics.json"
CARD_FILE = "model_card.md"
REFERENCE_FILE = "reference.parquet"
BUNDLE_FILES = (ONNX_FILE, KERAS_FILE, PREPROCESSING_FILE, METRICS_FILE, CARD_FILE, REFERENCE_FILE)
REQUIRED_FILES = (ONNX_FILE, PREPROCESSING_FILE)


class BundleError(JukeboxError, ValueError):
    """A directory is not a usable bundle; the message says which file is wrong."""


@dataclass(frozen=True)
class ModelBundle:
    """A bundle directory that has been read and checked."""

    path: Path
    preprocessing: Preprocessing
    report: ModelReport | None = None
    """What ``metrics.json`` says of the model (None when the bundle has none)."""

    @property
    def onnx_path(self) -> Path:
        return self.path / ONNX_FILE

    @property
    def verification_passed(self) -> bool:
        """True only when export verification ran and passed; such bundles may be registered."""
        return self.report is not None and self.report.verification_passed

    def sha256(self) -> dict[str, str]:
        """sha256 of every bundle file present, by file name."""
        return {
            name: file_sha256(self.path / name)
            for name in BUNDLE_FILES
            if (self.path / name).is_file()
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_bundle(path: str | Path) -> ModelBundle:
    """Read a bundle directory; raise :class:`BundleError` naming what is missing or malformed."""
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path} is not a directory")
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise BundleError(f"{path} is not a model bundle: missing {', '.join(missing)}")
    try:
        preprocessing = Preprocessing.from_json((path / PREPROCESSING_FILE).read_text())
    except ScalingError as error:
        raise BundleError(str(error)) from error
    if not preprocessing.labels:
        raise BundleError("preprocessing.json: no country labels")
    report = None
    if (path / METRICS_FILE).is_file():
        try:
            report = ModelReport.from_json((path / METRICS_FILE).read_text())
        except (ValueError, KeyError, TypeError) as error:
            raise BundleError(f"metrics.json is malformed: {error!r}") from error
    return ModelBundle(path=path, preprocessing=preprocessing, report=report)


def write_bundle(
    path: str | Path,
    *,
    onnx_model: Path,
    preprocessing: Preprocessing,
    report: ModelReport,
    keras_model: Path | None = None,
    model_card: str = "",
) -> ModelBundle:
    """Write a bundle directory from its parts (files are copied) and return it, read back."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(onnx_model, path / ONNX_FILE)
    if keras_model is not None:
        shutil.copyfile(keras_model, path / KERAS_FILE)
    (path / PREPROCESSING_FILE).write_text(preprocessing.to_json())
    (path / METRICS_FILE).write_text(report.to_json())
    (path / CARD_FILE).write_text(model_card)
    return read_bundle(path)
