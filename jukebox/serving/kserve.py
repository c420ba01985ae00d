"""KServe deployments: the ``InferenceService`` the OpenShift AI dashboard creates for a model
served by OpenVINO Model Server, as YAML, applied to the current Kubernetes context on request.

What the dashboard writes, and so what this module writes:

- ``apiVersion: serving.kserve.io/v1beta1``, ``kind: InferenceService``;
- annotations ``openshift.io/display-name``, ``serving.kserve.io/deploymentMode``
  (``Serverless`` or ``RawDeployment``), ``security.opendatahub.io/enable-auth: "true"`` when token
  authentication is asked for, and for Serverless the Istio/Knative passthrough annotations;
- labels ``opendatahub.io/dashboard: "true"``; without an external route a Serverless service is
  labelled ``networking.knative.dev/visibility: cluster-local``, and with one a RawDeployment
  service is labelled ``networking.kserve.io/visibility: exposed``;
- ``spec.predictor``: the scaling of KServe's ``ComponentExtensionSpec`` (``minReplicas``,
  ``maxReplicas``, and when asked ``scaleMetric`` and ``scaleTarget``; see *Scaling* below) and
  ``model`` with
  ``modelFormat: {name: onnx, version: "1"}``, the ``runtime`` (a ServingRuntime of OVMS), the
  storage (``storage: {key: <data connection>, path: models/<name>}``, or ``storageUri``) and
  ``resources``;
- ``spec.predictor.canaryTrafficPercent`` when a canary share is set (Serverless only): applied
  over a running InferenceService, the new predictor gets that percent of the traffic and the
  last ready revision the rest; setting it to 100 promotes the canary (KServe's canary rollout);
- ``spec.predictor.logger: {mode: all, url: ...}``: KServe's payload logger, which sends every
  request and response as a CloudEvent to the monitoring service, as OpenShift AI wires TrustyAI
  (the ``TRUSTYAI_URL`` setting, else the TrustyAI service of the namespace,
  ``http://trustyai-service.<namespace>.svc.cluster.local``); off with ``payload_logging=False``.

Scaling: the dashboard writes ``predictor.minReplicas`` and ``predictor.maxReplicas`` from its form
(odh-dashboard's ``assembleInferenceService``, ``frontend/src/api/k8s/inferenceServices.ts``) and
no scale metric; this module writes both, and ``scaleMetric``/``scaleTarget`` when the form sets
them, as KServe reads them: between the two the autoscaler adds and removes replicas to hold
``scaleMetric`` (``concurrency`` or ``rps``, watched by Knative's autoscaler in Serverless mode;
``cpu`` or ``memory``, a utilization percent, watched by an HPA) at ``scaleTarget`` per replica.
``minReplicas: 0`` is scale to zero, which only Serverless (Knative) does: the first request after
an idle spell waits for a replica to start. Newer KServe also reads an ``autoScaling`` block
(HPA/KEDA metrics); the four plain fields are what both the Serverless and RawDeployment modes
understand, so they are all this module writes.

OVMS reads ``models/<name>/<version>/model.onnx``: the storage path is the model's folder, and the
version is pinned with OVMS's ``--model_version_policy`` when it is a number. Without a cluster
the YAML is still built and can be downloaded; with one, :func:`deploy_to_kserve` applies it
(:func:`apply` creates or patches), waits for its ``Ready`` condition (:func:`wait_until_ready`)
and records it in the model registry.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from urllib.parse import urlparse

import yaml

from jukebox.errors import JukeboxError
from jukebox.serving.registry_records import record_serving_in_registry

GROUP = "serving.kserve.io"
VERSION = "v1beta1"
PLURAL = "inferenceservices"
RUNTIME_PLURAL = "servingruntimes"
DEFAULT_RUNTIME = "kserve-ovms"
OVMS_IMAGE = "quay.io/modh/openvino_model_server:stable"
DEPLOYMENT_MODES = ("Serverless", "RawDeployment")
LOGGER_MODES = ("all", "request", "response")
"""KServe's logger modes: both halves of each inference, or only one."""
TRUSTYAI_SERVICE = "trustyai-service"
"""The name of the TrustyAI service OpenShift AI runs in a namespace with model monitoring."""
SCALE_METRICS = ("concurrency", "rps", "cpu", "memory")
"""KServe's ``ScaleMetric`` enum (``pkg/apis/serving/v1beta1/component.go``)."""
RAW_SCALE_METRICS = ("cpu", "memory")
"""What the HorizontalPodAutoscaler of a RawDeployment watches (concurrency and rps need KEDA)."""
SCALE_UNITS = {
    "concurrency": "requests in flight per replica",
    "rps": "requests per second per replica",
    "cpu": "percent of the CPU request",
    "memory": "percent of the memory request",
}
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class KServeError(JukeboxError, RuntimeError):
    """A manifest cannot be built or applied; the message says why and what to do."""


@dataclass(frozen=True)
class KServeOptions:
    """What the dashboard's deploy form asks for."""

    name: str
    namespace: str | None = None
    display_name: str | None = None
    runtime: str = DEFAULT_RUNTIME
    storage_key: str | None = None
    storage_path: str | None = None
    storage_uri: str | None = None
    model_version: str | None = None
    min_replicas: int = 1
    """0 is scale to zero (Serverless only)."""
    max_replicas: int = 1
    scale_metric: str | None = None
    """What the autoscaler watches, one of :data:`SCALE_METRICS`; None: KServe's default."""
    scale_target: int | None = None
    """The value of ``scale_metric`` to hold each replica at (see :data:`SCALE_UNITS`)."""
    cpu_request: str = "1"
    memory_request: str = "4Gi"
    cpu_limit: str = "2"
    memory_limit: str = "8Gi"
    deployment_mode: str = "Serverless"
    external_route: bool = False
    token_auth: bool = False
    payload_logging: bool = True
    """Send every inference to the monitoring service through KServe's payload logger."""
    logger_url: str | None = None
    """Where the logger sends them; None: :func:`monitoring_url` of the namespace."""
    logger_mode: str = "all"
    canary_traffic_percent: int | None = None
    """With a number, applying the manifest to an existing InferenceService rolls the new
    predictor out as a canary with that share of the traffic (KServe keeps the last ready
    revision for the rest); 100 promotes it. None: all traffic to the new revision at once."""


def monitoring_url(namespace: str | None, settings=None) -> str:
    """Where a KServe payload logger in ``namespace`` sends inferences: the ``TRUSTYAI_URL``
    setting when there is one, else the TrustyAI service OpenShift AI runs in the namespace
    (without a namespace, its short name, which resolves from any pod of the same namespace)."""
    configured = getattr(settings, "trustyai_url", None)
    if configured:
        return configured
    if namespace:
        return f"http://{TRUSTYAI_SERVICE}.{namespace}.svc.cluster.local"
    return f"http://{TRUSTYAI_SERVICE}"


def storage_from_uri(uri: str) -> tuple[str, str, str | None]:
    """``(bucket, model folder, version)`` of a stored version's URI, e.g.
    ``s3://jukebox/models/songs/3/?endpoint=...`` gives ``("jukebox", "models/songs", "3")``."""
    parsed = urlparse(uri or "")
    if parsed.scheme != "s3" or not parsed.netloc:
        raise KServeError(
            f"{uri or 'This version'} is not in S3, and a cluster can only read models from S3: "
            "register the version with S3 settings (AWS_S3_ENDPOINT and the others) to deploy "
            "it to KServe."
        )
    parts = [p for p in parsed.path.split("/") if p]
    if len(parts) >= 3 and parts[-3] == "models":
        return parsed.netloc, "/".join(parts[:-1]), parts[-1]
    return parsed.netloc, "/".join(parts), None


def _check(options: KServeOptions) -> None:
    if not NAME_PATTERN.match(options.name or ""):
        raise KServeError(
            f"{options.name!r} cannot name an InferenceService: use 1 to 63 lowercase letters, "
            "digits and dashes, starting and ending with a letter or digit."
        )
    if options.deployment_mode not in DEPLOYMENT_MODES:
        raise KServeError(f"The deployment mode must be one of {', '.join(DEPLOYMENT_MODES)}.")
    _check_scaling(options)
    _check_canary(options)
    if not (options.storage_key and options.storage_path) and not options.storage_uri:
        raise KServeError("Say where the model is: a data connection and a path, or a storage URI.")
    if options.payload_logging and options.logger_mode not in LOGGER_MODES:
        raise KServeError(f"The logger mode must be one of {', '.join(LOGGER_MODES)}.")
    if options.logger_url and urlparse(options.logger_url).scheme not in ("http", "https"):
        raise KServeError(
            f"{options.logger_url!r} is not a URL the payload logger can send to: use "
            "http://… or https://… (TrustyAI's service URL)."
        )


def _check_scaling(options: KServeOptions) -> None:
    low, high = options.min_replicas, options.max_replicas
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (low, high)):
        raise KServeError("Replicas are whole numbers: give the minimum and maximum as integers.")
    if low < 0:
        raise KServeError(
            f"The minimum number of replicas cannot be {low}: use 0 (scale to zero) or more."
        )
    if high < 1 or high < low:
        raise KServeError(
            f"The maximum number of replicas ({high}) must be at least 1 and at least the "
            f"minimum ({low})."
        )
    raw = options.deployment_mode == "RawDeployment"
    if raw and low == 0:
        raise KServeError(
            "A RawDeployment cannot scale to zero: set the minimum to 1 or more, or deploy "
            "Serverless."
        )
    metric, target = options.scale_metric, options.scale_target
    if metric is not None and metric not in SCALE_METRICS:
        raise KServeError(
            f"{metric!r} is not a scale metric KServe knows: use one of {', '.join(SCALE_METRICS)}."
        )
    if raw and metric is not None and metric not in RAW_SCALE_METRICS:
        raise KServeError(
            f"A RawDeployment scales on cpu or memory, not {metric}: choose one of those, or "
            "deploy Serverless to scale on concurrency or rps."
        )
    if target is not None:
        if metric is None:
            raise KServeError("Say which scale metric the target is for (concurrency, rps, …).")
        if not isinstance(target, int) or isinstance(target, bool) or target <= 0:
            raise KServeError(
                f"The scale target must be a whole number above 0, not {target!r} "
                f"({SCALE_UNITS[metric]})."
            )
        if metric in RAW_SCALE_METRICS and target > 100:
            raise KServeError(
                f"A {metric} target is a percent of the request, 1 to 100, not {target}."
            )


def _check_canary(options: KServeOptions) -> None:
    percent = options.canary_traffic_percent
    if percent is None:
        return
    if not isinstance(percent, int) or isinstance(percent, bool) or not 0 <= percent <= 100:
        raise KServeError(
            f"A canary's share of the traffic is a whole percent, 0 to 100, not {percent!r}."
        )
    if options.deployment_mode != "Serverless":
        raise KServeError(
            "KServe splits traffic between revisions only in Serverless mode (Knative): deploy "
            "Serverless to roll out a canary, or leave the canary share empty."
        )


def scaling_fields(options: KServeOptions) -> dict:
    """The scaling fields of ``spec.predictor``, named as KServe's ``ComponentExtensionSpec``."""
    fields: dict = {"minReplicas": options.min_replicas, "maxReplicas": options.max_replicas}
    if options.scale_metric is not None:
        fields["scaleMetric"] = options.scale_metric
    if options.scale_target is not None:
        fields["scaleTarget"] = options.scale_target
    return fields


def build_inference_service(options: KServeOptions) -> dict:
    """The ``InferenceService`` manifest for ``options``, as a plain dict."""
    _check(options)
    serverless = options.deployment_mode == "Serverless"
    annotations = {
        "openshift.io/display-name": options.display_name or options.name,
        "serving.kserve.io/deploymentMode": options.deployment_mode,
    }
    if options.token_auth:
        annotations["security.opendatahub.io/enable-auth"] = "true"
    if serverless:
        annotations.update(
            {
                "serving.knative.openshift.io/enablePassthrough": "true",
                "sidecar.istio.io/inject": "true",
                "sidecar.istio.io/rewriteAppHTTPProbers": "true",
            }
        )
    labels = {"opendatahub.io/dashboard": "true"}
    if serverless and not options.external_route:
        labels["networking.knative.dev/visibility"] = "cluster-local"
    if not serverless and options.external_route:
        labels["networking.kserve.io/visibility"] = "exposed"

    model: dict = {
        "modelFormat": {"name": "onnx", "version": "1"},
        "runtime": options.runtime,
    }
    if options.storage_key and options.storage_path:
        model["storage"] = {"key": options.storage_key, "path": options.storage_path}
    else:
        model["storageUri"] = options.storage_uri
    if options.model_version and options.model_version.isdigit():
        # OVMS serves the highest numbered version of the folder unless told which.
        policy = json.dumps({"specific": {"versions": [int(options.model_version)]}})
        model["args"] = [f"--model_version_policy={policy}"]
    model["resources"] = {
        "requests": {"cpu": options.cpu_request, "memory": options.memory_request},
        "limits": {"cpu": options.cpu_limit, "memory": options.memory_limit},
    }
    metadata: dict = {"name": options.name, "annotations": annotations, "labels": labels}
    if options.namespace:
        metadata["namespace"] = options.namespace
    predictor: dict = scaling_fields(options)
    if options.canary_traffic_percent is not None:
        predictor["canaryTrafficPercent"] = options.canary_traffic_percent
    if options.payload_logging:
        predictor["logger"] = {
            "mode": options.logger_mode,
            "url": options.logger_url or monitoring_url(options.namespace),
        }
    predictor["model"] = model
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {"predictor": predictor},
    }


def build_serving_runtime(
    name: str = DEFAULT_RUNTIME, namespace: str | None = None, image: str = OVMS_IMAGE
) -> dict:
    """An OpenVINO Model Server ``ServingRuntime`` for the v2 REST protocol, as the dashboard's
    "OpenVINO Model Server" template instantiates it; needed once per namespace."""
    metadata: dict = {
        "name": name,
        "annotations": {
            "openshift.io/display-name": "OpenVINO Model Server",
            "opendatahub.io/apiProtocol": "REST",
        },
        "labels": {"opendatahub.io/dashboard": "true"},
    }
    if namespace:
        metadata["namespace"] = namespace
    return {
        "apiVersion": f"{GROUP}/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": metadata,
        "spec": {
            "multiModel": False,
            "protocolVersions": ["v2", "grpc-v2"],
            "supportedModelFormats": [
                {"name": "openvino_ir", "version": "opset13", "autoSelect": True},
                {"name": "onnx", "version": "1"},
            ],
            "annotations": {"prometheus.io/port": "8888", "prometheus.io/path": "/metrics"},
            "containers": [
                {
                    "name": "kserve-container",
                    "image": image,
                    "args": [
                        "--model_name={{.Name}}",
                        "--port=8001",
                        "--rest_port=8888",
                        "--model_path=/mnt/models",
                        "--file_system_poll_wait_seconds=0",
                        "--grpc_bind_address=0.0.0.0",
                        "--rest_bind_address=0.0.0.0",
                        "--target_device=AUTO",
                        "--metrics_enable",
                    ],
                    "ports": [{"containerPort": 8888, "protocol": "TCP"}],
                }
            ],
        },
    }


def to_yaml(*manifests: dict) -> str:
    """Manifests as one YAML document stream, keys in the order written (as ``oc`` shows them)."""
    return "---\n".join(
        yaml.safe_dump(m, sort_keys=False, default_flow_style=False) for m in manifests
    )


# --- the cluster --------------------------------------------------------------------------------


def custom_objects_api(context: str | None = None):
    """A ``CustomObjectsApi`` for the current kubeconfig context (or in-cluster credentials)."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    try:
        config.load_kube_config(context=context)
    except (ConfigException, FileNotFoundError, TypeError):
        try:
            config.load_incluster_config()
        except ConfigException:
            raise KServeError(
                "No Kubernetes cluster is configured: log in with `oc login` (or set KUBECONFIG) "
                "and try again. The YAML above can still be downloaded and applied by hand."
            ) from None
    return client.CustomObjectsApi()


def current_namespace(context: str | None = None) -> str | None:
    """The namespace of the current kubeconfig context, if it names one."""
    try:
        from kubernetes import config

        _, active = config.list_kube_config_contexts()
        if context:
            contexts, _ = config.list_kube_config_contexts()
            active = next((c for c in contexts if c["name"] == context), active)
        return (active or {}).get("context", {}).get("namespace")
    except Exception:  # no kubeconfig at all: there is no namespace to suggest
        return None


def _api_error(error, what: str) -> KServeError:
    status = getattr(error, "status", None)
    reason = getattr(error, "reason", "") or str(error)
    if status in (401, 403):
        return KServeError(
            f"The cluster refused to {what} (HTTP {status}): your account may not change "
            "InferenceServices in this namespace; log in again or ask for the edit role."
        )
    if status == 404:
        return KServeError(
            f"The cluster cannot {what} (HTTP 404): KServe is not installed there, or the "
            "namespace does not exist."
        )
    return KServeError(f"The cluster could not {what} (HTTP {status}): {reason}")


def apply(manifest: dict, namespace: str, *, api=None) -> dict:
    """Create the InferenceService (or ServingRuntime), or patch it if it exists; return it."""
    from kubernetes.client.exceptions import ApiException

    api = api or custom_objects_api()
    kind = manifest.get("kind")
    plural = PLURAL if kind == "InferenceService" else RUNTIME_PLURAL
    group, version = manifest["apiVersion"].split("/")
    body = {**manifest, "metadata": {**manifest["metadata"], "namespace": namespace}}
    name = body["metadata"]["name"]
    try:
        return api.create_namespaced_custom_object(group, version, namespace, plural, body)
    except ApiException as error:
        if error.status != 409:
            raise _api_error(error, f"create {kind} {name}") from None
    try:
        return api.patch_namespaced_custom_object(group, version, namespace, plural, name, body)
    except ApiException as error:
        raise _api_error(error, f"update {kind} {name}") from None


def status(name: str, namespace: str, *, api=None) -> dict:
    """``{"ready": bool, "url": str | None, "message": str}`` of an InferenceService."""
    from kubernetes.client.exceptions import ApiException

    api = api or custom_objects_api()
    try:
        service = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
    except ApiException as error:
        raise _api_error(error, f"read InferenceService {name}") from None
    conditions = (service.get("status") or {}).get("conditions") or []
    ready = next((c for c in conditions if c.get("type") == "Ready"), {})
    not_ready = [c for c in conditions if c.get("status") != "True"]
    message = ready.get("message") or "; ".join(
        f"{c.get('type')}: {c.get('message') or c.get('reason') or c.get('status')}"
        for c in not_ready
    )
    return {
        "ready": ready.get("status") == "True",
        "url": (service.get("status") or {}).get("url"),
        "message": message or ("ready" if ready.get("status") == "True" else "waiting"),
    }


def wait_until_ready(
    name: str,
    namespace: str,
    *,
    api=None,
    timeout: float = 600.0,
    poll: float = 5.0,
    on_progress: Callable[[dict], None] | None = None,
) -> dict:
    """Poll the InferenceService until Ready (returns its status) or ``timeout`` (raises)."""
    api = api or custom_objects_api()
    deadline = time.monotonic() + timeout
    while True:
        current = status(name, namespace, api=api)
        if on_progress:
            on_progress(current)
        if current["ready"]:
            return current
        if time.monotonic() >= deadline:
            raise KServeError(
                f"InferenceService {name} was not ready after {timeout:g} s: {current['message']}"
            )
        time.sleep(poll)


def record_in_registry(
    settings, options: KServeOptions, model: str, version: str, url: str | None = None
) -> str:
    """Record an applied InferenceService in the model registry: an inference service of
    ``model`` ``version`` in the serving environment named after the namespace."""
    return record_serving_in_registry(
        settings,
        environment=options.namespace or "kserve",
        service_name=options.name,
        model=model,
        version=version,
        runtime=options.runtime,
        properties={"url": url or "", "deploymentMode": options.deployment_mode},
    )


@dataclass(frozen=True)
class KServeDeployment:
    """An InferenceService that answers ready, and whether the model registry recorded it.

    ``registry_error`` is the registry's sentence when recording failed: the service is deployed
    all the same, so a failed record is news, not a failed deployment.
    """

    name: str
    namespace: str
    url: str | None
    registry_id: str | None = None
    registry_error: str | None = None


def deploy_to_kserve(
    settings,
    options: KServeOptions,
    *,
    with_runtime: bool = True,
    model: str | None = None,
    version: str | None = None,
    api=None,
    timeout: float = 180.0,
    poll: float = 5.0,
    on_progress: Callable[[str], None] | None = None,
) -> KServeDeployment:
    """Apply the InferenceService of ``options`` (after the OVMS ServingRuntime, with
    ``with_runtime``) to its namespace, wait until it is ready, and record it in the model
    registry when it serves a registered ``model`` ``version``. Unless ``options`` say where,
    its payload logger sends to :func:`monitoring_url` (``TRUSTYAI_URL`` of ``settings``).

    Raises :class:`KServeError` when the cluster refuses or the service is not ready in time.
    """
    if not options.namespace:
        raise KServeError("Say which namespace (project) to deploy into.")
    if options.payload_logging and not options.logger_url:
        options = replace(options, logger_url=monitoring_url(options.namespace, settings))
    manifests = [build_inference_service(options)]
    if with_runtime:
        manifests.insert(0, build_serving_runtime(namespace=options.namespace))
    api = api or custom_objects_api()
    for manifest in manifests:
        apply(manifest, options.namespace, api=api)
        if on_progress:
            on_progress(f"{manifest['kind']} {manifest['metadata']['name']} applied.")
    ready = wait_until_ready(
        options.name,
        options.namespace,
        api=api,
        timeout=timeout,
        poll=poll,
        on_progress=(lambda current: on_progress(current["message"])) if on_progress else None,
    )
    deployed = KServeDeployment(options.name, options.namespace, ready["url"])
    if not model:
        return deployed
    try:
        registry_id = record_in_registry(settings, options, model, str(version), ready["url"])
    except JukeboxError as error:
        return replace(deployed, registry_error=str(error))
    return replace(deployed, registry_id=registry_id)
