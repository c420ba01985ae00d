"""ONNX export with tf2onnx, and the proof that the export computes what the Keras model does.

The exported graph follows the design's contract: one ``[N, 1]`` FP32 input per feature, named by
the feature, raw values (the min-max scaling is inside the graph), and one ``output``
``[N, n_countries]`` FP32 of softmax probabilities.

Verification runs the ONNX model with onnxruntime and with OpenVINO's runtime (the engine of
OpenVINO Model Server, where the model is served) on the whole test split, and compares both with
the Keras model: the largest absolute difference must stay within ``TOLERANCE``. A file that is
not a valid ONNX model, or does not follow the contract, fails verification with the reason.

Reading a graph (:func:`describe_onnx`) needs only ``onnx``; exporting needs TensorFlow, imported
inside the functions that use it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from jukebox.errors import JukeboxError
from jukebox.model.bundle import file_sha256
from jukebox.model.report import OnnxFacts, Verification

if TYPE_CHECKING:
    import keras

TOLERANCE = 1e-5
OPSET = 17
OUTPUT_NAME = "output"
BATCH_DIM = "N"


class ExportError(JukeboxError, RuntimeError):
    """The model could not be exported; the message says why."""


def export_onnx(
    model: keras.Model,
    features: Sequence[str],
    labels: Sequence[str],
    path: str | Path,
    *,
    opset: int = OPSET,
) -> Path:
    """Convert ``model`` to ONNX at ``path`` with the contract's names, shapes and types.

    The model is wrapped in a ``tf.function`` whose signature names each input by its feature
    and whose single result is named ``output``, so the graph's names never depend on Keras's
    layer naming. The batch dimension is named ``N``; the labels in output order are recorded in
    the graph's metadata as JSON, so the ONNX file alone says what each column means.
    """
    import onnx
    import tensorflow as tf
    import tf2onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    signature = [tf.TensorSpec((None, 1), tf.float32, name=name) for name in features]

    @tf.function(input_signature=signature)
    def serve(*inputs):
        return {OUTPUT_NAME: model(list(inputs), training=False)}

    try:
        proto, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=opset)
    except Exception as error:  # tf2onnx raises many kinds; the user needs the reason in words
        raise ExportError(f"tf2onnx could not convert the model: {error}") from error
    for value in [*proto.graph.input, *proto.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_param = BATCH_DIM
    proto.doc_string = "Jukebox: probability per country that a song charts there."
    onnx.helper.set_model_props(
        proto, {"labels": json.dumps(list(labels)), "features": json.dumps(list(features))}
    )
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    return path


def describe_onnx(path: str | Path) -> dict:
    """The graph's inputs and outputs (name, element type, shape), opset, producer and size.

    Raises :class:`ExportError` when the file is not a readable ONNX model.
    """
    import onnx

    path = Path(path)
    try:
        proto = onnx.load(path)
        onnx.checker.check_model(proto)
    except Exception as error:
        raise ExportError(f"{path.name} is not a valid ONNX model: {error}") from error

    def tensor(value) -> dict:
        kind = value.type.tensor_type
        shape = [d.dim_param or d.dim_value for d in kind.shape.dim]
        return {
            "name": value.name,
            "type": onnx.TensorProto.DataType.Name(kind.elem_type),
            "shape": shape,
        }

    return {
        "inputs": [tensor(v) for v in proto.graph.input],
        "outputs": [tensor(v) for v in proto.graph.output],
        "opset": max(
            (o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=0
        ),
        "producer": f"{proto.producer_name} {proto.producer_version}".replace(" None", "").strip(),
        "nodes": len(proto.graph.node),
        "metadata": {p.key: p.value for p in proto.metadata_props},
        "bytes": path.stat().st_size,
    }


def contract_problems(description: dict, features: Sequence[str], n_labels: int) -> list[str]:
    """How a graph deviates from the ONNX contract of the design; empty when it conforms."""
    problems = []
    names = [t["name"] for t in description["inputs"]]
    if names != list(features):
        problems.append(f"inputs are {names}, expected one per feature in order {list(features)}")
    for t in description["inputs"]:
        if t["type"] != "FLOAT" or len(t["shape"]) != 2 or t["shape"][1] != 1:
            problems.append(f"input {t['name']} is {t['type']} {t['shape']}, expected FLOAT [N, 1]")
    outputs = description["outputs"]
    if [t["name"] for t in outputs] != [OUTPUT_NAME]:
        problems.append(f"outputs are {[t['name'] for t in outputs]}, expected ['{OUTPUT_NAME}']")
    elif outputs[0]["type"] != "FLOAT" or outputs[0]["shape"][1:] != [n_labels]:
        problems.append(
            f"output is {outputs[0]['type']} {outputs[0]['shape']}, expected FLOAT [N, {n_labels}]"
        )
    return problems


def _feeds(features: Sequence[str], x: np.ndarray) -> dict[str, np.ndarray]:
    x = np.asarray(x, dtype=np.float32)
    return {name: np.ascontiguousarray(x[:, i : i + 1]) for i, name in enumerate(features)}


def run_onnxruntime(path: str | Path, features: Sequence[str], x: np.ndarray) -> np.ndarray:
    """Probabilities from the ONNX file with onnxruntime's CPU provider."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run([OUTPUT_NAME], _feeds(features, x))[0]


def run_openvino(path: str | Path, features: Sequence[str], x: np.ndarray) -> np.ndarray:
    """Probabilities from the ONNX file with OpenVINO's runtime, in full FP32 precision.

    The precision hint matters: on CPUs with bf16 support OpenVINO would otherwise compute in
    bf16 by default, which is faster but not what OpenVINO Model Server is configured for here.
    """
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled(_feeds(features, x))
    return np.asarray(result[compiled.output(OUTPUT_NAME)])


def verify(
    onnx_path: str | Path,
    expected: np.ndarray,
    features: Sequence[str],
    x: np.ndarray,
    *,
    tolerance: float = TOLERANCE,
) -> Verification:
    """Compare the ONNX file's output on ``x`` with ``expected`` (the Keras model's output).

    ``passed`` is True only when the file is a valid model following the contract and both
    runtimes stay within ``tolerance``; otherwise ``problems`` say in words what is wrong.
    """
    started = time.perf_counter()
    expected = np.asarray(expected, dtype=np.float32)
    problems: list[str] = []
    diffs: dict[str, float] = {}
    seconds: dict[str, float] = {}
    try:
        description = describe_onnx(onnx_path)
    except ExportError as error:
        problems.append(str(error))
    else:
        problems += contract_problems(description, features, expected.shape[1])
        for runtime, run in (("onnxruntime", run_onnxruntime), ("openvino", run_openvino)):
            try:
                runtime_started = time.perf_counter()
                got = run(onnx_path, features, x)
                seconds[runtime] = time.perf_counter() - runtime_started
            except Exception as error:  # a runtime's own error text is the useful part
                problems.append(f"{runtime} could not run the model: {error}")
                continue
            if got.shape != expected.shape:
                problems.append(
                    f"{runtime} returned shape {list(got.shape)}, expected {list(expected.shape)}"
                )
                continue
            diff = float(np.max(np.abs(got - expected))) if len(expected) else 0.0
            diffs[runtime] = diff
            if not diff <= tolerance:
                problems.append(
                    f"{runtime} differs from Keras by up to {diff:.3g}, more than {tolerance:g}"
                )
    seconds["verify"] = time.perf_counter() - started
    return Verification(
        passed=not problems,
        tolerance=tolerance,
        rows=int(len(x)),
        onnxruntime_max_abs_diff=diffs.get("onnxruntime"),
        openvino_max_abs_diff=diffs.get("openvino"),
        problems=tuple(problems),
        seconds=seconds,
    )


def onnx_facts(path: str | Path) -> OnnxFacts:
    """What the registry and the Export page show of an ONNX file: hash, opset, tensors, size."""
    description = describe_onnx(path)
    return OnnxFacts(
        sha256=file_sha256(Path(path)),
        opset=description["opset"],
        producer=description["producer"],
        inputs=tuple(description["inputs"]),
        outputs=tuple(description["outputs"]),
        bytes=description["bytes"],
    )
