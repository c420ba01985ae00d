"""Continuous training and schedules, here: one loop that a background job (or ``python -m
jukebox watch``) runs.

- **Continuous training**: each data version (a commit of the data repository's ``.dvc`` files)
  starts exactly one training pipeline run for exactly that version, which goes through the gate
  against production; versions made while the loop was stopped too, once it runs again. The
  versions that exist when it is first switched on are history, not news: they are never trained
  on by it (``from_now_on`` makes the versions made so far history again, for those who want it).
- **Schedules**: the data or training pipeline on a cron (six fields, seconds first, as kfp's) or
  an interval. A schedule never starts a run while its previous one still runs.
- **Retraining on drift**: each drift alert the monitoring service raised (a scheduled metric
  that found features drifted in several evaluations in a row, see
  :mod:`jukebox.monitoring.history`) starts one training run on the newest data version, for the
  registered model its deployment serves, gated as always; the version it registers records the
  alert as its ``trigger``. With ``KFP_HOST`` set the run is submitted to Kubeflow Pipelines.
  Alerts raised before it was first switched on are history.

Exactly once, whatever crashes: a version is *claimed* under the lock (its run id chosen and
written down) before its run starts, and its run starts under the same lock, so any number of
loops start one run per version. A loop killed between the claim and the start leaves a claim
without a job: the next tick starts it, with the run id chosen then (a job folder of that id
means it did start).

The data pipeline's last task hands its model name, tolerance and hyperparameters for its new
version over to the state (:func:`~jukebox.pipelines.automation_state.hand_over`), and the loop
waits for that hand-over before it claims a version a data pipeline run here is still making,
so the run uses them.

Everything the loop knows lives in ``JUKEBOX_HOME/automation/`` (``state.json``, written under a
lock), so it survives an app restart: the sidebar starts the loop again when it is switched on
and not running. On a cluster the same happens there: the data pipeline's last step submits the
training run, and schedules are KFP recurring runs (``pipeline submit --cron``).
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from typing import Any

from jukebox.config import Settings
from jukebox.errors import JukeboxError
from jukebox.jobs import Job, kill_job, list_jobs, new_job_id, start_job
from jukebox.pipelines import local
from jukebox.pipelines.automation_state import (  # noqa: F401 - re-exported for pages, CLI
    DATA_PIPELINE,
    TRAINING_PIPELINE,
    AutomationState,
    DriftRun,
    Schedule,
    ScheduleError,
    VersionRun,
    changing_state,
    hand_over,
    locked_state,
    read_state,
    save_state,
    typed_state,
)
from jukebox.pipelines.params import DataRunParams, RunParams
from jukebox.pipelines.records import PipelineRun, list_runs, load_run, run_dir

JOB_KIND = "automation"
HANDOVER_WAIT = 30 * 60
"""Seconds the loop waits, at most, for a data pipeline run here to hand its new version's
training arguments over: only a run whose process died mid-way makes it wait that long."""


# --- which versions to train (pure) ---------------------------------------------------------------


def versions_to_train(state: AutomationState, commits: Sequence[str]) -> list[str]:
    """Of ``commits`` (newest first, as :func:`jukebox.data.versions.list_versions` gives them),
    those continuous training has still to train, oldest first: neither history nor claimed.
    Before the first switch-on every version is history."""
    if state.since is None:
        return []
    done = set(state.history) | set(state.runs)
    return [commit for commit in reversed(commits) if commit not in done]


def awaiting_handover(runs: Iterable[PipelineRun], now: float) -> tuple[set[str], bool]:
    """What unfinished data pipeline runs here may still hand over: the versions they made whose
    training arguments they have not handed over yet, and whether one is making a version right
    now (whose commit may already exist, not yet named in its record). A run whose
    load-and-version began more than :data:`HANDOVER_WAIT` ago is waited for no more."""
    made: set[str] = set()
    making = False
    for run in runs:
        if run.pipeline != DATA_PIPELINE or run.finished:
            continue
        versioned = run.tasks.get("load-and-version")
        if versioned is None or now - (versioned.started or now) > HANDOVER_WAIT:
            continue
        triggered = run.tasks.get("trigger-training")
        handed = triggered is not None and triggered.state != "running"
        if versioned.state == "running":
            making = True
        elif versioned.state == "succeeded" and versioned.outputs.get("data_commit") and not handed:
            made.add(versioned.outputs["data_commit"])
    return made, making


def _training_arguments(state: dict, commit: str) -> dict[str, Any]:
    """The training run's arguments for ``commit``: those handed over for it, else the loop's."""
    handed = state["handed_over"].get(commit)
    if handed is not None:
        return handed
    base = RunParams.from_arguments(state["training"]) if state["training"] else RunParams()
    params = RunParams(
        model_name=base.model_name,
        source="version",
        source_options={"ref": commit},
        training=base.training,
        tolerance=base.tolerance,
    )
    return params.arguments()


# --- switching it on and off ---------------------------------------------------------------------


def switch_on(
    settings: Settings,
    training: RunParams | None = None,
    *,
    start: bool = True,
    from_now_on: bool = False,
) -> Job | None:
    """Turn continuous training and the schedules on; the loop runs in the background (and again
    after an app restart) until switched off. ``start=False`` only records it (for a loop run in
    the foreground by ``jukebox watch``).

    The first time, the versions made so far are history. Afterwards the versions made while it
    was off are trained once it runs, unless ``from_now_on`` makes them history too."""
    from jukebox.data.versions import list_versions, sync

    sync(settings)
    commits = [v.commit for v in list_versions(settings)]
    with changing_state(settings) as state:
        if state["since"] is None or from_now_on:
            past = [c for c in commits if c not in state["runs"]]
            state["history"] = sorted(set(state["history"]) | set(past))
            for commit in past:
                state["handed_over"].pop(commit, None)
        if state["since"] is None:
            state["since"] = time.time()
        state["enabled"] = True
        if training is not None:
            state["training"] = training.arguments()
    return ensure_running(settings) if start else None


def switch_off(settings: Settings) -> None:
    """Turn continuous training off; the loop goes on while retraining on drift is on."""
    with changing_state(settings) as state:
        state["enabled"] = False
        keep_running = state["retrain_on_drift"]
    job = running_job(settings)
    if job is not None and not keep_running:
        kill_job(job)


def retrain_on_drift(settings: Settings, on: bool = True, *, start: bool = True) -> Job | None:
    """Switch retraining on drift on or off. The first time on, the alerts raised so far are
    history; the loop runs in the background while it (or continuous training) is on."""
    with changing_state(settings) as state:
        state["retrain_on_drift"] = on
        if on and state["drift_since"] is None:
            state["drift_since"] = time.time()
        keep_running = state["enabled"] or on
    if not keep_running:
        job = running_job(settings)
        if job is not None:
            kill_job(job)
        return None
    return ensure_running(settings) if start else None


def waiting_versions(settings: Settings) -> list[str]:
    """The versions the loop would train on its next look, oldest first (made while it was
    off, or not yet seen)."""
    from jukebox.data.versions import list_versions

    return versions_to_train(read_state(settings), [v.commit for v in list_versions(settings)])


def running_job(settings: Settings) -> Job | None:
    return next((j for j in list_jobs(settings, JOB_KIND) if j.is_alive()), None)


def ensure_running(settings: Settings) -> Job | None:
    """Start the loop's background job when continuous training or retraining on drift is
    switched on and it is not running (as after an app restart); returns the running job, or
    None when both are off."""
    state = read_state(settings)
    if not (state.enabled or state.retrain_on_drift):
        return None
    job = running_job(settings)
    if job is None:
        job = start_job(settings, JOB_KIND, ["-m", "jukebox", "watch"])
    return job


# --- schedules -----------------------------------------------------------------------------------


def add_schedule(
    settings: Settings,
    params: RunParams | DataRunParams,
    *,
    cron: str | None = None,
    interval_seconds: int | None = None,
) -> Schedule:
    """Schedule the data pipeline (``DataRunParams``) or the training pipeline (``RunParams``).
    ``cron`` has six fields, seconds first, as kfp's."""
    from jukebox.pipelines.remote import validate_cron

    if (cron is None) == (interval_seconds is None):
        raise ScheduleError("Give a cron or an interval for the schedule, one of the two.")
    if interval_seconds is not None and interval_seconds < 10:
        raise ScheduleError("A schedule's interval must be at least 10 seconds.")
    if isinstance(params, RunParams) and params.version != "next":
        raise ScheduleError(
            f"A schedule registers a new version at every run, so version {params.version} "
            'would be taken after the first: give the version "next".'
        )
    if cron is not None:
        try:
            cron = validate_cron(cron)
        except JukeboxError as error:
            raise ScheduleError(str(error)) from None
        if cron.startswith("@every"):
            raise ScheduleError(f"{cron!r}: give an interval in seconds for a schedule here.")
    schedule = Schedule(
        uuid.uuid4().hex[:8],
        params.arguments(),
        cron,
        interval_seconds,
        pipeline=local.pipeline_of(params),
    )
    with changing_state(settings) as state:
        state["schedules"].append(asdict(schedule))
    return schedule


def remove_schedule(settings: Settings, schedule_id: str) -> None:
    with changing_state(settings) as state:
        kept = [s for s in state["schedules"] if s["id"] != schedule_id]
        if len(kept) == len(state["schedules"]):
            raise ScheduleError(f"There is no schedule {schedule_id!r}.")
        state["schedules"] = kept


# --- the loop ------------------------------------------------------------------------------------


def _job_dir(settings: Settings, run_id: str):
    return settings.jobs_dir(local.JOB_KIND) / run_id


def _start_claimed(
    settings: Settings, run_id: str, params: RunParams | DataRunParams
) -> PipelineRun | None:
    """Start the claimed run ``run_id`` unless it was started before (a loop killed after the
    start, before writing so down); None then. Called under the lock only, so no other loop is
    starting it at the same moment."""
    if _was_started(settings, run_id):
        return None
    # Recorded but never started (killed in between): nothing of it ran, so record it afresh.
    shutil.rmtree(run_dir(settings, run_id), ignore_errors=True)
    return local.start_in_background(settings, params, run_id=run_id)


def _was_started(settings: Settings, run_id: str) -> bool:
    """Whether the run ``run_id`` was started: its job is recorded (``start_job`` makes the
    job's folder before the process), or its record shows it ran."""
    if _job_dir(settings, run_id).exists():
        return True
    run = load_run(run_dir(settings, run_id))
    return run is not None and (run.finished or bool(run.tasks))


def _still_running(settings: Settings, run_id: str | None) -> bool:
    if not run_id:
        return False
    run = load_run(run_dir(settings, run_id))
    return run is not None and not local.refresh(settings, run).finished


def _unfinished_data_runs(settings: Settings) -> list[PipelineRun]:
    return [
        local.refresh(settings, run)
        for run in list_runs(settings)
        if run.pipeline == DATA_PIPELINE and not run.finished
    ]


def _train_new_versions(
    settings: Settings, state: dict, commits: list[str], now: float
) -> list[PipelineRun]:
    """Claim each version to train (written down before its run starts), then start every claim
    not started yet: those just made, and any a killed loop left. Under the lock."""
    made, making = awaiting_handover(_unfinished_data_runs(settings), now)
    for commit in versions_to_train(typed_state(state), commits):
        if making or commit in made:
            continue  # a data pipeline run here is about to hand its arguments over
        arguments = _training_arguments(state, commit)
        state["runs"][commit] = asdict(VersionRun(commit, new_job_id(), arguments, now))
        state["handed_over"].pop(commit, None)
        save_state(settings, state)
    return _start_claims(settings, state, state["runs"], now)


def _start_claims(
    settings: Settings, state: dict, claims: dict[str, dict], now: float
) -> list[PipelineRun]:
    """Start every claim in ``claims`` not started yet, writing each start down at once."""
    started = []
    for claim in claims.values():
        if claim["started"] is not None:
            continue
        params = RunParams.from_arguments(claim["arguments"])
        run = _start_claimed(settings, claim["run_id"], params)
        if run is not None:
            started.append(run)
        claim["started"] = now
        save_state(settings, state)
    return started


# --- retraining on drift -------------------------------------------------------------------------


def alert_key(alert) -> str:
    """What names one drift alert for good: its deployment, scheduled request and time."""
    return f"{alert.model}/{alert.request_id}/{alert.time:.6f}"


def drift_trigger(alert) -> str:
    """The alert in one line, as the version it causes records it (``trigger``)."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(alert.time))
    if alert.evaluations > 1:
        how = f"in {alert.evaluations} evaluations in a row"
    else:  # one alert of Prometheus' rule, relayed by Alertmanager, counts no evaluations
        how = "by the Prometheus alert rule" if alert.source else "in one evaluation"
    return (
        f"drift alert on deployment {alert.model} at {when}: {alert.metric.lower()} found "
        f"{', '.join(alert.columns)} drifted {how}"
    )


def raised_alerts(settings: Settings, since: float | None = None) -> list:
    """Every deployment's drift alerts raised at or after ``since``, oldest first."""
    from jukebox.monitoring.history import alerts
    from jukebox.monitoring.paths import monitoring_dir

    root = monitoring_dir(settings)
    models = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    found = [a for model in models for a in alerts(settings, model)]
    return sorted((a for a in found if since is None or a.time >= since), key=lambda a: a.time)


def _served_model(settings: Settings, deployment: str) -> str | None:
    """The registered model a local deployment serves (None for a bundle, or none known)."""
    from jukebox.serving.deploy import get_deployment

    try:
        return get_deployment(settings, deployment).model
    except JukeboxError:
        return None


def _drift_arguments(settings: Settings, state: dict, alert, commits: list[str]) -> dict:
    """The training run an alert starts: the newest data version (the current data when there
    are no versions), the loop's training arguments, the alert as its trigger."""
    base = RunParams.from_arguments(state["training"]) if state["training"] else RunParams()
    source, options = ("version", {"ref": commits[0]}) if commits else ("current", {})
    params = RunParams(
        model_name=_served_model(settings, alert.model) or base.model_name,
        source=source,
        source_options=options,
        training=base.training,
        tolerance=base.tolerance,
        trigger=drift_trigger(alert),
    )
    return params.arguments()


def _retrain_on_drift(
    settings: Settings, state: dict, commits: list[str], now: float
) -> list[PipelineRun]:
    """Claim a training run for each alert not yet answered, then start the claims (submit them
    to Kubeflow Pipelines when ``KFP_HOST`` is set). Under the lock."""
    for alert in raised_alerts(settings, state["drift_since"]):
        key = alert_key(alert)
        if key in state["drift_runs"]:
            continue
        arguments = _drift_arguments(settings, state, alert, commits)
        state["drift_runs"][key] = asdict(DriftRun(key, new_job_id(), arguments, now))
        save_state(settings, state)
    if settings.pipelines_are_remote:
        _submit_claims(settings, state, now)
        return []
    return _start_claims(settings, state, state["drift_runs"], now)


def _submit_claims(settings: Settings, state: dict, now: float) -> None:
    """On a cluster: submit each unstarted drift claim as a run of the training pipeline; its
    KFP run id replaces the claimed one."""
    from jukebox.config import public_url
    from jukebox.pipelines.trigger import submit_training

    for claim in state["drift_runs"].values():
        if claim["started"] is not None:
            continue
        arguments = claim["arguments"] | {
            "registry_url": settings.registry_url or "",
            "data_repo_url": public_url(settings.data_git_url or ""),
        }
        ref = claim["arguments"].get("source_options", {}).get("ref", "current")
        claim["run_id"] = submit_training(settings.kfp_host, arguments, ref)
        claim["started"] = now
        save_state(settings, state)


def _run_due_schedules(settings: Settings, state: dict, now: float) -> list[PipelineRun]:
    """Start each schedule that is due (unless its last run still runs), claimed as versions
    are: its run id written down first, then started. Under the lock."""
    started = []
    for record in state["schedules"]:
        schedule = Schedule(**record)
        claimed = schedule.last_run_id
        if claimed and not _was_started(settings, claimed):
            pass  # claimed by a loop killed before starting it: start it now
        elif schedule.next_due() > now or _still_running(settings, claimed):
            continue
        else:
            record["last_started"], record["last_run_id"] = now, new_job_id()
            save_state(settings, state)
        run = _start_claimed(settings, record["last_run_id"], schedule.params())
        if run is not None:
            started.append(run)
    return started


def tick(settings: Settings, now: float | None = None) -> list[PipelineRun]:
    """One look: start a training run for each data version not trained yet (when continuous
    training is switched on), one for each drift alert not yet answered (when retraining on
    drift is), and every schedule that is due (unless its last run still runs).
    Returns the runs it started.

    Deciding and starting happen under the state's lock, so loops ticking at the same moment
    start each run once; the versions are listed before taking it (the data repository has a
    lock of its own, which a data pipeline run holds while it versions)."""
    from jukebox.data.versions import list_versions, sync

    now = now or time.time()
    sync(settings)  # a data repository with a git remote: see the versions made elsewhere
    commits = [v.commit for v in list_versions(settings)]
    started: list[PipelineRun] = []
    with locked_state(settings) as state:
        if state["enabled"]:
            started += _train_new_versions(settings, state, commits, now)
        if state["retrain_on_drift"]:
            started += _retrain_on_drift(settings, state, commits, now)
        started += _run_due_schedules(settings, state, now)
        state["last_tick"] = now
        save_state(settings, state)
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
        with changing_state(settings) as state:
            state["last_error"] = error
        deadline = time.monotonic() + interval
        while time.monotonic() < deadline and not should_stop():
            time.sleep(min(0.5, interval))
