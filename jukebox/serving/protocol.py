"""The Open Inference Protocol v2 (REST, JSON) as KServe and OpenVINO Model Server speak it.

Pure functions from request bytes to numpy feeds and from outputs to response bytes, with no
HTTP in them, so the server, the tests and the benchmark share one implementation. A request
that a real OVMS would reject raises :class:`ProtocolError` with the status (400, 404, 401) and a
sentence that says what is wrong; the server sends it as ``{"error": "..."}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import orjson

from jukebox.serving.runtime import V2_TO_NUMPY, ServedModel, TensorSpec

# Kinds of numpy arrays a JSON list may become, accepted for each protocol datatype: JSON has no
# separate float and int, so an FP32 input takes 1 as well as 1.0, but never a string or null.
_ACCEPTED_KINDS = {"f": "fiu", "i": "iu", "u": "iu", "b": "b"}


class ProtocolError(Exception):
    """A request the protocol rejects; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class InferRequest:
    """A validated inference request: one array per model input, and what to echo back."""

    feeds: dict[str, np.ndarray]
    outputs: list[str]
    rows: int
    id: str | None = None
    parameters: dict | None = None


def dumps(body: dict) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


def _load_json(body: bytes) -> dict:
    if not body or not body.strip():
        raise ProtocolError(
            'the request body is empty: send a JSON object such as {"inputs": [...]}'
        )
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ProtocolError(f"the request body is not valid JSON: {error}") from None
    if not isinstance(request, dict):
        raise ProtocolError('the request body must be a JSON object with an "inputs" list')
    return request


def _shape(name: str, value: object, spec: TensorSpec) -> tuple[int, ...]:
    valid = type(value) is list and len(value) == len(spec.shape)
    if valid:
        for want, got in zip(spec.shape, value, strict=True):
            if type(got) is not int or got < 0 or (want != -1 and want != got):
                valid = False
                break
    if valid:
        return tuple(value)
    if not isinstance(value, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in value
    ):
        raise ProtocolError(f'input "{name}": "shape" must be a list of non-negative integers')
    expected = "[" + ", ".join(str(d) for d in spec.shape) + "]"
    raise ProtocolError(
        f'input "{name}": invalid shape {list(value)}, the model expects {expected} '
        "(-1 means any size)"
    )


def _check_kind(name: str, array: np.ndarray, datatype: str) -> None:
    accepted = _ACCEPTED_KINDS.get(np.dtype(V2_TO_NUMPY[datatype]).kind, "")
    if array.size and array.dtype.kind not in accepted:
        raise ProtocolError(
            f'input "{name}": "data" must hold only {datatype} numbers (found {_describe(array)})'
        )


def _array(name: str, data: object, shape: tuple[int, ...], spec: TensorSpec) -> np.ndarray:
    """One input's data as an array of its datatype, flat or nested as the protocol allows."""
    if not isinstance(data, list):
        raise ProtocolError(f'input "{name}": "data" must be a list of numbers')
    try:
        array = np.asarray(data)
    except (ValueError, TypeError):
        raise ProtocolError(
            f'input "{name}": "data" is nested unevenly; send a flat list in row-major order '
            "or lists nested exactly as the shape"
        ) from None
    _check_kind(name, array, spec.datatype)
    expected_size = math.prod(shape)
    if array.size != expected_size:
        raise ProtocolError(
            f'input "{name}": "data" holds {array.size} values but shape {list(shape)} '
            f"needs {expected_size}"
        )
    if array.ndim > 1 and array.shape != shape:
        raise ProtocolError(
            f'input "{name}": nested "data" has shape {list(array.shape)}, '
            f"not the declared {list(shape)}"
        )
    array = array.astype(V2_TO_NUMPY[spec.datatype], copy=False).reshape(shape)
    _check_finite(name, array, spec.datatype)
    return array


def _check_finite(name: str, array: np.ndarray, datatype: str) -> None:
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ProtocolError(f'input "{name}": a value is not a finite {datatype} number')


def _holds_bool(data: list) -> bool:
    return any(type(v) is bool or (type(v) is list and _holds_bool(v)) for v in data)


def _describe(array: np.ndarray) -> str:
    kind = array.dtype.kind
    if kind in "US":
        return "text"
    if kind == "b":
        return "true/false"
    return "null, objects or numbers too large"


_FP32_MAX = float(np.finfo(np.float32).max)


def _stacked(
    names: list[str], datas: list[list], spec: TensorSpec, shape: tuple[int, ...]
) -> dict[str, np.ndarray] | None:
    """Fast path for the usual request (every input the same datatype and shape, e.g. thirteen
    FP32 ``[N, 1]`` features): one numpy conversion for all inputs instead of one each. Returns
    None when anything is off, so the per-input path can name the culprit."""
    try:
        array = np.asarray(datas)
    except (ValueError, TypeError):
        return None
    target = V2_TO_NUMPY[spec.datatype]
    kind = array.dtype.kind
    if (
        kind not in _ACCEPTED_KINDS.get(np.dtype(target).kind, "")
        or array.size != math.prod(shape) * len(datas)
        or (array.ndim > 2 and array.shape[1:] != shape)
    ):
        return None
    # The range check also catches NaN and infinities, and keeps the cast free of warnings.
    if (
        kind == "f"
        and target == np.float32
        and array.size
        and not (array.min() >= -_FP32_MAX and array.max() <= _FP32_MAX)
    ):
        return None
    array = array.astype(target, copy=False).reshape((len(datas), *shape))
    return dict(zip(names, array, strict=True))


def _entry_problem(entry: object, model: ServedModel) -> ProtocolError | None:
    """The precise complaint about an entry of "inputs" that the fast path did not accept, or
    None if the entry is fine after all (e.g. it carries harmless "parameters")."""
    if not isinstance(entry, dict):
        return ProtocolError(
            'each entry of "inputs" must be an object with name, shape, datatype and data'
        )
    name = entry.get("name")
    if not isinstance(name, str):
        return ProtocolError('an entry of "inputs" has no "name"')
    spec = model.input_index.get(name)
    if spec is None:
        return ProtocolError(
            f'unknown input "{name}"; the model\'s inputs are: ' + ", ".join(model.input_index)
        )
    datatype = entry.get("datatype")
    if datatype != spec.datatype:
        return ProtocolError(
            f'input "{name}": invalid datatype {datatype!r}, the model expects "{spec.datatype}"'
        )
    parameters = entry.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        return ProtocolError(f'input "{name}": "parameters" must be an object')
    if parameters and "binary_data_size" in parameters:
        return ProtocolError("binary tensor data is not supported; send the data as JSON")
    try:
        _shape(name, entry.get("shape"), spec)
    except ProtocolError as error:
        return error
    if type(entry.get("data")) is not list:
        return ProtocolError(f'input "{name}": "data" must be a list of numbers')
    return None


def parse_infer_request(body: bytes, model: ServedModel) -> InferRequest:
    """Validate ``body`` against ``model``'s inputs and return numpy feeds ready to run.

    Written for speed on the usual request (one row, thirteen inputs): each entry is checked
    with a few dictionary look-ups, a shape already validated is compared as a whole, and the
    data of all inputs becomes one array; anything unusual goes to slower code that says
    exactly what is wrong.
    """
    request = _load_json(body)
    inputs = request.get("inputs")
    index = model.input_index
    if type(inputs) is not list or not inputs:
        raise ProtocolError(
            'the request needs an "inputs" list with one entry per model input: ' + ", ".join(index)
        )
    names: list[str] = []
    datas: list[list] = []
    specs: list[TensorSpec] = []
    shapes: list[tuple[int, ...]] = []
    checked_shape, checked_dims, uniform = None, None, True
    for entry in inputs:
        try:
            name = entry["name"]
            spec = index[name]
            shape_list = entry["shape"]
            data = entry["data"]
            if entry["datatype"] != spec.datatype or type(data) is not list:
                raise KeyError
            if "parameters" in entry:
                raise KeyError
        except (KeyError, TypeError):
            # Also entries with "parameters": rare, and checked where it is precise.
            problem = _entry_problem(entry, model)
            if problem is not None:
                raise problem from None
            name, data, shape_list = entry["name"], entry["data"], entry["shape"]
            spec = index[name]
        if shape_list != checked_shape or spec.shape != checked_dims:
            uniform = uniform and checked_shape is None
            shape = _shape(name, shape_list, spec)
            checked_shape, checked_dims = shape_list, spec.shape
        names.append(name)
        datas.append(data)
        specs.append(spec)
        shapes.append(shape)
    if len(names) != len(index) or len(set(names)) != len(names):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ProtocolError(f'input "{name}" is sent twice')
            seen.add(name)
        missing = [name for name in index if name not in seen]
        raise ProtocolError("missing input(s): " + ", ".join(missing))
    if b"true" in body or b"false" in body:
        # numpy would read true as 1.0; OVMS refuses booleans in a number tensor, and so do we.
        # The byte search keeps this check off the common path.
        for name, spec, data in zip(names, specs, datas, strict=True):
            if spec.datatype != "BOOL" and _holds_bool(data):
                raise ProtocolError(
                    f'input "{name}": "data" must hold only numbers, not true/false'
                )
    feeds = None
    if uniform and model.uniform_datatype:
        feeds = _stacked(names, datas, specs[0], shapes[0])
    if feeds is None:
        with np.errstate(over="ignore", invalid="ignore"):
            feeds = {
                name: _array(name, data, shape, spec)
                for name, spec, shape, data in zip(names, specs, shapes, datas, strict=True)
            }
    rows = {array.shape[0] for array in feeds.values() if array.ndim}
    if len(rows) > 1:
        raise ProtocolError(
            "inputs disagree on the number of rows (first dimension of shape): "
            + ", ".join(str(n) for n in sorted(rows))
        )
    n_rows = rows.pop() if rows else 1
    if n_rows == 0:
        raise ProtocolError("the request holds no rows: the first dimension of shape is 0")
    return InferRequest(
        feeds=feeds,
        outputs=_requested_outputs(request.get("outputs"), model),
        rows=n_rows,
        id=_request_id(request.get("id")),
        parameters=_parameters(request.get("parameters")),
    )


def _requested_outputs(value: object, model: ServedModel) -> list[str]:
    if value is None:
        return list(model.output_index)
    if not isinstance(value, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in value
    ):
        raise ProtocolError('"outputs" must be a list of objects with a "name"')
    names = [o["name"] for o in value]
    unknown = [n for n in names if n not in model.output_index]
    if unknown:
        raise ProtocolError(
            f'unknown output "{unknown[0]}"; the model\'s outputs are: '
            + ", ".join(model.output_index)
        )
    return names or list(model.output_index)


def _request_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProtocolError('"id" must be a string')
    return value


def _parameters(value: object) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError('"parameters" must be an object')
    return value


def infer_response(model: ServedModel, request: InferRequest, results: list[np.ndarray]) -> bytes:
    """The protocol's response: model name and version, ``id`` and ``parameters`` echoed when
    sent, and each output with its name, datatype, shape and flat row-major data."""
    body: dict = {"model_name": model.name, "model_version": model.version}
    if request.id is not None:
        body["id"] = request.id
    if request.parameters is not None:
        body["parameters"] = request.parameters
    body["outputs"] = [
        {
            "name": name,
            "datatype": model.output_index[name].datatype,
            "shape": list(result.shape),
            "data": np.ascontiguousarray(result).ravel(),
        }
        for name, result in zip(request.outputs, results, strict=True)
    ]
    return dumps(body)
