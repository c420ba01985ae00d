"""The Open Inference Protocol v2 (REST, JSON) as KServe and OpenVINO Model Server speak it.

Pure functions from request bytes to numpy feeds and from outputs to response bytes, with no
HTTP in them, so the server, the tests and the benchmark share one implementation. A request
that a real OVMS would reject raises :class:`ProtocolError` with the status (400, 404, 401) and a
sentence that says what is wrong; the server sends it as ``{"error": "..."}``.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass

import numpy as np
import orjson

from jukebox.serving.runtime import V2_TO_NUMPY, ServedModel, TensorSpec

# Kinds of numpy arrays a JSON list may become, accepted for each protocol datatype: JSON has no
# separate float and int, so an FP32 input takes 1 as well as 1.0, but never a string or null.
# JSON true/false are read as 1/0 in a number tensor: the workshop's request code sends
# ``is_explicit`` straight from the parquet as a boolean, and the protocol lets a server coerce.
_ACCEPTED_KINDS = {"f": "fiub", "i": "iub", "u": "iub", "b": "b"}


class ProtocolError(Exception):
    """A request the protocol rejects; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, allow: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.allow = allow
        """For a 405: the methods the endpoint takes, sent as the ``Allow`` header."""


@dataclass
class InferRequest:
    """A validated inference request: one array per model input, and what to echo back."""

    feeds: dict[str, np.ndarray]
    outputs: list[str]
    rows: int
    id: str | None = None
    parameters: dict | None = None
    binary_outputs: frozenset[str] = frozenset()
    """Outputs to answer as raw bytes after the JSON (the binary tensor extension)."""


def bearer_token_problem(authorization: str | None, token: str | None) -> str | None:
    """Why a request's ``Authorization`` value does not carry the server's bearer ``token``, or
    None when it does or when the server needs none. REST and gRPC ask for the same token."""
    if not token:
        return None
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return None
    if not authorization:
        return "this server needs a bearer token: send the header 'Authorization: Bearer <token>'"
    return "the bearer token is wrong"


def check_served(model: ServedModel, name: str, version: str | None) -> ServedModel:
    """``model`` if a request for model ``name`` (and ``version``, when given) is for it;
    otherwise a 404 that says what is served."""
    if name != model.name:
        raise ProtocolError(
            f'model "{name}" is not served here; this server serves "{model.name}"', 404
        )
    if version and version != model.version:
        raise ProtocolError(
            f'model "{name}" has no version "{version}"; version "{model.version}" is served', 404
        )
    return model


def dumps(body: dict) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def error_body(message: str) -> bytes:
    return orjson.dumps({"error": message})


BINARY_HEADER = "Inference-Header-Content-Length"
"""The binary tensor extension's header: the length of the JSON part that starts the body."""


def split_binary_body(body: bytes, header_length: str | None) -> tuple[bytes, bytes]:
    """The JSON part and the binary part of a body sent with ``Inference-Header-Content-Length``
    (Triton's and OVMS's binary tensor extension); without that header all of it is JSON."""
    if header_length is None:
        return body, b""
    try:
        length = int(header_length)
        if length < 0:
            raise ValueError
    except ValueError:
        raise ProtocolError(
            f"the header {BINARY_HEADER}: {header_length!r} is not a size: it gives the length "
            "in bytes of the JSON that starts the body"
        ) from None
    if length > len(body):
        raise ProtocolError(
            f"the header {BINARY_HEADER} says the JSON part is {length} bytes, but the whole "
            f"body is only {len(body)} bytes"
        )
    return body[:length], body[length:]


def _load_json(body: bytes) -> dict:
    if not body or not body.strip():
        raise ProtocolError(
            'the request body is empty: send a JSON object such as {"inputs": [...]}'
        )
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        if b"binary_data_size" in body:
            raise ProtocolError(
                "the request body is not valid JSON; it looks like binary tensor data: send the "
                f"length of its JSON part in the header {BINARY_HEADER}"
            ) from None
        raise ProtocolError(f"the request body is not valid JSON: {error}") from None
    if not isinstance(request, dict):
        raise ProtocolError('the request body must be a JSON object with an "inputs" list')
    return request


def check_shape(name: str, value: object, spec: TensorSpec) -> tuple[int, ...]:
    """An input's shape (a list of non-negative integers) as a tuple, if the model takes it."""
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
    check_finite(name, array, spec.datatype)
    return array


def check_finite(name: str, array: np.ndarray, datatype: str) -> None:
    """Refuse NaN and infinities, which the network would turn into meaningless probabilities."""
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ProtocolError(f'input "{name}": a value is not a finite {datatype} number')


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
    if kind == "f" and target == np.float32 and array.size and not np.abs(array).max() <= _FP32_MAX:
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
    try:
        check_shape(name, entry.get("shape"), spec)
    except ProtocolError as error:
        return error
    if parameters and "binary_data_size" in parameters:
        size = parameters["binary_data_size"]
        if type(size) is not int or size < 0:
            return ProtocolError(
                f'input "{name}": "binary_data_size" must be a non-negative integer'
            )
        if entry.get("data") is not None:  # "data": null is no data, as Triton reads it
            return ProtocolError(
                f'input "{name}": send either "data" or "binary_data_size", not both'
            )
        return None
    if type(entry.get("data")) is not list:
        return ProtocolError(f'input "{name}": "data" must be a list of numbers')
    return None


def parse_infer_request(
    body: bytes, model: ServedModel, header_length: str | None = None
) -> InferRequest:
    """Validate ``body`` against ``model``'s inputs and return numpy feeds ready to run.

    ``header_length`` is the request's ``Inference-Header-Content-Length``: when given, the body
    is that many bytes of JSON followed by the raw little-endian data of each input whose
    ``parameters`` hold a ``binary_data_size``, in the order of ``inputs`` (the binary tensor
    extension of Triton and OVMS, tritonclient's ``binary_data=True``).

    Written for speed on the usual request (one row, thirteen inputs): each entry is checked
    with a few dictionary look-ups, a shape already validated is compared as a whole, and the
    data of all inputs becomes one array; anything unusual goes to slower code that says
    exactly what is wrong.
    """
    body, binary = split_binary_body(body, header_length)
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
    binary_sizes: dict[str, int] = {}
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
            name, data, shape_list = entry["name"], entry.get("data"), entry["shape"]
            spec = index[name]
            parameters = entry.get("parameters")
            if parameters and "binary_data_size" in parameters:
                binary_sizes[name] = parameters["binary_data_size"]
                uniform = False
        if shape_list != checked_shape or spec.shape != checked_dims:
            uniform = uniform and checked_shape is None
            shape = check_shape(name, shape_list, spec)
            checked_shape, checked_dims = shape_list, spec.shape
        names.append(name)
        datas.append(data)
        specs.append(spec)
        shapes.append(shape)
        if binary_sizes and name in binary_sizes:
            _check_binary_size(name, binary_sizes[name], shape, spec)
    if len(names) != len(index) or len(set(names)) != len(names):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ProtocolError(f'input "{name}" is sent twice')
            seen.add(name)
        missing = [name for name in index if name not in seen]
        raise ProtocolError("missing input(s): " + ", ".join(missing))
    feeds = None
    if uniform and model.uniform_datatype:
        feeds = _stacked(names, datas, specs[0], shapes[0])
    stacked = feeds is not None
    if not stacked:
        chunks = _binary_chunks(names, binary_sizes, binary)
        with np.errstate(over="ignore", invalid="ignore"):
            feeds = {
                name: _array(name, data, shape, spec)
                if name not in chunks
                else array_from_bytes(name, chunks[name], shape, spec)
                for name, spec, shape, data in zip(names, specs, shapes, datas, strict=True)
            }
    elif binary:
        raise ProtocolError(_unclaimed(len(binary)))
    if stacked:  # one shape for every input: nothing to disagree on
        rows = set(shapes[0][:1])
    else:
        rows = {array.shape[0] for array in feeds.values() if array.ndim}
    if len(rows) > 1:
        raise ProtocolError(
            "inputs disagree on the number of rows (first dimension of shape): "
            + ", ".join(str(n) for n in sorted(rows))
        )
    n_rows = rows.pop() if rows else 1
    if n_rows == 0:
        raise ProtocolError("the request holds no rows: the first dimension of shape is 0")
    parameters = _parameters(request.get("parameters"))
    outputs, binary_outputs = _requested_outputs(request.get("outputs"), model, parameters)
    return InferRequest(
        feeds=feeds,
        outputs=outputs,
        rows=n_rows,
        id=_request_id(request.get("id")),
        parameters=parameters,
        binary_outputs=binary_outputs,
    )


def _unclaimed(size: int) -> str:
    return (
        f"the body carries {size} bytes of binary data after its JSON part that no input "
        'claims: give each binary input "parameters": {"binary_data_size": <bytes>}'
    )


def _binary_chunks(names: list[str], sizes: dict[str, int], binary: bytes) -> dict[str, bytes]:
    """Cut the binary part of the body into each binary input's bytes, in request order."""
    if sizes and not binary:
        name = next(iter(sizes))
        raise ProtocolError(
            f'input "{name}" has a "binary_data_size" but the request carries no binary data: '
            f"send the JSON's length in the header {BINARY_HEADER} and the bytes after it"
        )
    chunks: dict[str, bytes] = {}
    offset = 0
    for name in names:
        if name in sizes:
            size = sizes[name]
            chunks[name] = binary[offset : offset + size]
            offset += size
    if offset != len(binary):
        if offset > len(binary):
            raise ProtocolError(
                f"the inputs' binary_data_size add up to {offset} bytes, but the body carries "
                f"{len(binary)} bytes of binary data after its JSON part"
            )
        raise ProtocolError(_unclaimed(len(binary) - offset))
    return chunks


def _check_binary_size(name: str, size: int, shape: tuple[int, ...], spec: TensorSpec) -> None:
    expected = math.prod(shape) * np.dtype(V2_TO_NUMPY[spec.datatype]).itemsize
    if size != expected:
        raise ProtocolError(
            f'input "{name}": "binary_data_size" is {size} bytes but shape {list(shape)} '
            f"of {spec.datatype} needs {expected}"
        )


def array_from_bytes(
    name: str, chunk: bytes, shape: tuple[int, ...], spec: TensorSpec
) -> np.ndarray:
    """One input sent as raw little-endian values of its datatype, row-major: a binary tensor
    over REST, or ``raw_input_contents`` over gRPC."""
    dtype = np.dtype(V2_TO_NUMPY[spec.datatype]).newbyteorder("<")
    expected = math.prod(shape) * dtype.itemsize
    if len(chunk) != expected:
        raise ProtocolError(
            f'input "{name}": {len(chunk)} bytes of raw data, but shape {list(shape)} '
            f"of {spec.datatype} needs {expected}"
        )
    array = np.frombuffer(chunk, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    check_finite(name, array, spec.datatype)
    return array


def _requested_outputs(
    value: object, model: ServedModel, parameters: dict | None
) -> tuple[list[str], frozenset[str]]:
    """The outputs to answer, and which of them as binary data: each output's
    ``parameters.binary_data`` when given, else the request's ``binary_data_output``."""
    default = bool(parameters and parameters.get("binary_data_output") is True)
    if value is None:
        names = list(model.output_index)
        return names, frozenset(names) if default else frozenset()
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
    binary = set()
    for output in value:
        params = output.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise ProtocolError(f'output "{output["name"]}": "parameters" must be an object')
        flag = (params or {}).get("binary_data", default)
        if not isinstance(flag, bool):
            raise ProtocolError(f'output "{output["name"]}": "binary_data" must be true or false')
        if flag:
            binary.add(output["name"])
    if not names:
        names = list(model.output_index)
        return names, frozenset(names) if default else frozenset()
    return names, frozenset(binary)


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
    return infer_response_parts(model, request, results)[0]


def infer_response_parts(
    model: ServedModel, request: InferRequest, results: list[np.ndarray]
) -> tuple[bytes, int | None]:
    """The response body, and the length of its JSON part when outputs follow it as binary data
    (``binary_data_output``): the server sends that as ``Inference-Header-Content-Length``."""
    body: dict = {"model_name": model.name, "model_version": model.version}
    if request.id is not None:
        body["id"] = request.id
    if request.parameters is not None:
        body["parameters"] = request.parameters
    outputs = []
    chunks = []
    for name, result in zip(request.outputs, results, strict=True):
        entry: dict = {
            "name": name,
            "datatype": model.output_index[name].datatype,
            "shape": list(result.shape),
        }
        flat = np.ascontiguousarray(result).ravel()
        if name in request.binary_outputs:
            raw = flat.astype(flat.dtype.newbyteorder("<"), copy=False).tobytes()
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = flat
        outputs.append(entry)
    body["outputs"] = outputs
    head = dumps(body)
    if not chunks:
        return head, None
    return head + b"".join(chunks), len(head)
