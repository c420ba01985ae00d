"""The training pipeline, as the workshop's ``prod_train_save_pipeline.py`` runs it, for KFP v2.

fetch data → validate and prepare → train → (evaluate ∥ convert to ONNX → verify) → register,
the last only when the new model is not worse than production by more than the tolerance. Each
component's body is one call into :mod:`jukebox.pipelines.tasks`, which calls the library's
steps; the components run in the image named by ``JUKEBOX_PIPELINE_IMAGE`` (see the
``Containerfile``) and need no pip install at run time, so kfp's local mode runs them here, in
this environment, unchanged.

On a cluster the S3 credentials come from the workshop's data connection secret
(``aws-connection-models`` unless ``JUKEBOX_PIPELINE_S3_SECRET`` says otherwise) through
kfp-kubernetes; locally those settings are ignored and the environment is inherited.

No ``from __future__ import annotations`` here: kfp reads the components' annotations as types.
"""

from pathlib import Path

from kfp import dsl
from kfp.dsl import ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from jukebox.config import load_settings
from jukebox.pipelines.components import compile_to, component, with_s3_secret

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
def fetch_data(source: str, source_options: dict, data: Output[Dataset]) -> str:
    from jukebox.pipelines import tasks

    return tasks.fetch_data(source, source_options, data.path)


@component
def validate_and_prepare(
    data: Input[Dataset], hyperparameters: dict, prepared: Output[Dataset], checks: Output[Metrics]
):
    from jukebox.pipelines import tasks

    tasks.validate_and_prepare(data.path, hyperparameters, prepared.path, checks.log_metric)


@component
def train(
    prepared: Input[Dataset], hyperparameters: dict, model: Output[Model], fit: Output[Metrics]
):
    from jukebox.pipelines import tasks

    tasks.train(prepared.path, hyperparameters, model.path, fit.log_metric)


@component
def evaluate(
    data: Input[Dataset],
    prepared: Input[Dataset],
    model: Input[Model],
    model_name: str,
    tolerance: float,
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
        metrics.log_metric,
        confusion.log_confusion_matrix,
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
    )


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Train, evaluate, export, verify and register the Jukebox model 🎵",
)
def training_pipeline(
    model_name: str = "jukebox",
    version: str = "next",
    source: str = "current",
    source_options: dict = {},  # noqa: B006 - kfp takes defaults as written, never mutated
    hyperparameters: dict = {},  # noqa: B006
    tolerance: float = 0.01,
    run_id: str = "",
):
    fetched = fetch_data(source=source, source_options=source_options)
    prepared = validate_and_prepare(data=fetched.outputs["data"], hyperparameters=hyperparameters)
    trained = train(prepared=prepared.outputs["prepared"], hyperparameters=hyperparameters)
    evaluated = evaluate(
        data=fetched.outputs["data"],
        prepared=prepared.outputs["prepared"],
        model=trained.outputs["model"],
        model_name=model_name,
        tolerance=tolerance,
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
        )
        registered.after(verified)
    for task in (fetched, prepared, trained, evaluated, converted, verified, registered):
        # Every run fetches the data anew and trains again: a cached step would hide new data.
        task.set_caching_options(False)
    for task in (fetched, registered):
        with_s3_secret(task)
    settings = load_settings()
    if settings.registry_url:
        for task in (evaluated, registered):
            task.set_env_variable("MODEL_REGISTRY_URL", settings.registry_url)


def compile_pipeline(path: str | Path) -> Path:
    """Write the pipeline as KFP IR YAML, to import in the Data Science Pipelines UI."""
    return compile_to(training_pipeline, path)
