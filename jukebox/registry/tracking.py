"""A training as an experiment run: what the CLI, the Train page's job and the pipeline's tasks
share when they log a training to the model registry.

:func:`training_run` opens the run (a :func:`jukebox.registry.experiments.tracked_run`) and
yields its :class:`RunLogger`, to pass to the training as a listener; :func:`finish_training`
ends it with the final figures (:func:`final_metrics`: the test figures as ``test_*``, the
Bayes ceiling, the last validation figures) at the last epoch's step, the training directory as
the run's artifact, and records the run in that directory (``experiment_run.json``, through
:mod:`jukebox.model.runs`), where registering the bundle finds it and links the version.

Tracking never costs a training: a registry that cannot start a run, or fails while logging,
is one warning sentence, and the training goes on (and its model can still be registered).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from jukebox.config import EmbeddedRefusedError, Settings
from jukebox.model.report import Evaluation
from jukebox.model.runs import TrainingRecord, load_training, read_run_ref, save_run_ref
from jukebox.registry.errors import DuplicateVersionError, RegistryError
from jukebox.registry.experiments import (
    DEFAULT_EXPERIMENT,
    STOPPED,
    RunLogger,
    RunRef,
    RunSummary,
    finish_run,
    log_metrics,
    tracked_run,
)

Warn = Callable[[str], None]

_UNPREFIXED = ("bayes_accuracy", "accuracy_to_bayes")


def test_split_metrics(evaluation: Evaluation) -> dict[str, float]:
    """The test-split figures as run metrics: ``test_accuracy``, ``test_log_loss``,
    ``test_top5_accuracy``…, ``test_rows``, and ``bayes_accuracy`` / ``accuracy_to_bayes`` as
    they are. Prefixed so that the test accuracy never overwrites the training ``accuracy``
    that Keras logs each epoch."""
    figures = {}
    for name, value in evaluation.numbers().items():
        key = "test_rows" if name == "n_test" else name if name in _UNPREFIXED else f"test_{name}"
        figures[key] = float(value)
    return figures


def validation_metrics(history: Mapping[str, list[float]]) -> dict[str, float]:
    """The last value of each validation metric (``val_loss``, ``val_accuracy``…)."""
    return {
        name: float(values[-1])
        for name, values in history.items()
        if name.startswith("val_") and values and values[-1] is not None
    }


def final_metrics(record: TrainingRecord) -> dict[str, float]:
    """What a finished training logs at its last step: test and validation figures."""
    report = record.report
    return {**validation_metrics(report.fit.history), **test_split_metrics(report.evaluation)}


def _print(sentence: str) -> None:
    print(f"warning: {sentence}", flush=True)


@contextmanager
def training_run(
    settings: Settings,
    *,
    params: Mapping[str, Any],
    source: str,
    experiment: str = DEFAULT_EXPERIMENT,
    name: str | None = None,
    data_version: str | None = None,
    warn: Warn = _print,
) -> Iterator[RunLogger | None]:
    """A run of ``experiment`` for one training: yields its :class:`RunLogger`, or None (and
    ``warn`` says why) when the registry cannot start one. Leaving the block with an error ends
    the run FAILED (KILLED on an interrupt); on success call :func:`finish_training`.

    ``name`` (a training id) is the run's name unless the experiment already has a run of that
    name, then the registry's unique default is used."""
    with contextlib.ExitStack() as stack:
        logger = None
        for attempt in (name, None) if name else (None,):
            try:
                logger = stack.enter_context(
                    tracked_run(
                        settings,
                        params=params,
                        source=source,
                        experiment=experiment,
                        name=attempt,
                        data_version=data_version,
                    )
                )
                break
            except DuplicateVersionError:
                continue  # a run of that name exists: take a unique one
            except (RegistryError, EmbeddedRefusedError) as error:
                warn(f"This training is not logged as an experiment run: {error}")
                break
        yield logger


def finish_training(
    settings: Settings, logger: RunLogger | None, record: TrainingRecord, *, warn: Warn = _print
) -> RunRef | None:
    """End the run of a training that produced ``record``: FINISHED (with ``jukebox.stopped``
    when it was stopped on request: it still yields a model), its final figures at the last
    epoch's step, and its directory (``file://``) as the run's artifact; then record the run in
    the directory. Returns the run, or None when the training was not tracked."""
    if logger is None:
        return None
    if logger.error:
        warn(logger.error)
    run = logger.run
    save_run_ref(record.path, run.to_dict())
    fit = record.report.fit
    try:
        finish_run(
            settings,
            run,
            "FINISHED",
            metrics=final_metrics(record),
            step=max(fit.epochs_run, logger.epochs),
            bundle_uri=Path(record.path).resolve().as_uri(),
            properties={STOPPED: True} if fit.stopped else None,
        )
    except RegistryError as error:
        warn(f"The run {run.name} could not be finished in the registry: {error}")
    return run


def finish_fitting(
    settings: Settings,
    logger: RunLogger | None,
    directory: str | Path,
    history: Mapping[str, list[float]],
    *,
    epochs_run: int,
    stopped: bool = False,
    warn: Warn = _print,
) -> RunRef | None:
    """End the run of a pipeline's train task, which has a fitted model but no evaluation yet:
    FINISHED with the last validation figures, and the run recorded in ``directory`` (the task's
    model artifact), where the evaluate and register tasks find it."""
    if logger is None:
        return None
    if logger.error:
        warn(logger.error)
    run = logger.run
    save_run_ref(directory, run.to_dict())
    try:
        finish_run(
            settings,
            run,
            "FINISHED",
            metrics=validation_metrics(history),
            step=max(epochs_run, logger.epochs),
            properties={STOPPED: True} if stopped else None,
        )
    except RegistryError as error:
        warn(f"The run {run.name} could not be finished in the registry: {error}")
    return run


def log_test_figures(
    settings: Settings, run: RunRef, evaluation: Evaluation, step: int, *, warn: Warn = _print
) -> None:
    """Log a model's test figures to its run after the run ended (a pipeline evaluates in a task
    of its own)."""
    try:
        log_metrics(settings, run, test_split_metrics(evaluation), step)
    except RegistryError as error:
        warn(f"The test figures could not be logged to the run {run.name}: {error}")


def end_run(settings: Settings, run: Mapping[str, Any] | None, status: str = "KILLED") -> None:
    """End a run whose training was killed (it could not say so itself); nothing when there is
    no run. Best effort: a registry error leaves the run RUNNING, which its times show."""
    if not run or not run.get("run_id"):
        return
    with contextlib.suppress(RegistryError, KeyError, TypeError):
        finish_run(settings, RunRef.from_dict(run), status)


def cancel_tracked_training(settings: Settings, job) -> None:
    """Cancel a training job (``jukebox.model.jobs.cancel_training``: killed, nothing kept) and
    end its run KILLED, which the killed process cannot do itself."""
    from jukebox.model.jobs import TrainingStatus, cancel_training

    run = TrainingStatus.read(job.dir).run
    cancel_training(settings, job)
    end_run(settings, run, "KILLED")


def recorded_run(directory: str | Path) -> RunRef | None:
    """The run recorded in a training directory (or a pipeline's model artifact), if any."""
    found = read_run_ref(directory)
    if found is None:
        return None
    try:
        return RunRef.from_dict(found)
    except KeyError:
        return None


def record_run(directory: str | Path, run: RunRef) -> None:
    """Record ``run`` in a training directory (or a pipeline's model artifact)."""
    save_run_ref(directory, run.to_dict())


@dataclass(frozen=True)
class RunBundle:
    """Where a run's training directory is and whether it can be registered: ``problem`` says
    why not in a sentence; ``exported`` is False when it must be exported first."""

    path: Path | None
    exported: bool = False
    problem: str | None = None


def run_bundle(run: RunSummary) -> RunBundle:
    """The training directory a run logged as its bundle, checked before registering it."""
    if run.status != "FINISHED":
        return RunBundle(
            None, problem=f"Only a finished run can be registered: this one is {run.status}."
        )
    uri = run.bundle_uri
    if not uri:
        return RunBundle(
            None,
            problem=(
                "This run logged no training directory (a pipeline run registers its own "
                "model, through its gate): there is nothing here to register."
            ),
        )
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return RunBundle(None, problem=f"The run's bundle is at {uri}, not on this machine.")
    path = Path(url2pathname(parsed.path))
    record = load_training(path)
    if record is None:
        return RunBundle(
            path,
            problem=(
                f"The run's training directory {path} is gone (or holds no finished training): "
                "it cannot be registered; train again."
            ),
        )
    return RunBundle(path, exported=record.exported)
