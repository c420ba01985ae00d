"""Serving: the Open Inference Protocol v2 over REST, as KServe and OpenVINO Model Server speak it.

- :mod:`~jukebox.serving.runtime`: one ONNX model in onnxruntime, sha256 checked before loading;
- :mod:`~jukebox.serving.protocol`: requests to numpy feeds and outputs to responses, HTTP-free;
- :mod:`~jukebox.serving.server`: the HTTP server (``python -m jukebox serve``);
- :mod:`~jukebox.serving.client`: the v2 client the Predict page and tests use;
- :mod:`~jukebox.serving.deploy`: local deployments as background jobs, replaced without a
  dropped request;
- :mod:`~jukebox.serving.kserve`: the KServe ``InferenceService`` for OVMS, as YAML or applied;
- :mod:`~jukebox.serving.registry_record`: deployments recorded in the model registry;
- :mod:`~jukebox.serving.choices`: what the Deploy page lists, as plain data.
"""
