"""Serving: the Open Inference Protocol v2 over REST, as KServe and OpenVINO Model Server speak it.

- :mod:`~jukebox.serving.runtime`: one ONNX model in onnxruntime, sha256 checked before loading;
- :mod:`~jukebox.serving.protocol`: requests to numpy feeds and outputs to responses, HTTP-free;
- :mod:`~jukebox.serving.server`: the HTTP server (``python -m jukebox serve``) and its
  :class:`~jukebox.serving.server.OIPApplication`, the protocol's routes;
- :mod:`~jukebox.serving.client`: the v2 client: raw feature rows out, labelled probabilities in;
- :mod:`~jukebox.serving.prediction`: what to ask (deployments, pasted addresses) and one
  prediction for some songs, as the Predict page asks it;
- :mod:`~jukebox.serving.deploy`: local deployments as background jobs, replaced without a
  dropped request (where a deployment gets its port: :func:`~jukebox.serving.deploy.start_server`);
- :mod:`~jukebox.serving.kserve`: the KServe ``InferenceService`` for OVMS, as YAML, or deployed
  and recorded (:func:`~jukebox.serving.kserve.deploy_to_kserve`);
- :mod:`~jukebox.serving.registry_records`: deployments recorded in the model registry.
"""
