"""What every Jukebox KFP component shares: the image it runs in, and the S3 secret on a cluster;
and how a pipeline of them is written out."""

from pathlib import Path

from kfp import dsl, kubernetes

from jukebox.config import load_settings

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


def with_s3_secret(task: dsl.PipelineTask) -> None:
    """On a cluster, the task gets the S3 settings from the workshop's data connection secret
    (``JUKEBOX_PIPELINE_S3_SECRET``); kfp's local mode ignores it and passes the environment."""
    kubernetes.use_secret_as_env(
        task,
        secret_name=load_settings().pipeline_s3_secret,
        secret_key_to_env={name: name for name in S3_ENV},
    )


def compile_to(pipeline, path: str | Path) -> Path:
    """Write ``pipeline`` as KFP IR YAML at ``path`` (its folder made if missing)."""
    from kfp import compiler

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(pipeline, str(path))
    return path
