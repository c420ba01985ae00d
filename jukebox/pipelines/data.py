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

from jukebox.config import load_settings
from jukebox.pipelines.components import compile_to, component, with_s3_secret

PIPELINE_NAME = "jukebox-data"
TASKS = (
    "extract-data",
    "transform-data",
    "validate-data",
    "load-and-version",
    "trigger-training",
)


@component
def extract_data(source: str, source_options: dict, raw: Output[Dataset]):
    from jukebox.pipelines import tasks

    tasks.extract_data(source, source_options, raw.path)


@component
def transform_data(raw: Input[Dataset], clean: Output[Dataset], changes: Output[Metrics]):
    from jukebox.pipelines import tasks

    tasks.transform_data(raw.path, clean.path, changes.log_metric)


@component
def validate_data(clean: Input[Dataset], checks: Output[Metrics]):
    from jukebox.pipelines import tasks

    tasks.validate_data(clean.path, checks.log_metric)


@component
def load_and_version(clean: Input[Dataset], message: str) -> str:
    from jukebox.pipelines import tasks

    return tasks.load_and_version(clean.path, message)


@component
def trigger_training(commit: str, model_name: str, tolerance: float, hyperparameters: dict) -> str:
    from jukebox.pipelines import tasks

    return tasks.trigger_training(commit, model_name, tolerance, hyperparameters)


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Bring new song data in, version it with DVC, and train on it 🎶",
)
def data_pipeline(
    source: str = "current",
    source_options: dict = {},  # noqa: B006 - kfp takes defaults as written, never mutated
    message: str = "",
    model_name: str = "jukebox",
    tolerance: float = 0.01,
    hyperparameters: dict = {},  # noqa: B006
):
    extracted = extract_data(source=source, source_options=source_options)
    transformed = transform_data(raw=extracted.outputs["raw"])
    validated = validate_data(clean=transformed.outputs["clean"])
    versioned = load_and_version(clean=transformed.outputs["clean"], message=message)
    versioned.after(validated)
    with dsl.If(versioned.output != "", name="data-changed"):
        triggered = trigger_training(
            commit=versioned.output,
            model_name=model_name,
            tolerance=tolerance,
            hyperparameters=hyperparameters,
        )
    for task in (extracted, transformed, validated, versioned, triggered):
        task.set_caching_options(False)
    for task in (extracted, versioned):
        with_s3_secret(task)
    settings = load_settings()
    if settings.kfp_host:
        triggered.set_env_variable("KFP_HOST", settings.kfp_host)


def compile_data_pipeline(path: str | Path) -> Path:
    """Write the data pipeline as KFP IR YAML."""
    return compile_to(data_pipeline, path)
