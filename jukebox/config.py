"""Settings from environment variables, with the embedded defaults of the design.

Every concern (objects, registry, serving, pipelines, data versions) runs embedded under one
directory, ``JUKEBOX_HOME``, unless its environment variables point at a real service. The S3
variable names are those an OpenShift AI data connection injects, so the app works unchanged
inside a workbench.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from jukebox.errors import JukeboxError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
SERVICE_ACCOUNT_TOKENS_ENV = "JUKEBOX_TOKENS_FROM_SERVICE_ACCOUNT"
"""Set (``true``) where the app runs in a pod of its own: tokens not given are the pod's
service-account token, for the registry, Kubeflow Pipelines and TrustyAI alike."""
"""Where Kubernetes mounts a pod's service-account token, namespace and service CA."""

POD_NAMESPACE_ENV = "JUKEBOX_POD_NAMESPACE"
"""Set in every task of a compiled pipeline from the pod's ``metadata.namespace``: its presence
means the code runs in a pipeline pod on a cluster, where no embedded default may stand in."""


@dataclass(frozen=True)
class Settings:
    """Where every part of Jukebox keeps its state, and which real services to use.

    Secrets are excluded from ``repr`` so a settings object can be logged or shown safely.
    """

    home: Path
    s3_endpoint: str | None = None
    s3_access_key: str | None = field(default=None, repr=False)
    s3_secret_key: str | None = field(default=None, repr=False)
    s3_bucket: str = "jukebox"
    s3_region: str | None = None
    registry_url: str | None = None
    registry_token: str | None = field(default=None, repr=False)
    registry_author: str = "jukebox"
    kfp_host: str | None = None
    kfp_token: str | None = field(default=None, repr=False)
    pipeline_image: str = "quay.io/rhoai-mlops/jukebox:latest"
    pipeline_s3_secret: str = "aws-connection-models"
    pipeline_registry_secret: str = "jukebox-registry-token"
    pipeline_git_secret: str = "git-auth"
    pipeline_kfp_secret: str = "jukebox-kfp-token"
    kfp_ca_cert: str | None = None
    pod_namespace: str | None = None
    kserve_namespace: str | None = None
    serving_token: str | None = field(default=None, repr=False)
    trustyai_url: str | None = None
    """The monitoring service (TrustyAI's REST API) that inference payloads go to, if a real one."""
    trustyai_token: str | None = field(default=None, repr=False)
    data_git_url: str | None = None
    data_git_token: str | None = field(default=None, repr=False)
    drift_alert_after: int = 3
    """Drifted evaluations in a row of a scheduled metric that raise an alert."""

    @property
    def data_dir(self) -> Path:
        """The current data set: ``song_properties.parquet`` and ``song_rankings.parquet``."""
        return self.home / "data"

    @property
    def models_dir(self) -> Path:
        """Bundles written by training and export, before they are registered."""
        return self.home / "models"

    @property
    def storage_dir(self) -> Path:
        """Root of the embedded object store: one sub-directory per bucket."""
        return self.home / "s3"

    @property
    def registry_db(self) -> Path:
        """SQLite file of the embedded model registry."""
        return self.home / "registry.sqlite"

    @property
    def runs_dir(self) -> Path:
        """Background jobs (trainings, servers, pipeline runs) and their status files."""
        return self.home / "runs"

    def jobs_dir(self, kind: str) -> Path:
        """The jobs of one kind (``train``, ``serve``, ``registry``, ``pipeline``)."""
        return self.runs_dir / kind

    @property
    def staging_dir(self) -> Path:
        """Data sets a page hands to a background training, one folder per job."""
        return self.home / "staging"

    @property
    def fetched_dir(self) -> Path:
        """Bundles downloaded from object storage to serve them, as ``<name>/<version>/``."""
        return self.home / "fetched"

    @property
    def deployments_dir(self) -> Path:
        """One JSON record per deployment (local server or KServe InferenceService)."""
        return self.home / "deployments"

    @property
    def pipeline_runs_dir(self) -> Path:
        """Records of pipeline runs (parameters, task states, outputs), one folder per run."""
        return self.home / "pipeline-runs"

    @property
    def automation_dir(self) -> Path:
        """Continuous training and schedules: their state, kept across app restarts."""
        return self.home / "automation"

    @property
    def data_repo(self) -> Path:
        """git + DVC repository of the data versions (a clone of ``data_git_url`` when set)."""
        return self.home / "data-repo"

    @property
    def storage_is_remote(self) -> bool:
        return bool(self.s3_endpoint)

    @property
    def registry_is_remote(self) -> bool:
        return bool(self.registry_url)

    @property
    def serving_is_remote(self) -> bool:
        return bool(self.kserve_namespace)

    @property
    def pipelines_are_remote(self) -> bool:
        return bool(self.kfp_host)

    @property
    def monitoring_is_remote(self) -> bool:
        return bool(self.trustyai_url)

    @property
    def in_pipeline_pod(self) -> bool:
        """True inside a task of a compiled pipeline on a cluster (see ``POD_NAMESPACE_ENV``)."""
        return bool(self.pod_namespace)


def _get(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def load_settings(
    env: Mapping[str, str] | None = None, service_account: Path = SERVICE_ACCOUNT_DIR
) -> Settings:
    """Read the settings from ``env`` (the process environment by default).

    In a pipeline pod, what a variable leaves unset comes from the pod itself, as the workshop's
    pipeline code takes it: the service-account token (from ``service_account``) for the
    registry and Kubeflow Pipelines, and the namespace's own pipeline server with the service CA.
    The app in a pod of its own takes the tokens the same way with
    ``JUKEBOX_TOKENS_FROM_SERVICE_ACCOUNT=true``.
    """
    env = os.environ if env is None else env
    namespace = _get(env, POD_NAMESPACE_ENV)
    pod: dict[str, str | None] = {}
    if namespace:
        token = _read(service_account / "token")
        ca = service_account / "service-ca.crt"
        pod = {
            "registry_token": token,
            "kfp_token": token,
            "kfp_host": f"https://ds-pipeline-dspa.{namespace}.svc:8443",
            "kfp_ca_cert": str(ca) if ca.is_file() else None,
        }
    elif (_get(env, SERVICE_ACCOUNT_TOKENS_ENV) or "").lower() in ("1", "true", "yes"):
        # The app deployed in a project (deploy/app/): its ServiceAccount's RBAC is its access.
        token = _read(service_account / "token")
        pod = {"registry_token": token, "kfp_token": token, "trustyai_token": token}
    return Settings(
        home=Path(_get(env, "JUKEBOX_HOME") or ".jukebox").expanduser().resolve(),
        s3_endpoint=_get(env, "AWS_S3_ENDPOINT"),
        s3_access_key=_get(env, "AWS_ACCESS_KEY_ID"),
        s3_secret_key=_get(env, "AWS_SECRET_ACCESS_KEY"),
        s3_bucket=_get(env, "AWS_S3_BUCKET") or "jukebox",
        s3_region=_get(env, "AWS_DEFAULT_REGION"),
        registry_url=_get(env, "MODEL_REGISTRY_URL"),
        registry_token=_get(env, "MODEL_REGISTRY_TOKEN") or pod.get("registry_token"),
        registry_author=_get(env, "MODEL_REGISTRY_AUTHOR") or "jukebox",
        kfp_host=_get(env, "KFP_HOST") or pod.get("kfp_host"),
        kfp_token=_get(env, "KFP_TOKEN") or pod.get("kfp_token"),
        kfp_ca_cert=_get(env, "KFP_CA_CERT") or pod.get("kfp_ca_cert"),
        pipeline_image=_get(env, "JUKEBOX_PIPELINE_IMAGE") or "quay.io/rhoai-mlops/jukebox:latest",
        pipeline_s3_secret=_get(env, "JUKEBOX_PIPELINE_S3_SECRET") or "aws-connection-models",
        pipeline_registry_secret=_get(env, "JUKEBOX_PIPELINE_REGISTRY_SECRET")
        or "jukebox-registry-token",
        pipeline_git_secret=_get(env, "JUKEBOX_PIPELINE_GIT_SECRET") or "git-auth",
        pipeline_kfp_secret=_get(env, "JUKEBOX_PIPELINE_KFP_SECRET") or "jukebox-kfp-token",
        pod_namespace=namespace,
        kserve_namespace=_get(env, "KSERVE_NAMESPACE"),
        serving_token=_get(env, "JUKEBOX_SERVING_TOKEN"),
        trustyai_url=_get(env, "TRUSTYAI_URL"),
        trustyai_token=_get(env, "TRUSTYAI_TOKEN") or pod.get("trustyai_token"),
        data_git_url=_get(env, "JUKEBOX_DATA_GIT_URL"),
        data_git_token=_get(env, "JUKEBOX_DATA_GIT_TOKEN"),
        drift_alert_after=_positive_int(env, "JUKEBOX_DRIFT_ALERT_AFTER", 3),
    )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    value = _get(env, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise JukeboxError(f"{name}={value!r} is not a whole number of at least 1.")
    return number


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


class EmbeddedRefusedError(JukeboxError, RuntimeError):
    """A pipeline task on a cluster needs a real service that its settings do not name."""


_HOW_TO_GIVE = {
    "model registry": "the pipeline parameter registry_url (compiled from MODEL_REGISTRY_URL)",
    "object storage": "AWS_S3_ENDPOINT in the data connection secret the pipeline was compiled "
    "with (JUKEBOX_PIPELINE_S3_SECRET, default aws-connection-models)",
    "data repository": "the pipeline parameter data_repo_url (compiled from JUKEBOX_DATA_GIT_URL)",
    "monitoring service": "TRUSTYAI_URL (and TRUSTYAI_TOKEN) of the TrustyAI service",
    "current data set": 'a data version (source "version" with a ref, or "current" for the '
    "latest) or an explicit source",
}


def refuse_embedded(settings: Settings, concern: str) -> None:
    """Fail closed in a pipeline pod: an embedded default there would vanish with the pod (a
    registry, a store, a data repository) or invent data, while the run reported success.

    ``concern`` is one of "model registry", "object storage", "data repository", "current data
    set", "monitoring service"; outside a pod this does nothing.
    """
    if settings.in_pipeline_pod:
        raise embedded_refused(
            concern, f"This pipeline task runs on a cluster (namespace {settings.pod_namespace})"
        )


def embedded_refused(concern: str, subject: str) -> EmbeddedRefusedError:
    """The sentence for ``subject``, which runs on a cluster, missing the setting of ``concern``."""
    return EmbeddedRefusedError(
        f"{subject}, where there is no embedded {concern}: give {_HOW_TO_GIVE[concern]}, e.g. "
        "set it before `python -m jukebox pipeline compile`."
    )


@dataclass(frozen=True)
class ServiceStatus:
    """One line of the sidebar: a concern, whether it is embedded or remote, and where it is."""

    concern: str
    remote: bool
    location: str


def service_statuses(settings: Settings) -> list[ServiceStatus]:
    """What each concern connects to, with no secret in it (hosts and paths only)."""
    return [
        ServiceStatus(
            "Object storage",
            settings.storage_is_remote,
            f"{settings.s3_endpoint} / {settings.s3_bucket}"
            if settings.storage_is_remote
            else str(settings.storage_dir / settings.s3_bucket),
        ),
        ServiceStatus(
            "Model registry",
            settings.registry_is_remote,
            settings.registry_url or f"embedded ({settings.registry_db.name})",
        ),
        ServiceStatus(
            "Serving",
            settings.serving_is_remote,
            f"KServe namespace {settings.kserve_namespace}"
            if settings.serving_is_remote
            else "local Open Inference Protocol servers",
        ),
        ServiceStatus(
            "Pipelines",
            settings.pipelines_are_remote,
            settings.kfp_host or "kfp.local runner",
        ),
        ServiceStatus(
            "Data versions",
            bool(settings.data_git_url),
            public_url(settings.data_git_url) or str(settings.data_repo),
        ),
    ]


def public_url(url: str | None) -> str | None:
    """``url`` as it may be shown or logged: any ``user:password@`` in it removed."""
    if not url:
        return url
    parts = urlsplit(url)
    if not (parts.username or parts.password):
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
