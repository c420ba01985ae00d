"""One ONNX model held in onnxruntime, ready to answer Open Inference Protocol requests.

The server loads a bundle once, checks that ``model.onnx`` is the file the registry recorded
(sha256), and keeps one :class:`onnxruntime.InferenceSession`; ``InferenceSession.run`` is
thread-safe, so concurrent requests share it without a lock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from jukebox.errors import JukeboxError
from jukebox.model.bundle import ModelBundle, file_sha256, read_bundle

# Open Inference Protocol datatypes of the ONNX element types a model of ours may expose.
ONNX_TO_V2 = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(float16)": "FP16",
    "tensor(int64)": "INT64",
    "tensor(int32)": "INT32",
    "tensor(int16)": "INT16",
    "tensor(int8)": "INT8",
    "tensor(uint8)": "UINT8",
    "tensor(bool)": "BOOL",
}
V2_TO_NUMPY = {
    "FP32": np.float32,
    "FP64": np.float64,
    "FP16": np.float16,
    "INT64": np.int64,
    "INT32": np.int32,
    "INT16": np.int16,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "BOOL": np.bool_,
}


class ModelLoadError(JukeboxError, RuntimeError):
    """The bundle cannot be served; the message says why (missing file, wrong sha256, bad ONNX)."""


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output as the protocol describes it: name, datatype, shape (-1 = any)."""

    name: str
    datatype: str
    shape: tuple[int, ...]

    def metadata(self) -> dict:
        return {"name": self.name, "datatype": self.datatype, "shape": list(self.shape)}


@dataclass
class ServedModel:
    """A loaded model: its protocol name and version, session, tensors, labels and checksum."""

    name: str
    version: str
    session: ort.InferenceSession
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    labels: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    sha256: str = ""
    input_index: dict[str, TensorSpec] = field(init=False)
    output_index: dict[str, TensorSpec] = field(init=False)

    uniform_datatype: bool = field(init=False)

    def __post_init__(self) -> None:
        self.input_index = {spec.name: spec for spec in self.inputs}
        self.output_index = {spec.name: spec for spec in self.outputs}
        # True for models of this project: every input FP32 of one shape, so a request's data
        # can be converted in one go.
        self.uniform_datatype = len({(s.datatype, s.shape) for s in self.inputs}) <= 1

    def run(self, feeds: dict[str, np.ndarray], outputs: list[str]) -> list[np.ndarray]:
        """Run the session (thread-safe); ``feeds`` already match the input specs."""
        return self.session.run(outputs, feeds)

    def metadata(self) -> dict:
        """The protocol's model metadata, plus the labels in ``parameters`` (a Jukebox extension:
        OVMS and KServe send no labels, and clients that do not know the key ignore it)."""
        body = {
            "name": self.name,
            "versions": [self.version],
            "platform": "onnxruntime_onnx",
            "inputs": [spec.metadata() for spec in self.inputs],
            "outputs": [spec.metadata() for spec in self.outputs],
        }
        if self.labels:
            body["parameters"] = {"labels": list(self.labels)}
        return body


def _spec(node: ort.NodeArg) -> TensorSpec:
    datatype = ONNX_TO_V2.get(node.type)
    if datatype is None:
        raise ModelLoadError(f"tensor {node.name!r} has type {node.type}, which is not served")
    shape = tuple(d if isinstance(d, int) and d > 0 else -1 for d in node.shape)
    return TensorSpec(node.name, datatype, shape)


def session_options(threads: int = 1) -> ort.SessionOptions:
    """One intra-op thread per run: concurrency comes from concurrent requests, and a tiny dense
    model gains nothing from splitting one run across the machine's two cores."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return options


def load_onnx(
    onnx_path: Path,
    *,
    name: str,
    version: str = "1",
    labels: tuple[str, ...] = (),
    features: tuple[str, ...] = (),
    expected_sha256: str | None = None,
    threads: int = 1,
) -> ServedModel:
    """Load ``onnx_path`` after checking its sha256 when one is expected."""
    if not onnx_path.is_file():
        raise ModelLoadError(f"{onnx_path} does not exist")
    sha256 = file_sha256(onnx_path)
    if expected_sha256 and sha256 != expected_sha256.strip().lower():
        raise ModelLoadError(
            f"{onnx_path} has sha256 {sha256}, not the expected {expected_sha256}: "
            "the file is not the registered model (re-download it or check the version)"
        )
    try:
        session = ort.InferenceSession(
            str(onnx_path), session_options(threads), providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own untyped errors for bad graphs
        raise ModelLoadError(f"onnxruntime cannot load {onnx_path}: {error}") from error
    return ServedModel(
        name=name,
        version=str(version),
        session=session,
        inputs=tuple(_spec(node) for node in session.get_inputs()),
        outputs=tuple(_spec(node) for node in session.get_outputs()),
        labels=tuple(labels),
        features=tuple(features),
        sha256=sha256,
    )


def load_bundle_model(
    bundle: ModelBundle | str | Path,
    *,
    name: str,
    version: str = "1",
    expected_sha256: str | None = None,
    threads: int = 1,
) -> ServedModel:
    """Load a bundle directory's ``model.onnx`` with its labels from ``preprocessing.json``."""
    if not isinstance(bundle, ModelBundle):
        try:
            bundle = read_bundle(bundle)
        except ValueError as error:
            raise ModelLoadError(str(error)) from error
    model = load_onnx(
        bundle.onnx_path,
        name=name,
        version=version,
        labels=bundle.preprocessing.labels,
        features=bundle.preprocessing.features,
        expected_sha256=expected_sha256,
        threads=threads,
    )
    n_out = model.outputs[0].shape[-1] if model.outputs else -1
    if n_out not in (-1, len(model.labels)):
        raise ModelLoadError(
            f"model.onnx has {n_out} outputs per row but preprocessing.json lists "
            f"{len(model.labels)} labels: the bundle's files do not belong together"
        )
    return model
