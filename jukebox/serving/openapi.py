"""The OpenAPI document of the inference server's REST API (``GET /v2/openapi.json``), so a
client can be generated from it: the Open Inference Protocol v2 as this server speaks it, for
the one model it serves.

It names what a request must hold for *this* model: its model name and version, each of its
inputs by name with its datatype and shape, and an example request that is answered 200 (a
generated client, or schemathesis, starts from it). With a token, the bearer scheme and the 401
every protected route answers; the readiness route's 503 while the model loads.
"""

from __future__ import annotations

from jukebox.data.schema import FEATURE_SPECS
from jukebox.serving.runtime import ServedModel, TensorSpec

_ERROR = {
    "description": "what is wrong with the request, in a sentence",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}},
                "required": ["error"],
            }
        }
    },
}
_TENSOR_OUT = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
        "datatype": {"type": "string"},
        "parameters": {"type": "object"},
        "data": {"type": "array", "items": {"type": "number"}},
    },
}


def _json(schema: dict, description: str = "OK", example: dict | None = None) -> dict:
    content: dict = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"description": description, "content": {"application/json": content}}


def _input_schema(spec: TensorSpec) -> dict:
    """One input as a request names it: its name, its datatype, a shape of its rank (``-1`` in
    the model's shape is any number of rows) and its values, flat or nested."""
    dims = len(spec.shape)
    return {
        "type": "object",
        "required": ["name", "shape", "datatype"],
        "properties": {
            "name": {"type": "string", "enum": [spec.name]},
            "shape": {
                "type": "array",
                "items": {"type": "integer", "minimum": 0},
                "minItems": dims,
                "maxItems": dims,
                "description": f"the model's shape is {list(spec.shape)}: -1 is any size",
            },
            "datatype": {"type": "string", "enum": [spec.datatype]},
            "parameters": {
                "type": "object",
                "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
            },
            "data": {
                "type": "array",
                "description": "row-major values, flat or nested as the shape; booleans read "
                "as 1/0",
                "items": {},
            },
        },
    }


def example_request(model: ServedModel) -> dict:
    """One song in the middle of every feature's plausible range: answered 200."""
    inputs = []
    for spec in model.inputs:
        feature = FEATURE_SPECS.get(spec.name)
        value = (feature.low + feature.high) / 2 if feature else 0.5
        shape = [1 if d == -1 else d for d in spec.shape]
        inputs.append({"name": spec.name, "shape": shape, "datatype": spec.datatype,
                       "data": [value] * _size(shape)})  # fmt: skip
    return {"inputs": inputs}


def _size(shape: list[int]) -> int:
    size = 1
    for dim in shape:
        size *= dim
    return size


def openapi_document(model: ServedModel, *, token_required: bool = False) -> dict:
    """OpenAPI 3.0 for the routes of :class:`jukebox.serving.routes.OIPApplication` over
    ``model``; ``token_required`` when the server asks a bearer token of every route but the
    health checks (and this document)."""
    protected = {"401": _ERROR} if token_required else {}
    security = {"security": [{"bearer": []}]} if token_required else {}

    def get(summary: str, schema: dict, errors: dict, *, secured: bool = True) -> dict:
        responses = {"200": _json(schema), **errors, **(protected if secured else {})}
        return {
            "get": {"summary": summary, "responses": responses, **(security if secured else {})}
        }

    ready = {"type": "object", "properties": {"ready": {"type": "boolean"}}}
    metadata = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "versions": {"type": "array", "items": {"type": "string"}},
            "platform": {"type": "string"},
            "inputs": {"type": "array", "items": _TENSOR_OUT},
            "outputs": {"type": "array", "items": _TENSOR_OUT},
        },
    }
    n_inputs = len(model.inputs)
    request = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {
                "type": "array",
                "description": f"each of the model's {n_inputs} inputs once, all with the "
                "same number of rows",
                "minItems": n_inputs,
                "maxItems": n_inputs,
                "items": {"oneOf": [_input_schema(spec) for spec in model.inputs]},
            },
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "enum": [s.name for s in model.outputs]}
                    },
                },
            },
        },
    }
    answer = {
        "type": "object",
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "outputs": {"type": "array", "items": _TENSOR_OUT},
        },
    }
    outputs = ", ".join(f"{s.name} {s.datatype} {list(s.shape)}" for s in model.outputs)
    infer = {
        "post": {
            "summary": f"Predict: {n_inputs} inputs by name, {outputs}",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": request, "example": example_request(model)}
                },
            },
            "responses": {
                "200": _json(answer),
                "400": _ERROR,
                "404": _ERROR,
                "413": _ERROR,
                **protected,
            },
            **security,
        }
    }
    names = [
        {"name": "model_name", "in": "path", "required": True,
         "schema": {"type": "string", "enum": [model.name]}},
        {"name": "model_version", "in": "path", "required": True,
         "schema": {"type": "string", "enum": [model.version]}},
    ]  # fmt: skip
    model_path = "/v2/models/{model_name}"
    version_path = model_path + "/versions/{model_version}"
    paths = {
        "/v2/health/live": get("Is the server live", {"type": "object"}, {}, secured=False),
        "/v2/health/ready": get(
            "Is the server ready (503 while the model loads)", ready, {"503": _ERROR},
            secured=False,
        ),
        "/v2": get("Server metadata", {"type": "object"}, {}),
    }  # fmt: skip
    for base, parameters in ((model_path, names[:1]), (version_path, names)):
        for suffix, operation in (
            ("", get("Model metadata", metadata, {"404": _ERROR})),
            ("/ready", get("Is the model ready (400: it is not)", ready, {"400": _ERROR})),
            ("/infer", infer),
        ):
            paths[base + suffix] = {"parameters": parameters, **operation}
    document = {
        "openapi": "3.0.3",
        "info": {
            "title": f"Open Inference Protocol v2: {model.name} version {model.version}",
            "version": "2",
            "description": "KServe's and OpenVINO Model Server's REST API, as Jukebox serves "
            f"it. Inputs: {', '.join(s.name for s in model.inputs)} ({n_inputs}, "
            f"{model.inputs[0].datatype} {list(model.inputs[0].shape)} each)."
            if model.inputs
            else "KServe's and OpenVINO Model Server's REST API, as Jukebox serves it.",
        },
        "paths": paths,
    }
    if token_required:
        document["components"] = {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        }
    return document
