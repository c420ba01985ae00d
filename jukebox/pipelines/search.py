"""The search pipeline, for KFP v2: trials side by side on a cluster.

fetch data → validate and prepare (once) → suggest N parameter sets → ParallelFor trial (each
trains on the prepared split, judged on songs held out whole, and logs its run to the cluster's
registry) → Collected outcomes → pick-best (train the best again, evaluate, export, verify,
register through the production gate).

The trials of one pipeline run are all suggested before any runs, so they cannot learn from
each other (see :func:`jukebox.pipelines.search_tasks.suggest`) and none is pruned; what a
pipeline buys is ``parallelism`` trials at once, each in its own pod. How many at once is set
when the pipeline is compiled (KFP writes it into the YAML as the loop's
``iteratorPolicy.parallelismLimit``; it cannot be a run parameter).

The components follow the pod contract of :mod:`jukebox.pipelines.components`: each trial and
pick-best get the registry (``registry_url`` and its token), fetch-data and pick-best object
storage and the data repository as the training pipeline's tasks do.

No ``from __future__ import annotations`` here: kfp reads the components' annotations as types.
"""

from pathlib import Path
from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Input

from jukebox.config import Settings, load_settings
from jukebox.pipelines.components import compile_to, component, on_cluster
from jukebox.pipelines.training import fetch_data, validate_and_prepare

PIPELINE_NAME = "jukebox-search"
DEFAULT_PARALLELISM = 2


@component
def suggest(space: dict, trials: int, seed: int) -> NamedTuple(
    "Suggested", [("suggestions", list), ("fixed", dict)]
):  # noqa: F821, UP006
    from jukebox.pipelines import search_tasks

    return search_tasks.suggest(space, trials, seed)


@component
def trial(
    prepared: Input[Dataset],
    suggestion: dict,
    experiment: str,
    data_facts: str,
    registry_url: str,
) -> str:
    from jukebox.pipelines import search_tasks

    return search_tasks.trial(prepared.path, suggestion, experiment, data_facts, registry_url)


@component
def pick_best(
    data: Input[Dataset],
    prepared: Input[Dataset],
    outcomes: list,
    model_name: str,
    tolerance: float,
    data_facts: str,
    registry_url: str,
    kfp_run_id: str,
) -> str:
    from jukebox.pipelines import search_tasks

    return search_tasks.pick_best(
        data.path,
        prepared.path,
        outcomes,
        model_name,
        tolerance,
        data_facts,
        registry_url,
        kfp_run_id,
    )


def search_pipeline(settings: Settings | None = None, parallelism: int = DEFAULT_PARALLELISM):
    """The search pipeline for ``settings`` (the pod contract's image, secrets and services),
    running at most ``parallelism`` trials at once."""
    settings = settings or load_settings()
    if parallelism < 1:
        raise ValueError(f"parallelism must be at least 1, got {parallelism}.")

    @dsl.pipeline(
        name=PIPELINE_NAME,
        description="Search the Jukebox model's hyperparameters, trials side by side 🎛️",
    )
    def jukebox_search(
        model_name: str = "jukebox",
        trials: int = 6,
        space: dict = {},  # noqa: B006 - kfp takes defaults as written, never mutated
        seed: int = 0,
        experiment: str = "search-pipeline",
        source: str = "current",
        source_options: dict = {},  # noqa: B006
        tolerance: float = 0.01,
        registry_url: str = "",
        data_repo_url: str = "",
    ):
        fetched = fetch_data(
            source=source, source_options=source_options, data_repo_url=data_repo_url
        )
        suggested = suggest(space=space, trials=trials, seed=seed)
        # Split once, with the trials' fixed settings (their seed): every trial trains on it.
        prepared = validate_and_prepare(
            data=fetched.outputs["data"], hyperparameters=suggested.outputs["fixed"]
        )
        with dsl.ParallelFor(
            items=suggested.outputs["suggestions"], parallelism=parallelism
        ) as suggestion:
            tried = trial(
                prepared=prepared.outputs["prepared"],
                suggestion=suggestion,
                experiment=experiment,
                data_facts=fetched.outputs["Output"],
                registry_url=registry_url,
            )
        best = pick_best(
            data=fetched.outputs["data"],
            prepared=prepared.outputs["prepared"],
            outcomes=dsl.Collected(tried.output),
            model_name=model_name,
            tolerance=tolerance,
            data_facts=fetched.outputs["Output"],
            registry_url=registry_url,
            kfp_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        )
        for task in (fetched, prepared, suggested, tried, best):
            task.set_caching_options(False)
        on_cluster(settings, fetched, s3=True, data_repo=True)
        on_cluster(settings, prepared)
        on_cluster(settings, suggested)
        on_cluster(settings, tried, registry=True)
        on_cluster(settings, best, s3=True, registry=True)

    return jukebox_search


def compile_search_pipeline(
    path: str | Path, settings: Settings | None = None, *, parallelism: int = DEFAULT_PARALLELISM
) -> Path:
    """Write the search pipeline as KFP IR YAML, ``parallelism`` trials at once."""
    settings = settings or load_settings()
    return compile_to(search_pipeline(settings, parallelism), path, settings)
