"""Continuous training and schedules, here: one loop that a background job (or ``python -m
jukebox watch``) runs.

- **Continuous training**: each new data version (a new commit of the data repository's ``.dvc``
  files) starts exactly one training pipeline run for exactly that version, which goes through
  the gate against production. Versions made before the watcher was first switched on are
  history, not news: they are never trained on by it.
- **Schedules**: the data pipeline on a cron (six fields, seconds first, as kfp's) or an
  interval. A schedule never starts a run while its previous one still runs.

Everything the loop knows lives in ``JUKEBOX_HOME/automation/`` (``state.json``, written under a
lock), so it survives an app restart: the sidebar starts the loop again when it is switched on
and not running. On a cluster the same happens there: the data pipeline's last step submits the
training run, and schedules are KFP recurring runs (``pipeline submit --cron``).
"""

from __future__ import annotations

import fcntl
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from jukebox.config import Settings
from jukebox.errors import JukeboxError
from jukebox.jobs import Job, kill_job, list_jobs, start_job, write_json_atomic
from jukebox.pipelines import local
from jukebox.pipelines.params import DataRunParams, RunParams
from jukebox.pipelines.records import PipelineRun, load_run, run_dir

JOB_KIND = "automation"
STATE_FILE = "state.json"


class ScheduleError(JukeboxError, ValueError):
    """A schedule cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Schedule:
    """The data pipeline, run on a cron or every ``interval_seconds``."""

    id: str
    arguments: dict[str, Any]
    cron: str | None = None
    interval_seconds: int | None = None
    created: float = field(default_factory=time.time)
    last_started: float | None = None
    last_run_id: str | None = None

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


@dataclass(frozen=True)
class AutomationState:
    """What the loop knows: whether it is switched on, the data versions it has seen and the
    training run it started for each, the training parameters to use, the schedules."""

    enabled: bool = False
    seen_commits: list[str] = field(default_factory=list)
    trained: dict[str, str] = field(default_factory=dict)
    """Data version (git commit) -> the training run started for it."""
    training: dict[str, Any] = field(default_factory=dict)
    """The training pipeline's arguments (model name, tolerance, hyperparameters) to use."""
    schedules: list[Schedule] = field(default_factory=list)
    last_tick: float | None = None
    last_error: str | None = None


def _path(settings: Settings):
    return settings.automation_dir / STATE_FILE


def read_state(settings: Settings) -> AutomationState:
    import json

    try:
        data = json.loads(_path(settings).read_text())
    except (FileNotFoundError, ValueError):
        return AutomationState()
    schedules = [Schedule(**s) for s in data.pop("schedules", [])]
    known = {k: v for k, v in data.items() if k in AutomationState.__dataclass_fields__}
    return AutomationState(schedules=schedules, **known)


@contextmanager
def _changing(settings: Settings) -> Iterator[dict]:
    """The state as a dict to change in place, written back atomically under a lock, so the
    loop and a page changing it at the same moment never lose each other's change."""
    settings.automation_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.automation_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = asdict(read_state(settings))
        yield data
        write_json_atomic(_path(settings), data)


# --- switching it on and off ---------------------------------------------------------------------


def switch_on(
    settings: Settings, training: RunParams | None = None, *, start: bool = True
) -> Job | None:
    """Turn continuous training and the schedules on: the versions made so far count as seen,
    and the loop runs in the background (and again after an app restart) until switched off.
    ``start=False`` only records it (for a loop run in the foreground by ``jukebox watch``)."""
    from jukebox.data.versions import list_versions, sync

    sync(settings)
    seen = [v.commit for v in list_versions(settings)]
    with _changing(settings) as state:
        state["enabled"] = True
        state["seen_commits"] = sorted(set(state["seen_commits"]) | set(seen))
        if training is not None:
            state["training"] = training.arguments()
    return ensure_running(settings) if start else None


def switch_off(settings: Settings) -> None:
    with _changing(settings) as state:
        state["enabled"] = False
    job = running_job(settings)
    if job is not None:
        kill_job(job)


def running_job(settings: Settings) -> Job | None:
    return next((j for j in list_jobs(settings, JOB_KIND) if j.is_alive()), None)


def ensure_running(settings: Settings) -> Job | None:
    """Start the loop's background job when it is switched on and not running (as after an app
    restart); returns the running job, or None when switched off."""
    if not read_state(settings).enabled:
        return None
    job = running_job(settings)
    if job is None:
        job = start_job(settings, JOB_KIND, ["-m", "jukebox", "watch"])
    return job


# --- schedules -----------------------------------------------------------------------------------


def add_schedule(
    settings: Settings,
    params: DataRunParams,
    *,
    cron: str | None = None,
    interval_seconds: int | None = None,
) -> Schedule:
    """Schedule the data pipeline. ``cron`` has six fields, seconds first, as kfp's."""
    from jukebox.pipelines.remote import validate_cron

    if (cron is None) == (interval_seconds is None):
        raise ScheduleError("Give a cron or an interval for the schedule, one of the two.")
    if interval_seconds is not None and interval_seconds < 10:
        raise ScheduleError("A schedule's interval must be at least 10 seconds.")
    if cron is not None:
        try:
            cron = validate_cron(cron)
        except JukeboxError as error:
            raise ScheduleError(str(error)) from None
        if cron.startswith("@every"):
            raise ScheduleError(f"{cron!r}: give an interval in seconds for a schedule here.")
    schedule = Schedule(uuid.uuid4().hex[:8], params.arguments(), cron, interval_seconds)
    with _changing(settings) as state:
        state["schedules"].append(asdict(schedule))
    return schedule


def remove_schedule(settings: Settings, schedule_id: str) -> None:
    with _changing(settings) as state:
        kept = [s for s in state["schedules"] if s["id"] != schedule_id]
        if len(kept) == len(state["schedules"]):
            raise ScheduleError(f"There is no schedule {schedule_id!r}.")
        state["schedules"] = kept


# --- the loop ------------------------------------------------------------------------------------


def _still_running(settings: Settings, run_id: str | None) -> bool:
    if not run_id:
        return False
    run = load_run(run_dir(settings, run_id))
    return run is not None and not local.refresh(settings, run).finished


def tick(settings: Settings, now: float | None = None) -> list[PipelineRun]:
    """One look: start a training run for each new data version (when continuous training is
    switched on), and every schedule that is due (unless its last run still runs). Returns the
    runs it started."""
    from jukebox.data.versions import list_versions, sync

    now = now or time.time()
    sync(settings)  # a data repository with a git remote: see the versions made elsewhere
    started: list[PipelineRun] = []
    state = read_state(settings)
    seen = set(state.seen_commits)
    new = [v for v in reversed(list_versions(settings)) if v.commit not in seen]  # oldest first
    if not state.enabled:
        new = []
    training = RunParams.from_arguments(state.training) if state.training else RunParams()
    for version in new:
        params = RunParams(
            model_name=training.model_name,
            source="version",
            source_options={"ref": version.commit},
            training=training.training,
            tolerance=training.tolerance,
        )
        run = local.start_in_background(settings, params)
        started.append(run)
        with _changing(settings) as changing:
            changing["seen_commits"].append(version.commit)
            changing["trained"][version.commit] = run.id
    for schedule in state.schedules:
        if schedule.next_due() > now or _still_running(settings, schedule.last_run_id):
            continue
        run = local.start_in_background(settings, DataRunParams.from_arguments(schedule.arguments))
        started.append(run)
        with _changing(settings) as changing:
            for record in changing["schedules"]:
                if record["id"] == schedule.id:
                    record["last_started"], record["last_run_id"] = now, run.id
    with _changing(settings) as changing:
        changing["last_tick"] = now
    return started


def watch(
    settings: Settings,
    *,
    interval: float = 5.0,
    should_stop: Callable[[], bool] = lambda: False,
    on_start: Callable[[PipelineRun], None] = lambda run: None,
) -> None:
    """Tick every ``interval`` seconds until ``should_stop``; a failed tick is recorded and the
    loop goes on (an unreachable remote must not end continuous training for good)."""
    while not should_stop():
        try:
            for run in tick(settings):
                on_start(run)
            error = None
        except JukeboxError as failure:
            error = str(failure)
        with _changing(settings) as state:
            state["last_error"] = error
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline and not should_stop():
            time.sleep(min(0.5, interval))
