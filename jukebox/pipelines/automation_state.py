"""What continuous training and the schedules know, kept in ``JUKEBOX_HOME/automation/``
(``state.json``, changed under a lock): whether the loop is on and since when, the data versions
that are history, the training run claimed for each version, the training arguments data
pipeline runs handed over, the schedules, and whether drift alerts retrain (and the run each
alert started). The loop that acts on it is
:mod:`jukebox.pipelines.automation`; this module starts nothing, so the data pipeline's last task
can hand its arguments over without reaching the runner.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from jukebox.config import Settings
from jukebox.errors import JukeboxError
from jukebox.jobs import write_json_atomic
from jukebox.pipelines.params import DataRunParams, RunParams

STATE_FILE = "state.json"
DATA_PIPELINE = "jukebox-data"
TRAINING_PIPELINE = "jukebox-training"


class ScheduleError(JukeboxError, ValueError):
    """A schedule cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Schedule:
    """A pipeline (the data one unless said), run on a cron or every ``interval_seconds``."""

    id: str
    arguments: dict[str, Any]
    cron: str | None = None
    interval_seconds: int | None = None
    created: float = field(default_factory=time.time)
    last_started: float | None = None
    last_run_id: str | None = None
    """The run of the last start, chosen before it starts (see :func:`tick`)."""
    pipeline: str = DATA_PIPELINE

    def next_due(self) -> float:
        """When it should next start (seconds since the epoch)."""
        since = self.last_started or self.created
        if self.interval_seconds:
            return since + self.interval_seconds
        from croniter import croniter

        start = datetime.fromtimestamp(since)
        return croniter(self.cron, start, second_at_beginning=True).get_next(float)

    @property
    def every(self) -> str:
        return f"cron {self.cron}" if self.cron else f"every {self.interval_seconds} s"

    def params(self) -> RunParams | DataRunParams:
        if self.pipeline == TRAINING_PIPELINE:
            return RunParams.from_arguments(self.arguments)
        return DataRunParams.from_arguments(self.arguments)


@dataclass(frozen=True)
class VersionRun:
    """The training run of one data version: claimed (its run id chosen) under the lock, then
    started; ``started`` is None between the two, which only a crash makes last."""

    commit: str
    run_id: str
    arguments: dict[str, Any]
    """The training pipeline's arguments for this version."""
    claimed: float
    started: float | None = None


@dataclass(frozen=True)
class DriftRun:
    """The training run a drift alert started: claimed under the lock, then started, as a
    :class:`VersionRun` is. ``alert`` is the alert's key (:func:`alert_key`)."""

    alert: str
    run_id: str
    arguments: dict[str, Any]
    """The training pipeline's arguments: the newest data version, and the alert as trigger."""
    claimed: float
    started: float | None = None


@dataclass(frozen=True)
class AutomationState:
    """What the loop knows: whether it is switched on and since when, the data versions that are
    history, the training run of each version it trained, the training arguments to use (and
    those data pipeline runs handed over for their versions), the schedules."""

    enabled: bool = False
    since: float | None = None
    """The first switch-on; None while it never was (every version is then history)."""
    history: list[str] = field(default_factory=list)
    """Data versions (git commits) never to train on: those made before the first switch-on."""
    runs: dict[str, VersionRun] = field(default_factory=dict)
    """Data version (git commit) -> its training run."""
    handed_over: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Data version -> the training arguments the data pipeline run that made it asked for."""
    training: dict[str, Any] = field(default_factory=dict)
    """The training pipeline's arguments (model name, tolerance, hyperparameters) to use."""
    schedules: list[Schedule] = field(default_factory=list)
    retrain_on_drift: bool = False
    """Whether a drift alert starts a training run on the newest data version."""
    drift_since: float | None = None
    """The first switch-on of retraining on drift: alerts raised before it are history."""
    drift_runs: dict[str, DriftRun] = field(default_factory=dict)
    """Alert key -> the training run it started."""
    last_tick: float | None = None
    last_error: str | None = None

    @property
    def trained(self) -> dict[str, str]:
        """Data version -> the training run started (or about to start) for it."""
        return {commit: run.run_id for commit, run in self.runs.items()}


def _path(settings: Settings):
    return settings.automation_dir / STATE_FILE


def _load(settings: Settings) -> dict[str, Any]:
    """The state as plain JSON, with a file of an earlier layout read as this one."""
    try:
        data = json.loads(_path(settings).read_text())
    except (FileNotFoundError, ValueError):
        data = {}
    if "seen_commits" in data:  # before claims: every seen version was history or trained
        trained = data.pop("trained", {}) or {}
        data["history"] = [c for c in data.pop("seen_commits") if c not in trained]
        data["since"] = data.get("since") or 0.0
        data["runs"] = {
            commit: asdict(VersionRun(commit, run_id, {}, 0.0, 0.0))
            for commit, run_id in trained.items()
        }
    return asdict(typed_state(data))


def typed_state(data: dict[str, Any]) -> AutomationState:
    known = {k: v for k, v in data.items() if k in AutomationState.__dataclass_fields__}
    schedule_fields = Schedule.__dataclass_fields__
    known["schedules"] = [
        Schedule(**{k: v for k, v in s.items() if k in schedule_fields})
        for s in known.get("schedules", [])
    ]
    known["runs"] = {c: VersionRun(**r) for c, r in (known.get("runs") or {}).items()}
    known["drift_runs"] = {a: DriftRun(**r) for a, r in (known.get("drift_runs") or {}).items()}
    return AutomationState(**known)


def read_state(settings: Settings) -> AutomationState:
    return typed_state(_load(settings))


@contextmanager
def locked_state(settings: Settings) -> Iterator[dict]:
    """The state as a dict to change in place and :func:`save_state` (as often as a change must be
    on disk before the next step), under a lock held until the block ends: the loops and a
    page changing it at the same moment never lose each other's change, and never decide the
    same thing twice."""
    settings.automation_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.automation_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield _load(settings)


def save_state(settings: Settings, data: dict) -> None:
    write_json_atomic(_path(settings), data)


@contextmanager
def changing_state(settings: Settings) -> Iterator[dict]:
    """The state as a dict to change in place, written back atomically under the lock."""
    with locked_state(settings) as data:
        yield data
        save_state(settings, data)


def hand_over(
    settings: Settings, commit: str, model_name: str, tolerance: float, hyperparameters: dict
) -> str:
    """Record the training arguments a data pipeline run asks for its new version ``commit``, so
    the run the loop starts for that version uses them; returns a sentence saying what happens."""
    from jukebox.model.network import ParamsError, TrainingParams
    from jukebox.pipelines.params import RunParamsError

    try:
        training = TrainingParams.from_dict(hyperparameters or {})
    except ParamsError as error:
        raise RunParamsError(str(error)) from error
    params = RunParams(
        model_name=model_name,
        source="version",
        source_options={"ref": commit},
        training=training,
        tolerance=tolerance,
    )
    with changing_state(settings) as state:
        claimed = state["runs"].get(commit)
        if claimed is None:
            state["handed_over"][commit] = params.arguments()
        since, enabled = state["since"], state["enabled"]
    short = commit[:7]
    if claimed is not None:
        return (
            f"Data version {short} already has its training run {claimed['run_id']}, started "
            "with the loop's own training arguments."
        )
    if since is None:
        return (
            f"Continuous training was never switched on, so data version {short} is history "
            f"to it: train on it with `python -m jukebox pipeline run --data-version {short}`."
        )
    if not enabled:
        return (
            f"Continuous training is off: data version {short} is trained once it is on again "
            "(Data versions page, or `python -m jukebox watch`)."
        )
    return f"The continuous-training loop starts the training run of data version {short}."
