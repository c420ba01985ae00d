"""The data pipeline, as the workshop's ``4-data_pipeline_with_dvc_versioning.py`` runs it.

extract (any source the app reads) → transform (column names and types normalised, flagged rows
dropped) → validate → load (the live tables, the ``data-source`` remote) and version (DVC + a
git commit, only when the content changed) → on a cluster, start the training pipeline for
exactly that version. Locally the continuous-training watcher starts it
(:mod:`jukebox.pipelines.automation`). Compiled, local and remote runs work as for the training
pipeline (:mod:`jukebox.pipelines.training`).

No ``from __future__ import annotations`` here: kfp reads the components' annotations as types.
"""

from pathlib import Path

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from jukebox.config import Settings, load_settings
from jukebox.pipelines.components import compile_to, component, on_cluster

PIPELINE_NAME = "jukebox-data"
TASKS = (
    "extract-data",
    "transform-data",
    "validate-data",
    "load-and-version",
    "trigger-training",
)


@component
def extract_data(source: str, source_options: dict, data_repo_url: str, raw: Output[Dataset]):
    from jukebox.pipelines import tasks

    tasks.extract_data(source, source_options, raw.path, data_repo_url)


@component
def transform_data(raw: Input[Dataset], clean: Output[Dataset], changes: Output[Metrics]):
    from jukebox.pipelines import tasks

    tasks.transform_data(raw.path, clean.path, changes.log_metric)


@component
def validate_data(clean: Input[Dataset], checks: Output[Metrics]):
    from jukebox.pipelines import tasks

    tasks.validate_data(clean.path, checks.log_metric)


@component
def load_and_version(clean: Input[Dataset], message: str, data_repo_url: str) -> str:
    from jukebox.pipelines import tasks

    return tasks.load_and_version(clean.path, message, data_repo_url)


@component
def trigger_training(
    commit: str,
    model_name: str,
    tolerance: float,
    hyperparameters: dict,
    kfp_host: str,
    registry_url: str,
    data_repo_url: str,
) -> str:
    from jukebox.pipelines import trigger

    return trigger.trigger_training(
        commit, model_name, tolerance, hyperparameters, kfp_host, registry_url, data_repo_url
    )


def data_pipeline(settings: Settings | None = None):
    """The data pipeline, its pod contract as ``settings`` (the environment's by default) name
    the image, the secrets and the services.

    kfp runs a pipeline's body when it is defined, so it is defined here, for the settings
    it is compiled or run with, not once at import.
    """
    settings = settings or load_settings()

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Bring new song data in, version it with DVC, and train on it 🎶",
    )
    def jukebox_data(
        source: str = "current",
        source_options: dict = {},  # noqa: B006 - kfp takes defaults as written, never mutated
        message: str = "",
        model_name: str = "jukebox",
        tolerance: float = 0.01,
        hyperparameters: dict = {},  # noqa: B006
        registry_url: str = "",
        data_repo_url: str = "",
        kfp_host: str = "",
    ):
        # The addresses default to the compiling machine's settings (see compile_data_pipeline);
        # an empty kfp_host on a cluster is the namespace's own pipeline server.
        extracted = extract_data(
            source=source, source_options=source_options, data_repo_url=data_repo_url
        )
        transformed = transform_data(raw=extracted.outputs["raw"])
        validated = validate_data(clean=transformed.outputs["clean"])
        versioned = load_and_version(
            clean=transformed.outputs["clean"], message=message, data_repo_url=data_repo_url
        )
        versioned.after(validated)
        with dsl.If(versioned.output != "", name="data-changed"):
            triggered = trigger_training(
                commit=versioned.output,
                model_name=model_name,
                tolerance=tolerance,
                hyperparameters=hyperparameters,
                kfp_host=kfp_host,
                registry_url=registry_url,
                data_repo_url=data_repo_url,
            )
        for task in (extracted, transformed, validated, versioned, triggered):
            task.set_caching_options(False)
        for task in (extracted, versioned):
            on_cluster(settings, task, s3=True, data_repo=True)
        on_cluster(settings, transformed)
        on_cluster(settings, validated)
        on_cluster(settings, triggered, kfp=True)

    return jukebox_data


def compile_data_pipeline(path: str | Path, settings: Settings | None = None) -> Path:
    """Write the data pipeline as KFP IR YAML; its registry and data repository parameters
    default to those ``settings`` name. ``kfp_host`` stays empty: in a pod the namespace's own
    pipeline server is reached in-cluster, as the workshop does, whatever route compiled it."""
    settings = settings or load_settings()
    return compile_to(data_pipeline(settings), path, settings)
