"""What every Jukebox KFP component shares: the image it runs in, what a task reads on a cluster
(the pod contract), and how a pipeline of them is written out.

The pod contract: a task on a cluster gets nothing from the machine that compiled the pipeline
but what the compiled YAML declares, and nothing secret by value.

- every task: ``JUKEBOX_POD_NAMESPACE`` from the pod's own namespace (its presence switches off
  every embedded default, see :func:`jukebox.config.refuse_embedded`);
- object storage: the data connection secret's five ``AWS_*`` keys (``JUKEBOX_PIPELINE_S3_SECRET``);
- model registry: its address as the pipeline parameter ``registry_url``; its token from the
  secret ``JUKEBOX_PIPELINE_REGISTRY_SECRET`` (key ``token``, optional: else the pod's
  service-account token, as the workshop's ``save_model.py`` uses);
- data repository: its URL as the pipeline parameter ``data_repo_url``; its token from the
  secret ``JUKEBOX_PIPELINE_GIT_SECRET`` (key ``password``, as the workshop's ``git-auth``;
  optional, for a repository that needs none);
- Kubeflow Pipelines (the data pipeline's trigger): the parameter ``kfp_host`` (empty: the
  namespace's own ``ds-pipeline-dspa`` service), its token from ``JUKEBOX_PIPELINE_KFP_SECRET``
  (key ``token``, optional: else the service-account token) and the service CA, and the image
  and secret names as plain variables, so the training pipeline it compiles in the pod is the
  one compiled here.
"""

from __future__ import annotations

from pathlib import Path

from kfp import dsl, kubernetes

from jukebox.config import POD_NAMESPACE_ENV, Settings, load_settings, public_url

S3_ENV = (
    "AWS_S3_ENDPOINT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_S3_BUCKET",
    "AWS_DEFAULT_REGION",
)
"""The variables an OpenShift AI data connection secret holds, passed on as they are named."""


def component(function):
    """A lightweight component running in the Jukebox image (``JUKEBOX_PIPELINE_IMAGE``), which
    already holds this project and kfp: nothing is installed at run time."""
    return dsl.component(
        function, base_image=load_settings().pipeline_image, install_kfp_package=False
    )


def on_cluster(
    settings: Settings,
    task: dsl.PipelineTask,
    *,
    s3: bool = False,
    registry: bool = False,
    data_repo: bool = False,
    kfp: bool = False,
) -> None:
    """Declare what ``task`` reads in its pod on a cluster (see the module's docstring), and
    only that, and the image it runs in. kfp's local mode ignores all of it: locally a task
    inherits the environment and runs in this one."""
    task.container_spec.image = settings.pipeline_image
    kubernetes.use_field_path_as_env(
        task, env_name=POD_NAMESPACE_ENV, field_path="metadata.namespace"
    )
    # (wanted, secret, its keys -> variables, optional): tokens may be the service account's,
    # and a repository may need none; only the data connection must exist.
    secrets = (
        (s3, settings.pipeline_s3_secret, {name: name for name in S3_ENV}, False),
        (registry, settings.pipeline_registry_secret, {"token": "MODEL_REGISTRY_TOKEN"}, True),
        (data_repo, settings.pipeline_git_secret, {"password": "JUKEBOX_DATA_GIT_TOKEN"}, True),
        (kfp, settings.pipeline_kfp_secret, {"token": "KFP_TOKEN"}, True),
    )
    for wanted, name, keys, optional in secrets:
        if wanted:
            kubernetes.use_secret_as_env(
                task, secret_name=name, secret_key_to_env=keys, optional=optional
            )
    if kfp:
        for name, value in compile_environment(settings).items():
            task.set_env_variable(name, value)


def compile_environment(settings: Settings) -> dict[str, str]:
    """The settings a pipeline is compiled with that are not parameters: the image and the names
    (never the contents) of the secrets its tasks read."""
    return {
        "JUKEBOX_PIPELINE_IMAGE": settings.pipeline_image,
        "JUKEBOX_PIPELINE_S3_SECRET": settings.pipeline_s3_secret,
        "JUKEBOX_PIPELINE_REGISTRY_SECRET": settings.pipeline_registry_secret,
        "JUKEBOX_PIPELINE_GIT_SECRET": settings.pipeline_git_secret,
        "JUKEBOX_PIPELINE_KFP_SECRET": settings.pipeline_kfp_secret,
    }


def service_addresses(settings: Settings) -> dict[str, str]:
    """The defaults of the address parameters a compiled pipeline carries: the services the
    compiling machine's settings name (a URL's credentials never go into the YAML)."""
    return {
        "registry_url": settings.registry_url or "",
        "data_repo_url": public_url(settings.data_git_url) or "",
    }


def compile_to(pipeline, path: str | Path, settings: Settings) -> Path:
    """Write ``pipeline`` (built for ``settings``) as KFP IR YAML at ``path`` (its folder made
    if missing), its address parameters defaulting to the services ``settings`` name."""
    from kfp import compiler

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(
        pipeline, str(path), pipeline_parameters=service_addresses(settings)
    )
    return path
