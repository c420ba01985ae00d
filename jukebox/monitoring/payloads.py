"""Reading the bodies the TrustyAI API receives into columns, with TrustyAI's rules and messages.

Tensors are Open Inference Protocol v2 tensors (``name``, ``shape``, ``datatype``, ``data``), as
``/data/upload`` (``ModelInferJointPayload``: ``model_name``, ``data_tag``, ``request.inputs``,
``response.outputs``) and KServe's payload logger (a v2 infer request or response body) send
them. Several tensors are one column each; one tensor holding a matrix ``[N, k]`` is ``k`` columns
``<name>-<i>`` (``UploadUtils.getBuilderInputsOrOutputs``). Every check happens before anything
is stored, so a bad payload is refused whole and loses nothing stored before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jukebox.monitoring.payload_log import tensor_columns

INTERNAL_TAG_PREFIX = "_trustyai"
DTYPES = {
    "BOOL": np.bool_,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "FP16": np.float32,
    "FP32": np.float32,
    "FP64": np.float64,
}


class PayloadError(ValueError):
    """A body the service refuses with status 400; the message says what is wrong."""


@dataclass(frozen=True)
class Tensors:
    """Columns parsed from one side (inputs or outputs) and how many rows they have."""

    columns: dict[str, np.ndarray]
    rows: int
    tensor_names: tuple[str, ...]


def _tensor_array(tensor: object, kind: str) -> tuple[str, np.ndarray]:
    if not isinstance(tensor, dict):
        raise PayloadError(
            f"Each {kind} tensor must be an object with name, shape, datatype, data."
        )
    missing = [f for f in ("name", "shape", "datatype", "data") if f not in tensor]
    if missing:
        raise PayloadError(
            f"The {kind} tensor {tensor.get('name', '(unnamed)')!r} lacks the field(s) "
            f"{', '.join(missing)}: each {kind} tensor needs name, shape, datatype and data."
        )
    name, shape, datatype = tensor["name"], tensor["shape"], tensor["datatype"]
    if not isinstance(name, str) or not name:
        raise PayloadError(f"Each {kind} tensor needs a non-empty string name.")
    if datatype not in DTYPES:
        raise PayloadError(
            f"Input datatype={datatype} unsupported. Must be one of BOOL, INT8/16/32/64, "
            "FP32/64, or BYTES"
            if datatype != "BYTES"
            else f"The {kind} tensor {name!r} is BYTES: the drift metrics need numbers."
        )
    if (
        not isinstance(shape, list | tuple)
        or not shape
        or not all(isinstance(d, int) and d >= 0 for d in shape)
    ):
        raise PayloadError(f"The {kind} tensor {name!r} has shape {shape!r}: give a list of sizes.")
    try:
        array = np.asarray(tensor["data"], dtype=DTYPES[datatype])
    except (TypeError, ValueError) as error:
        raise PayloadError(
            f"The data of the {kind} tensor {name!r} are not {datatype} values in a regular "
            f"(rectangular) array: {error}"
        ) from error
    expected = int(np.prod(shape))
    if array.size != expected:
        raise PayloadError(
            f"The {kind} tensor {name!r} has shape {list(shape)} ({expected} values) but its "
            f"data hold {array.size} values."
        )
    return name, array.reshape(shape)


def parse_tensors(tensors: object, kind: str) -> Tensors:
    """The columns of a list of v2 tensors (``kind`` is "input" or "output", for messages)."""
    if not isinstance(tensors, list) or not tensors:
        raise PayloadError(f"At least one {kind} tensor is needed.")
    arrays = [_tensor_array(t, kind) for t in tensors]
    names = [name for name, _ in arrays]
    errors = []
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        errors.append(
            f"Each {kind} tensor must have unique names. However, the following duplicate "
            f"names were found: {duplicates}"
        )
    first_dims = sorted({a.shape[0] for _, a in arrays})
    if len(first_dims) > 1:
        errors.append(
            f"Each {kind} tensor must have the same sized first dimension (e.g., shape[0]). "
            f"However, the following first dimensions were passed: {first_dims}"
        )
    if errors:
        side = "request" if kind == "input" else "response"
        raise PayloadError(
            f"One or more errors were found with the inbound {side} payload:\n - "
            + "\n - ".join(errors)
        )
    columns: dict[str, np.ndarray] = {}
    for name, array in arrays:
        columns.update(tensor_columns(name, array))
    return Tensors(columns, first_dims[0], tuple(names))


@dataclass(frozen=True)
class Upload:
    """A parsed ``/data/upload`` body."""

    model: str
    tag: str
    inputs: Tensors
    outputs: Tensors


def check_tag(tag: str) -> str:
    if tag.startswith(INTERNAL_TAG_PREFIX):
        raise PayloadError(
            f"The tag prefix '{INTERNAL_TAG_PREFIX}' is reserved for internal TrustyAI use only. "
            f"Provided tag '{tag}' violates this restriction."
        )
    return tag


def parse_upload(body: object) -> Upload:
    """Check a ``ModelInferJointPayload`` whole; PayloadError says the first thing wrong."""
    if not isinstance(body, dict):
        raise PayloadError("The upload body must be a JSON object (ModelInferJointPayload).")
    model = body.get("model_name")
    if not isinstance(model, str) or not model:
        raise PayloadError("The upload must name its model in `model_name`.")
    if body.get("is_ground_truth"):
        raise PayloadError("Ground-truth uploads are not supported by the embedded service.")
    tag = body.get("data_tag")
    tag = "" if tag is None else tag
    if not isinstance(tag, str):
        raise PayloadError('`data_tag` must be a string, e.g. "TRAINING".')
    check_tag(tag)
    request = body.get("request")
    if not isinstance(request, dict) or not request.get("inputs"):
        raise PayloadError("Directly uploaded datapoints must specify at least one `inputs` field.")
    response = body.get("response")
    if not isinstance(response, dict) or not response.get("outputs"):
        raise PayloadError("No output payload specified in request")
    inputs = parse_tensors(request["inputs"], "input")
    outputs = parse_tensors(response["outputs"], "output")
    if inputs.rows != outputs.rows:
        raise PayloadError(
            f"The request has {inputs.rows} rows but the response {outputs.rows}: "
            "upload one output row per input row."
        )
    clash = sorted(set(inputs.columns) & set(outputs.columns))
    if clash:
        raise PayloadError(f"Input and output columns share the names {clash}.")
    return Upload(model, tag, inputs, outputs)


def parse_infer_body(body: object, kind: str) -> Tensors:
    """The tensors of a v2 infer request (``kind="input"``) or response (``"output"``), as
    KServe's logger sends them."""
    field = "inputs" if kind == "input" else "outputs"
    if not isinstance(body, dict) or field not in body:
        raise PayloadError(
            f"The {'request' if kind == 'input' else 'response'} is not an Open Inference "
            f"Protocol v2 body: it has no `{field}`."
        )
    return parse_tensors(body[field], kind)
