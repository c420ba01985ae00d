"""The training pipeline, as the workshop's ``prod_train_save_pipeline.py`` runs it, for KFP v2.

fetch data → validate and prepare → train → (evaluate ∥ convert to ONNX → verify) → register,
the last only when the new model is not worse than production by more than the tolerance. Each
component's body is one call into :mod:`jukebox.pipelines.tasks`, which calls the library's
steps; the components run in the image named by ``JUKEBOX_PIPELINE_IMAGE`` (see the
``Containerfile``) and need no pip install at run time, so kfp's local mode runs them here, in
this environment, unchanged.

On a cluster each task reads what the pod contract of :mod:`jukebox.pipelines.components`
declares for it (the registry for train, evaluate and register, the data repository for fetch-data,
object storage for those three) and fails with a sentence when one is missing; locally those
declarations are ignored and the environment is inherited.

No ``from __future__ import annotations`` here: kfp reads the components' annotations as types.
"""

from pathlib import Path

from kfp import dsl
from kfp.dsl import ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from jukebox.config import Settings, load_settings
from jukebox.pipelines.components import compile_to, component, on_cluster

PIPELINE_NAME = "jukebox-training"
TASKS = (
    "fetch-data",
    "validate-and-prepare",
    "train",
    "evaluate",
    "convert-to-onnx",
    "verify-onnx",
    "register",
)
"""The task names, in the order a run goes through them (kfp names a task after its component)."""


@component
def fetch_data(source: str, source_options: dict, data_repo_url: str, data: Output[Dataset]) -> str:
    from jukebox.pipelines import tasks

    return tasks.fetch_data(source, source_options, data.path, data_repo_url)


@component
def validate_and_prepare(
    data: Input[Dataset], hyperparameters: dict, prepared: Output[Dataset], checks: Output[Metrics]
):
    from jukebox.pipelines import tasks

    tasks.validate_and_prepare(data.path, hyperparameters, prepared.path, checks.log_metric)


@component
def train(
    prepared: Input[Dataset],
    hyperparameters: dict,
    registry_url: str,
    run_id: str,
    kfp_run_id: str,
    data_version: str,
    model: Output[Model],
    fit: Output[Metrics],
):
    from jukebox.pipelines import tasks

    tasks.train(
        prepared.path,
        hyperparameters,
        model.path,
        fit.log_metric,
        registry_url,
        run_id or kfp_run_id,
        data_version,
    )


@component
def evaluate(
    data: Input[Dataset],
    prepared: Input[Dataset],
    model: Input[Model],
    model_name: str,
    tolerance: float,
    registry_url: str,
    evaluation: Output[Dataset],
    metrics: Output[Metrics],
    confusion: Output[ClassificationMetrics],
) -> bool:
    from jukebox.pipelines import tasks

    return tasks.evaluate(
        data.path,
        prepared.path,
        model.path,
        evaluation.path,
        model_name,
        tolerance,
        registry_url,
        metrics.log_metric,
        confusion.log_confusion_matrix,
        metrics.metadata,
    )


@component
def convert_to_onnx(model: Input[Model], prepared: Input[Dataset], onnx_model: Output[Model]):
    from jukebox.pipelines import tasks

    tasks.convert_to_onnx(model.path, prepared.path, onnx_model.path)


@component
def verify_onnx(
    model: Input[Model],
    onnx_model: Input[Model],
    prepared: Input[Dataset],
    verification: Output[Dataset],
    metrics: Output[Metrics],
):  # ``model`` carries the Keras model's output on the test split, to compare with
    from jukebox.pipelines import tasks

    tasks.verify_onnx(
        model.path, prepared.path, onnx_model.path, verification.path, metrics.log_metric
    )


@component
def register(
    data: Input[Dataset],
    prepared: Input[Dataset],
    model: Input[Model],
    onnx_model: Input[Model],
    evaluation: Input[Dataset],
    verification: Input[Dataset],
    model_name: str,
    version: str,
    hyperparameters: dict,
    data_version: str,
    run_id: str,
    kfp_run_id: str,
    registry_url: str,
    trigger: str,
) -> str:
    from jukebox.pipelines import tasks

    return tasks.register(
        data.path,
        prepared.path,
        model.path,
        onnx_model.path,
        evaluation.path,
        verification.path,
        model_name,
        version,
        hyperparameters,
        data_version,
        run_id or kfp_run_id,
        registry_url,
        trigger,
    )


def training_pipeline(settings: Settings | None = None):
    """The training pipeline, its pod contract as ``settings`` (the environment's by default)
    name the image, the secrets and the services.

    kfp runs a pipeline's body when it is defined, so it is defined here, for the settings
    it is compiled or run with, not once at import.
    """
    settings = settings or load_settings()

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Train, evaluate, export, verify and register the Jukebox model 🎵",
    )
    def jukebox_training(
        model_name: str = "jukebox",
        version: str = "next",
        source: str = "current",
        source_options: dict = {},  # noqa: B006 - kfp takes defaults as written, never mutated
        hyperparameters: dict = {},  # noqa: B006
        tolerance: float = 0.01,
        run_id: str = "",
        registry_url: str = "",
        data_repo_url: str = "",
        trigger: str = "",
    ):
        # The two addresses default to the compiling machine's settings (see compile_pipeline);
        # empty, a task on a cluster fails saying so, and a local task uses its environment.
        fetched = fetch_data(
            source=source, source_options=source_options, data_repo_url=data_repo_url
        )
        prepared = validate_and_prepare(
            data=fetched.outputs["data"], hyperparameters=hyperparameters
        )
        trained = train(
            prepared=prepared.outputs["prepared"],
            hyperparameters=hyperparameters,
            registry_url=registry_url,
            run_id=run_id,
            kfp_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
            data_version=fetched.outputs["Output"],
        )
        evaluated = evaluate(
            data=fetched.outputs["data"],
            prepared=prepared.outputs["prepared"],
            model=trained.outputs["model"],
            model_name=model_name,
            tolerance=tolerance,
            registry_url=registry_url,
        )
        converted = convert_to_onnx(
            model=trained.outputs["model"], prepared=prepared.outputs["prepared"]
        )
        verified = verify_onnx(
            model=trained.outputs["model"],
            onnx_model=converted.outputs["onnx_model"],
            prepared=prepared.outputs["prepared"],
        )
        # The gate is the evaluate task's one output: kfp's local mode resolves a condition on a
        # task's "Output" but not on a named output of several.
        with dsl.If(evaluated.outputs["Output"] == True, name="not-worse-than-production"):  # noqa: E712
            registered = register(
                data=fetched.outputs["data"],
                prepared=prepared.outputs["prepared"],
                model=trained.outputs["model"],
                onnx_model=converted.outputs["onnx_model"],
                evaluation=evaluated.outputs["evaluation"],
                verification=verified.outputs["verification"],
                model_name=model_name,
                version=version,
                hyperparameters=hyperparameters,
                data_version=fetched.outputs["Output"],
                run_id=run_id,
                kfp_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                registry_url=registry_url,
                trigger=trigger,
            )
            registered.after(verified)
        for task in (fetched, prepared, trained, evaluated, converted, verified, registered):
            # Every run fetches the data anew and trains again: a cached step would hide new data.
            task.set_caching_options(False)
        on_cluster(settings, fetched, s3=True, data_repo=True)
        on_cluster(settings, trained, registry=True)  # logs the fitting as an experiment run
        on_cluster(settings, evaluated, registry=True)
        on_cluster(settings, registered, s3=True, registry=True)
        for task in (prepared, converted, verified):
            on_cluster(settings, task)

    return jukebox_training


def compile_pipeline(path: str | Path, settings: Settings | None = None) -> Path:
    """Write the pipeline as KFP IR YAML, to import in the Data Science Pipelines UI; its
    ``registry_url`` and ``data_repo_url`` default to those ``settings`` name."""
    settings = settings or load_settings()
    return compile_to(training_pipeline(settings), path, settings)
