"""Serving: the Open Inference Protocol v2 over REST, as KServe and OpenVINO Model Server speak it.

- :mod:`~jukebox.serving.runtime`: one ONNX model in onnxruntime, sha256 checked before loading;
- :mod:`~jukebox.serving.protocol`: requests to numpy feeds and outputs to responses, HTTP-free;
- :mod:`~jukebox.serving.dataplane`: what a request does to the model, for REST and gRPC alike:
  checks, run, errors, metrics and the payload logger's hook
  (:mod:`~jukebox.serving.inference_log` is the logger's contract);
- :mod:`~jukebox.serving.routes`: the REST routes (HTTP-free);
  :mod:`~jukebox.serving.transport`: HTTP itself; :mod:`~jukebox.serving.grpc_server`: gRPC;
- :mod:`~jukebox.serving.metrics`: ``GET /metrics`` with OpenVINO Model Server's and Triton's
  names;
- :mod:`~jukebox.serving.server`: the parts put together (``python -m jukebox serve``);
- :mod:`~jukebox.serving.client`: the v2 client: raw feature rows out, labelled probabilities in;
- :mod:`~jukebox.serving.prediction`: what to ask (deployments, pasted addresses) and one
  prediction for some songs, as the Predict page asks it;
- :mod:`~jukebox.serving.deploy`: local deployments as background jobs, replaced without a
  dropped request (where a deployment gets its port: :func:`~jukebox.serving.deploy.start_server`);
- :mod:`~jukebox.serving.kserve`: the KServe ``InferenceService`` for OVMS, as YAML, or deployed
  and recorded (:func:`~jukebox.serving.kserve.deploy_to_kserve`);
- :mod:`~jukebox.serving.registry_records`: deployments recorded in the model registry.
"""
