"""Searches as background jobs: start one, read how it is going, ask it to stop.

A search started from a page runs as ``python -m jukebox tune … --job-dir <job dir>`` through
``jukebox.jobs`` (kind ``search``), so it survives page reloads. It reports through
``status.json``, whose one definition is :class:`SearchStatus`: the trials so far, the trial
running now and how far its training is, the best so far, and at the end the best model and
the gate's verdict. A ``STOP`` file in the job directory stops the running trial's training
(its run ends ``KILLED``) and the search after it; the best so far is still trained, exported
and offered to the gate.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jukebox.config import Settings
from jukebox.jobs import Job, list_jobs, new_job_id, read_status_as, start_job, update_status_as
from jukebox.tuning.space import SearchSpace

KIND = "search"
FINAL_STATES = ("done", "stopped", "failed")
STOP_FILE = "STOP"


@dataclass(frozen=True)
class SearchStatus:
    """What a search job reports in ``status.json``.

    ``state``: ``running`` → ``done`` | ``stopped`` | ``failed``. ``phase``: ``loading`` |
    ``searching`` | ``training the best`` | ``registering`` | ``finished``. ``trials``: one
    :class:`jukebox.tuning.search.TrialOutcome` dict per ended trial; ``current``: the running
    trial (``number``, ``params``, ``epoch``, ``epochs``, ``progress``, ``val_loss`` per epoch);
    ``best``: the best trial so far. At the end: ``model_dir``, ``accuracy`` (test split),
    ``verified``, ``gate`` (the gate's sentence) and ``version`` when registered, or ``error``.
    """

    state: str = ""
    phase: str = ""
    experiment: str = ""
    trials_planned: int = 0
    space: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    trials: list[dict] = field(default_factory=list)
    current: dict[str, Any] = field(default_factory=dict)
    best: dict[str, Any] | None = None
    model_name: str = ""
    model_dir: str | None = None
    accuracy: float | None = None
    verified: bool | None = None
    gate: str | None = None
    version: str | None = None
    error: str | None = None
    updated: float = 0.0

    @classmethod
    def read(cls, job_dir: Path) -> SearchStatus:
        return read_status_as(cls, job_dir)


def update_status(job_dir: Path | None, **changes: Any) -> None:
    """Merge ``changes`` (:class:`SearchStatus` fields) into the job's ``status.json``."""
    update_status_as(SearchStatus, job_dir, **changes, updated=time.time())


def request_stop(job_dir: Path) -> None:
    """Ask the search in ``job_dir`` to stop its running trial and start no other."""
    (Path(job_dir) / STOP_FILE).touch()


def stop_requested(job_dir: Path) -> bool:
    return (Path(job_dir) / STOP_FILE).exists()


def tune_arguments(
    space: SearchSpace,
    trials: int,
    *,
    experiment: str | None = None,
    model_name: str = "jukebox",
    tolerance: float = 0.01,
    register: bool = True,
    seed: int = 0,
    songs: int | None = None,
    data_seed: int = 0,
    days: int | None = None,
    countries: int | None = None,
) -> list[str]:
    """The ``python -m jukebox tune`` arguments of a search (data: the current data set, or a
    fresh synthetic set of ``songs``)."""
    args = ["--trials", str(trials), "--space", space.to_json(), "--search-seed", str(seed)]
    args += ["--model-name", model_name, "--tolerance", str(tolerance)]
    args.append("--register" if register else "--no-register")
    if experiment:
        args += ["--experiment", experiment]
    if songs is not None:
        args += ["--songs", str(songs), "--data-seed", str(data_seed)]
        if days:
            args += ["--days", str(days)]
        if countries:
            args += ["--countries", str(countries)]
    return args


def start_search(
    settings: Settings,
    space: SearchSpace,
    trials: int,
    *,
    job_id: str | None = None,
    synthetic: dict[str, Any] | None = None,
    **options: Any,
) -> Job:
    """Start a search job (``options`` as :func:`tune_arguments` takes them) on the current data
    set, or on a fresh ``synthetic`` set (``songs``, ``seed``, ``days``, ``countries``); its
    experiment is ``search-<job id>`` unless ``options`` name one."""
    job_id = job_id or new_job_id()
    if synthetic:
        options.update(
            songs=int(synthetic["songs"]),
            data_seed=int(synthetic.get("seed", 0)),
            days=synthetic.get("days"),
            countries=synthetic.get("countries"),
        )
    options.setdefault("experiment", f"search-{job_id}")
    args = ["-m", "jukebox", "tune", "--job-dir", "{job_dir}"]
    args += tune_arguments(space, trials, **options)
    return start_job(settings, KIND, args, job_id=job_id)


@dataclass(frozen=True)
class SearchJobView:
    """What a page shows of one search job, from its files alone."""

    job: Job
    status: SearchStatus
    alive: bool

    @property
    def state(self) -> str:
        """``starting``, ``running``, a final state, or ``lost`` (process gone, no final word)."""
        state = self.status.state
        if state in FINAL_STATES:
            return state
        if self.alive:
            return state or "starting"
        return "lost"

    @property
    def finished(self) -> bool:
        return self.state in (*FINAL_STATES, "lost")

    @property
    def stopping(self) -> bool:
        return not self.finished and stop_requested(self.job.dir)

    def headline(self) -> str:
        """One sentence: where the search stands."""
        s = self.status
        done = len(s.trials)
        if self.state == "starting":
            return "Starting (loading TensorFlow and the data)…"
        if self.state == "running":
            if s.phase == "searching" and s.current:
                c = s.current
                return (
                    f"Trial {c.get('number', done)} ({done} of {s.trials_planned} done): epoch "
                    f"{c.get('epoch', 0)}/at most {c.get('epochs', 0)}"
                    + (" — stopping after this trial's training stops…" if self.stopping else "")
                )
            return f"{s.phase.capitalize() or 'Running'}…"
        if self.state == "done":
            return f"Finished: {done} trial(s)."
        if self.state == "stopped":
            return f"Stopped on request after {done} trial(s); the best so far was kept."
        if self.state == "failed":
            return f"Failed: {s.error or 'see the log'}"
        return "The search process ended without reporting a result; see its log."


def view(job: Job) -> SearchJobView:
    alive = job.is_alive()  # before reading: a job writes its final status, then exits
    return SearchJobView(job, SearchStatus.read(job.dir), alive)


def search_jobs(settings: Settings) -> list[SearchJobView]:
    """Every search job, newest first."""
    return [view(job) for job in list_jobs(settings, KIND)]
