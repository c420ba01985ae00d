"""The OpenAPI document of the inference server's REST API (``GET /v2/openapi.json``), so a
client can be generated from it. The Open Inference Protocol v2 as this server speaks it."""

from __future__ import annotations

from jukebox.serving.runtime import ServedModel

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
_TENSOR_IN = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        "datatype": {"type": "string", "example": "FP32"},
        "parameters": {
            "type": "object",
            "properties": {"binary_data_size": {"type": "integer", "minimum": 0}},
        },
        "data": {
            "type": "array",
            "description": "row-major values, flat or nested as the shape; booleans read as 1/0",
            "items": {},
        },
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


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _get(summary: str, schema: dict) -> dict:
    return {"get": {"summary": summary, "responses": {"200": _json(schema), "404": _ERROR}}}


def openapi_document(model: ServedModel) -> dict:
    """OpenAPI 3.0 for the routes of :class:`jukebox.serving.server.OIPApplication`."""
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
    infer = {
        "post": {
            "summary": "Predict: one FP32 [N, 1] input per feature, probabilities per country",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["inputs"],
                            "properties": {
                                "id": {"type": "string"},
                                "parameters": {"type": "object"},
                                "inputs": {"type": "array", "items": _TENSOR_IN},
                                "outputs": {"type": "array", "items": {"type": "object"}},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "model_name": {"type": "string"},
                            "model_version": {"type": "string"},
                            "id": {"type": "string"},
                            "parameters": {"type": "object"},
                            "outputs": {"type": "array", "items": _TENSOR_OUT},
                        },
                    }
                ),
                "400": _ERROR,
                "401": _ERROR,
                "404": _ERROR,
                "413": _ERROR,
            },
        }
    }
    model_path = "/v2/models/{model_name}"
    version_path = model_path + "/versions/{model_version}"
    parameters = [
        {"name": "model_name", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "model_version", "in": "path", "required": True, "schema": {"type": "string"}},
    ]
    paths = {
        "/v2/health/live": _get("Is the server live", {"type": "object"}),
        "/v2/health/ready": _get("Is the server ready", ready),
        "/v2": _get("Server metadata", {"type": "object"}),
    }
    for base, names in ((model_path, parameters[:1]), (version_path, parameters)):
        for suffix, operation in (
            ("", _get("Model metadata", metadata)),
            ("/ready", _get("Is the model ready", ready)),
            ("/infer", infer),
        ):
            paths[base + suffix] = {"parameters": names, **operation}
    return {
        "openapi": "3.0.3",
        "info": {
            "title": f"Open Inference Protocol v2: {model.name}",
            "version": "2",
            "description": "KServe's and OpenVINO Model Server's REST API, as Jukebox serves it.",
        },
        "paths": paths,
    }
