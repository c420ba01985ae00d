"""Experiments and their runs in the model registry: every training leaves a run behind.

A training (from a page, the CLI, a pipeline or a search trial) is one *experiment run*: its
parameters, the data version it learnt from, each epoch's metrics (``loss``, ``accuracy``,
``val_loss``, ``val_accuracy``…, one value per epoch as the metric's history), its final figures,
the bundle it produced, and once a version is registered from it, the link to that version.
Everything goes through the model-registry experiments API with the official client
(``model_registry`` 0.3.14: ``ModelRegistry._api`` for the calls its public methods do not
offer, all of them in :mod:`jukebox.registry.official_api`), so the same calls reach the
embedded registry and a real Kubeflow Model Registry.

The names a run records are constants here, like :mod:`jukebox.registry.properties` for
versions: custom properties ``jukebox.source`` (``page``, ``cli``, ``pipeline``, ``search``…),
``data.version``, ``bundle.uri``, ``model.name`` / ``model.version`` once registered, and
``jukebox.stopped`` (true) on a training stopped on request, which still yields a model.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from jukebox.config import Settings
from jukebox.registry import official_api
from jukebox.registry.connection import connect, official_errors
from jukebox.registry.errors import RegistryError

DEFAULT_EXPERIMENT = "jukebox"
"""Where trainings go unless told otherwise; a search logs its trials to one of its own."""

SOURCE = "jukebox.source"
DATA_VERSION = "data.version"
BUNDLE_URI = "bundle.uri"
MODEL_NAME = "model.name"
MODEL_VERSION = "model.version"
STOPPED = "jukebox.stopped"
BUNDLE_ARTIFACT = "bundle"
RUN_STATES = ("RUNNING", "FINISHED", "FAILED", "KILLED")


@dataclass(frozen=True)
class RunRef:
    """Which run a training logs to: enough to log more, and to find it again."""

    experiment: str
    experiment_id: str
    run_id: str
    name: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunRef:
        return cls(**{k: str(data[k]) for k in ("experiment", "experiment_id", "run_id", "name")})


@dataclass(frozen=True)
class RunSummary:
    """One run as the Experiments page lists it: its parameters and the last value of each
    metric, read back through the official client."""

    run_id: str
    name: str
    experiment_id: str
    status: str
    started: float | None
    ended: float | None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return str(self.properties.get(SOURCE, ""))

    @property
    def bundle_uri(self) -> str | None:
        return self.properties.get(BUNDLE_URI) or None

    @property
    def registered_as(self) -> str | None:
        """``name version`` of the model version registered from this run, if any."""
        name, version = self.properties.get(MODEL_NAME), self.properties.get(MODEL_VERSION)
        return f"{name} {version}" if name and version else None


def _millis() -> int:
    return int(time.time() * 1000)


def _plain(value: Any) -> Any:
    """A parameter value the API can carry: numbers, booleans and strings as they are."""
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def start_run(
    settings: Settings,
    *,
    params: Mapping[str, Any],
    source: str,
    experiment: str = DEFAULT_EXPERIMENT,
    name: str | None = None,
    data_version: str | None = None,
    description: str = "",
) -> RunRef:
    """Create a running run of ``experiment`` (made if new) holding ``params`` as parameters.

    ``name`` defaults to a unique one (the registry names a run by its experiment); ``source``
    says where the training was started.
    """
    client = connect(settings)
    properties = {SOURCE: source, **({DATA_VERSION: data_version} if data_version else {})}
    with official_errors():
        experiment_id = official_api.ensure_experiment(client, experiment)
        run = official_api.create_run(
            client,
            experiment_id,
            name=name or f"{source}-{time.strftime('%Y%m%d-%H%M%S')}-{_millis() % 1000:03d}",
            description=description,
            properties=properties,
            started=_millis(),
        )
        for key, value in params.items():
            official_api.log_param(client, run.id, key, _plain(value))
    return RunRef(experiment, experiment_id, str(run.id), run.name)


def log_metrics(settings: Settings, run: RunRef, metrics: Mapping[str, float], step: int) -> None:
    """Log each of ``metrics`` at ``step`` (an epoch): the registry keeps every step's value."""
    client = connect(settings)
    stamp = _millis()
    with official_errors():
        for key, value in metrics.items():
            if value is not None:
                official_api.log_metric(client, run.run_id, key, float(value), step, stamp)


def finish_run(
    settings: Settings,
    run: RunRef,
    status: str = "FINISHED",
    *,
    metrics: Mapping[str, float] | None = None,
    step: int = 0,
    bundle_uri: str | None = None,
    properties: Mapping[str, Any] | None = None,
) -> None:
    """End the run with ``status`` (``FINISHED``, ``FAILED`` or ``KILLED``), logging its final
    ``metrics`` at ``step`` and the bundle it produced as an artifact of the run; ``properties``
    are custom properties to add (``jukebox.stopped``…)."""
    if status not in RUN_STATES[1:]:
        raise ValueError(f"A run ends FINISHED, FAILED or KILLED, not {status!r}.")
    if metrics:
        log_metrics(settings, run, metrics, step)
    client = connect(settings)
    with official_errors():
        if bundle_uri:
            official_api.log_run_artifact(client, run.run_id, BUNDLE_ARTIFACT, bundle_uri)
        official_api.end_run(
            client,
            run.run_id,
            status=status,
            ended=_millis(),
            properties={
                **({BUNDLE_URI: bundle_uri} if bundle_uri else {}),
                **dict(properties or {}),
            },
        )


def link_version(
    settings: Settings, run: RunRef | str, model_name: str, version: str, version_id: str
) -> None:
    """Record that ``model_name`` ``version`` was registered from ``run``: the version's model
    artifact becomes an artifact of the run too (upstream's run ↔ artifact link), and the run
    names the version."""
    run_id = run.run_id if isinstance(run, RunRef) else str(run)
    client = connect(settings)
    with official_errors():
        official_api.link_version_artifact(client, run_id, version_id)
        official_api.update_run_properties(
            client, run_id, {MODEL_NAME: model_name, MODEL_VERSION: str(version)}
        )


def experiment_names(settings: Settings) -> list[str]:
    """Every experiment in the registry, newest first."""
    client = connect(settings)
    with official_errors():
        return [e.name for e in reversed(official_api.all_pages(client.get_experiments()))]


def list_runs(settings: Settings, experiment: str = DEFAULT_EXPERIMENT) -> list[RunSummary]:
    """Every run of ``experiment`` (none if it does not exist), newest first."""
    client = connect(settings)
    with official_errors():
        runs = official_api.runs_of(client, experiment)
        return [_summary(client, run) for run in reversed(runs)]


def get_run(settings: Settings, run_id: str) -> RunSummary:
    client = connect(settings)
    with official_errors():
        return _summary(client, official_api.get_run(client, run_id))


def _summary(client, run) -> RunSummary:
    from model_registry.types import Metric, Parameter

    params: dict[str, Any] = {}
    metrics: dict[str, float] = {}
    for log in official_api.run_logs(client, run.id):
        if isinstance(log, Parameter):
            params[log.name] = _typed(log.value)
        elif isinstance(log, Metric):
            metrics[log.name] = float(log.value)
    return RunSummary(
        run_id=str(run.id),
        name=run.name,
        experiment_id=str(run.experiment_id),
        status=str(getattr(run.status, "value", run.status) or ""),
        started=_seconds(run.start_time_since_epoch),
        ended=_seconds(run.end_time_since_epoch),
        params=params,
        metrics=metrics,
        properties=official_api.unmapped_properties(run.custom_properties),
    )


def _seconds(millis: Any) -> float | None:
    return int(millis) / 1000 if millis else None


def _typed(value: Any) -> Any:
    """A parameter as logged: the API carries every value as a string."""
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the client reads every number as a float: 64 comes back as 64.0
    if not isinstance(value, str):
        return value
    if value in ("True", "False", "true", "false"):
        return value.lower() == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def metric_history(settings: Settings, run_id: str) -> dict[str, list[tuple[int, float]]]:
    """Every value each metric of the run took, as ``(step, value)`` sorted by step."""
    client = connect(settings)
    with official_errors():
        entries = official_api.metric_history(client, run_id)
    history: dict[str, dict[int, float]] = {}
    for entry in entries:
        # The newest value logged for a step wins (a metric logged twice at one step).
        history.setdefault(entry.name, {})[int(entry.step or 0)] = float(entry.value)
    return {name: sorted(steps.items()) for name, steps in history.items()}


class RunLogger:
    """A training listener that logs each finished epoch's figures to a run (step = epoch).

    The registry failing mid-training does not stop the training: the first error is kept in
    ``error`` (a sentence), and nothing more is sent.
    """

    def __init__(self, settings: Settings, run: RunRef) -> None:
        self.settings = settings
        self.run = run
        self.epochs = 0
        self.error: str | None = None

    def __call__(self, event) -> None:  # a jukebox.model.fit.TrainingEvent
        if event.kind != "epoch_end" or self.error is not None:
            return
        self.epochs = event.epoch
        try:
            log_metrics(self.settings, self.run, {"loss": event.loss, **event.metrics}, event.epoch)
        except RegistryError as error:
            self.error = f"The run stopped being tracked: {error}"


@contextmanager
def tracked_run(
    settings: Settings,
    *,
    params: Mapping[str, Any],
    source: str,
    experiment: str = DEFAULT_EXPERIMENT,
    name: str | None = None,
    data_version: str | None = None,
) -> Iterator[RunLogger]:
    """A run for one training: yields its :class:`RunLogger` (pass it to the training as a
    listener; ``.run`` is the :class:`RunRef`). Leaving the block with an error ends the run
    ``FAILED`` (``KILLED`` for an interrupt); otherwise the caller ends it with
    :func:`finish_run`, which holds the final figures and the bundle."""
    run = start_run(
        settings,
        params=params,
        source=source,
        experiment=experiment,
        name=name,
        data_version=data_version,
    )
    logger = RunLogger(settings, run)
    try:
        yield logger
    except BaseException as error:
        status = "KILLED" if isinstance(error, KeyboardInterrupt | SystemExit) else "FAILED"
        with contextlib.suppress(RegistryError):
            finish_run(settings, run, status)
        raise


def set_run_properties(
    settings: Settings, run: RunRef | str, properties: Mapping[str, Any]
) -> None:
    """Add ``properties`` to a run's custom properties (a search marks a pruned trial so)."""
    run_id = run.run_id if isinstance(run, RunRef) else str(run)
    client = connect(settings)
    with official_errors():
        official_api.update_run_properties(
            client, run_id, {k: _plain(v) for k, v in properties.items()}
        )


def attach_bundle(settings: Settings, run: RunRef | str, bundle_uri: str) -> None:
    """Give an ended run the bundle made from it afterwards (a search's best trial, trained
    again and exported once the search is over)."""
    run_id = run.run_id if isinstance(run, RunRef) else str(run)
    client = connect(settings)
    with official_errors():
        official_api.log_run_artifact(client, run_id, BUNDLE_ARTIFACT, bundle_uri)
        official_api.update_run_properties(client, run_id, {BUNDLE_URI: bundle_uri})
