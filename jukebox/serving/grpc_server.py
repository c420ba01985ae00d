"""The Open Inference Protocol's gRPC form, ``inference.GRPCInferenceService``, for one model.

KServe, Triton and OpenVINO Model Server speak it beside REST; so does ``python -m jukebox serve
--grpc-port PORT``, from the same process and over the same loaded model. The messages and the
service are those of ``grpc_predict_v2.proto``, whose generated stubs tritonclient ships
(``tritonclient.grpc.service_pb2``: package ``inference``, the same service and messages, with
Triton's extra methods, which answer UNIMPLEMENTED here).

Inputs come as ``raw_input_contents`` (little-endian bytes, one entry per input, as tritonclient
sends them) or as typed ``contents``; outputs go back as ``raw_output_contents``. A request a
real server would reject is INVALID_ARGUMENT (NOT_FOUND for another model or version) with the
sentence REST gives for it. Every call goes through the data plane REST uses
(:mod:`jukebox.serving.dataplane`): the same checks, the same counts in ``GET /metrics`` (with
``interface="gRPC"``), the same payload logger; this module only converts protobuf messages.
"""

from __future__ import annotations

import math
from concurrent import futures

import grpc
import numpy as np
from tritonclient.grpc import service_pb2, service_pb2_grpc

from jukebox.serving.dataplane import DataPlane
from jukebox.serving.inference_log import InferenceLogger
from jukebox.serving.protocol import (
    InferRequest,
    ProtocolError,
    array_from_bytes,
    bearer_token_problem,
    check_finite,
    check_shape,
)
from jukebox.serving.routes import SERVER_NAME, SERVER_VERSION
from jukebox.serving.runtime import V2_TO_NUMPY, ServedModel
from jukebox.serving.transport import DEFAULT_MAX_BODY

# The typed field of InferTensorContents that carries each datatype.
_CONTENTS_FIELD = {
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "INT64": "int64_contents",
    "INT32": "int_contents",
    "INT16": "int_contents",
    "INT8": "int_contents",
    "UINT8": "uint_contents",
    "BOOL": "bool_contents",
}


# A REST status as the gRPC code a real server gives for the same fault.
_GRPC_CODE = {404: grpc.StatusCode.NOT_FOUND, 401: grpc.StatusCode.UNAUTHENTICATED}


def _abort(context, error: ProtocolError):
    context.abort(_GRPC_CODE.get(error.status, grpc.StatusCode.INVALID_ARGUMENT), error.message)


class InferenceServicer(service_pb2_grpc.GRPCInferenceServiceServicer):
    """The protocol's gRPC methods over one data plane (or a served model, given a plane of its
    own); requests are checked by the same code as REST requests, so both say the same about a
    fault."""

    def __init__(self, plane: DataPlane | ServedModel) -> None:
        self.plane = plane if isinstance(plane, DataPlane) else DataPlane(plane)
        self.model = self.plane.model

    def ServerLive(self, request, context):  # noqa: N802 (names are the protocol's)
        return service_pb2.ServerLiveResponse(live=True)

    def ServerReady(self, request, context):  # noqa: N802
        return service_pb2.ServerReadyResponse(ready=True)

    def ServerMetadata(self, request, context):  # noqa: N802
        return service_pb2.ServerMetadataResponse(name=SERVER_NAME, version=SERVER_VERSION)

    def ModelReady(self, request, context):  # noqa: N802
        # As Triton answers: a model it does not serve is not ready, which is no error.
        try:
            self.plane.model_ready(request.name, request.version, "gRPC")
        except ProtocolError:
            return service_pb2.ModelReadyResponse(ready=False)
        return service_pb2.ModelReadyResponse(ready=True)

    def ModelMetadata(self, request, context):  # noqa: N802
        try:
            model = self.plane.model_metadata(request.name, request.version, "gRPC")
        except ProtocolError as error:
            _abort(context, error)

        def tensors(specs):
            return [
                service_pb2.ModelMetadataResponse.TensorMetadata(
                    name=s.name, datatype=s.datatype, shape=list(s.shape)
                )
                for s in specs
            ]

        return service_pb2.ModelMetadataResponse(
            name=model.name,
            versions=[model.version],
            platform="onnxruntime_onnx",
            inputs=tensors(model.inputs),
            outputs=tensors(model.outputs),
        )

    def ModelInfer(self, request, context):  # noqa: N802
        try:
            return self.plane.infer(
                request.model_name,
                request.model_version,
                lambda model: _decode(model, request),
                _encode,
                "gRPC",
            )
        except ProtocolError as error:
            _abort(context, error)


def _decode(model: ServedModel, request) -> InferRequest:
    """A ``ModelInferRequest`` as the data plane's request: its inputs and outputs, checked."""
    feeds = _feeds(model, request)
    outputs = [o.name for o in request.outputs] or list(model.output_index)
    unknown = [n for n in outputs if n not in model.output_index]
    if unknown:
        raise ProtocolError(
            f'unknown output "{unknown[0]}"; the model\'s outputs are: '
            + ", ".join(model.output_index)
        )
    rows = next((a.shape[0] for a in feeds.values() if a.ndim), 1)
    return InferRequest(feeds=feeds, outputs=outputs, rows=rows, id=request.id or None)


def _encode(model: ServedModel, request: InferRequest, results: list[np.ndarray]):
    response = service_pb2.ModelInferResponse(
        model_name=model.name, model_version=model.version, id=request.id or ""
    )
    for name, result in zip(request.outputs, results, strict=True):
        spec = model.output_index[name]
        response.outputs.add(name=name, datatype=spec.datatype, shape=list(result.shape))
        array = np.ascontiguousarray(result, dtype=np.dtype(V2_TO_NUMPY[spec.datatype]))
        response.raw_output_contents.append(array.astype(array.dtype.newbyteorder("<")).tobytes())
    return response


def _feeds(model: ServedModel, request) -> dict[str, np.ndarray]:
    """The request's inputs as arrays: from ``raw_input_contents`` (one entry per input, as
    tritonclient sends them) or from each input's typed ``contents``."""
    raw = list(request.raw_input_contents)
    if raw and len(raw) != len(request.inputs):
        raise ProtocolError(
            f"the request has {len(request.inputs)} inputs but {len(raw)} "
            "raw_input_contents: send one per input, in the same order"
        )
    feeds: dict[str, np.ndarray] = {}
    for index, tensor in enumerate(request.inputs):
        name = tensor.name
        spec = model.input_index.get(name)
        if spec is None:
            raise ProtocolError(
                f'unknown input "{name}"; the model\'s inputs are: ' + ", ".join(model.input_index)
            )
        if name in feeds:
            raise ProtocolError(f'input "{name}" is sent twice')
        if tensor.datatype != spec.datatype:
            raise ProtocolError(
                f'input "{name}": invalid datatype {tensor.datatype!r}, '
                f'the model expects "{spec.datatype}"'
            )
        shape = check_shape(name, list(tensor.shape), spec)
        if raw:
            feeds[name] = array_from_bytes(name, raw[index], shape, spec)
            continue
        field = _CONTENTS_FIELD.get(spec.datatype, "?")
        values = getattr(tensor.contents, field, None)
        if values is None or len(values) != math.prod(shape):
            raise ProtocolError(
                f'input "{name}": shape {list(shape)} needs {math.prod(shape)} values in '
                f"contents.{field}"
            )
        array = np.asarray(values, dtype=V2_TO_NUMPY[spec.datatype]).reshape(shape)
        check_finite(name, array, spec.datatype)
        feeds[name] = array
    missing = [n for n in model.input_index if n not in feeds]
    if missing:
        raise ProtocolError("missing input(s): " + ", ".join(missing))
    if len({a.shape[0] for a in feeds.values() if a.ndim}) > 1:
        raise ProtocolError("inputs disagree on the number of rows (first dimension of shape)")
    return feeds


class BearerToken(grpc.ServerInterceptor):
    """Asks every call but the two health checks for the REST server's bearer token, in the
    ``authorization`` metadata (tritonclient: ``headers={"authorization": "Bearer …"}``, the key
    lowercase as gRPC wants it); a call without it ends UNAUTHENTICATED before the model."""

    OPEN = frozenset(
        f"/inference.GRPCInferenceService/{method}" for method in ("ServerLive", "ServerReady")
    )

    def __init__(self, token: str) -> None:
        self.token = token

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler_call_details.method in self.OPEN:
            return handler
        metadata = dict(handler_call_details.invocation_metadata or ())
        problem = bearer_token_problem(metadata.get("authorization"), self.token)
        if problem is None:
            return handler

        def deny(request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, problem)

        if handler.request_streaming and handler.response_streaming:
            return grpc.stream_stream_rpc_method_handler(deny)
        if handler.request_streaming:
            return grpc.stream_unary_rpc_method_handler(deny)
        if handler.response_streaming:
            return grpc.unary_stream_rpc_method_handler(deny)
        return grpc.unary_unary_rpc_method_handler(deny)


def make_grpc_server(
    model: ServedModel,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    token: str | None = None,
    workers: int = 8,
    max_body: int = DEFAULT_MAX_BODY,
    inference_logger: InferenceLogger | None = None,
    plane: DataPlane | None = None,
) -> tuple[grpc.Server, int]:
    """A started gRPC server for ``model`` and the port it bound (port 0 picks a free one).
    With a ``token``, calls other than the health checks must carry it, as on REST; a message
    may be as large as a REST body (``max_body``; gRPC's own default is 4 MiB).
    ``inference_logger`` receives a record of every answered inference; pass the REST server's
    ``plane`` instead to share its logger and metrics (``python -m jukebox serve`` does)."""
    if plane is None:
        plane = DataPlane(model, inference_logger=inference_logger)
    elif plane.model is not model:
        raise ValueError("the data plane serves another model than the one given")
    interceptors = [BearerToken(token)] if token else []
    options = [
        ("grpc.max_receive_message_length", max_body),
        # An answer is some bytes per row of the request: allow it the same room.
        ("grpc.max_send_message_length", max_body),
    ]
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers),
        interceptors=interceptors,
        options=options,
    )
    service_pb2_grpc.add_GRPCInferenceServiceServicer_to_server(InferenceServicer(plane), server)
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot listen on {host}:{port} for gRPC")
    server.start()
    return server, bound


__all__ = ["BearerToken", "InferenceServicer", "make_grpc_server"]
