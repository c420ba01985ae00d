"""Running the training pipeline here, with kfp's local mode: in this process, or in the
background so the app stays responsive.

``kfp.local`` with ``SubprocessRunner(use_venv=False)`` runs each component as a subprocess of
this environment (nothing is installed at run time), one task after another, even the parallel
branches. It keeps no run-status object, so every run is recorded in ``JUKEBOX_HOME`` by
:mod:`jukebox.pipelines.records`: the tasks write their own records (the runner hands them the
run's folder through the environment, which kfp's local mode passes on), and the runner writes
the run's outcome. Each run has its own kfp pipeline root, so two runs never mix outputs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from jukebox.config import Settings
from jukebox.jobs import kill_job, load_job, new_job_id, start_job
from jukebox.pipelines.params import DataRunParams, RunParams
from jukebox.pipelines.records import (
    OUTPUTS_DIR,
    GateOutcome,
    PipelineRun,
    RegisterOutcome,
    VersionOutcome,
    create_run,
    load_run,
    record_task,
    run_dir,
    update_run,
)
from jukebox.pipelines.tasks import RUN_DIR_ENV

if TYPE_CHECKING:
    from jukebox.data.songdata import SongData

JOB_KIND = "pipeline"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
KFP_LOG = "kfp.log"
"""Everything kfp's local mode printed of a run, in the run's folder."""
_TASK_LINE = re.compile(r"\s*(\[[\w-]+\] |error: )")
"""What our tasks print about themselves ("[train] succeeded", "error: ..."), among kfp's lines."""


Params = RunParams | DataRunParams


def pipeline_of(params: Params) -> str:
    return "jukebox-data" if isinstance(params, DataRunParams) else "jukebox-training"


def _pipeline_function(name: str, settings: Settings):
    if name == "jukebox-data":
        from jukebox.pipelines.data import data_pipeline

        return data_pipeline(settings)
    from jukebox.pipelines.training import training_pipeline

    return training_pipeline(settings)


def run_here(
    settings: Settings, params: Params, *, run_id: str | None = None, verbose: bool = False
) -> PipelineRun:
    """Record a new run and run it in this process until it ends; returns its record."""
    run_id = run_id or new_job_id()
    create_run(settings, run_id, params.arguments(run_id), pipeline=pipeline_of(params))
    return execute(settings, run_id, verbose=verbose)


def start_in_background(
    settings: Settings, params: Params, *, run_id: str | None = None
) -> PipelineRun:
    """Record a new run and start it as a background job (``python -m jukebox pipeline run
    --record RUN``); returns at once. ``run_id`` is one chosen beforehand (the continuous-training
    loop writes it down before the start)."""
    run_id = run_id or new_job_id()
    create_run(
        settings,
        run_id,
        params.arguments(run_id),
        job_id=run_id,
        pipeline=pipeline_of(params),
    )
    start_job(
        settings, JOB_KIND, ["-m", "jukebox", "pipeline", "run", "--record", run_id], job_id=run_id
    )
    return load_run(run_dir(settings, run_id))  # type: ignore[return-value]


def stage_data(settings: Settings, data: SongData) -> Path:
    """Write ``data`` where a data pipeline run can read it (``source="directory"``): a folder
    of the staging area, removed once the run has ended, since its extract task has read it."""
    from jukebox.data.store import write_data_dir

    folder = settings.staging_dir / f"data-{new_job_id()}"
    write_data_dir(data, folder)
    return folder


class _TaskLines:
    """A stdout for kfp's local mode: every line goes to the run's kfp log, and only the lines
    our tasks print about themselves go on to ``terminal`` (kfp's own lines, its executor's and
    the tasks' progress are in the logs, not in the way)."""

    def __init__(self, terminal: TextIO, log: TextIO) -> None:
        self.terminal, self.log, self.pending = terminal, log, ""

    def write(self, text: str) -> int:
        self.log.write(text)
        # kfp prints a task's lines in pieces (an indent, then the line): judge whole lines.
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            if _TASK_LINE.match(line):
                self.terminal.write(line.strip() + "\n")
        return len(text)

    def flush(self) -> None:
        self.log.flush()
        self.terminal.flush()

    def isatty(self) -> bool:
        return False


@contextlib.contextmanager
def _kfp_output(path: Path, verbose: bool) -> Iterator[None]:
    """kfp's own output on the terminal only when ``verbose``; always in the run's kfp log."""
    if verbose:
        yield
        return
    with (
        open(path / KFP_LOG, "a", buffering=1) as log,
        contextlib.redirect_stdout(_TaskLines(sys.stdout, log)),
    ):
        yield


def execute(settings: Settings, run_id: str, *, verbose: bool = False) -> PipelineRun:
    """Run the recorded run ``run_id`` with kfp's local mode, then record how it ended. kfp's
    own output shows only when ``verbose``: the lines of our tasks always do."""
    from kfp import local

    path = run_dir(settings, run_id)
    run = load_run(path)
    if run is None:
        raise FileNotFoundError(f"No pipeline run is recorded in {path}.")
    # kfp warns when an image name lacks "python"; here the image is this very environment.
    warnings.filterwarnings("ignore", message=".*non-Python base image", category=RuntimeWarning)
    local.init(
        runner=local.SubprocessRunner(use_venv=False),
        pipeline_root=str(path / OUTPUTS_DIR),
        raise_on_error=False,
    )
    try:
        with _kfp_output(path, verbose), _task_environment(settings, path):
            _pipeline_function(run.pipeline, settings)(**run.arguments)
    finally:
        finish(settings, path)
    return load_run(path)  # type: ignore[return-value]


@contextlib.contextmanager
def _task_environment(settings: Settings, path: Path) -> Iterator[None]:
    """The environment the tasks inherit, while the run lasts: they are subprocesses that find
    the run record, this project and this JUKEBOX_HOME through it. Restored after, since a run
    here may be one of several things this process does."""
    wanted = {
        RUN_DIR_ENV: str(path),
        "JUKEBOX_HOME": str(settings.home),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    before = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def finish(settings: Settings, path: Path, *, stopped: bool = False) -> PipelineRun:
    """Record how the run in ``path`` ended, from what its tasks recorded, and remove the data
    staged for it (a folder the user named as the source stays)."""
    run = load_run(path)
    assert run is not None
    staged = Path(run.arguments.get("source_options", {}).get("path") or settings.staging_dir)
    if staged.parent.resolve() == settings.staging_dir.resolve():
        shutil.rmtree(staged, ignore_errors=True)
    now = time.time()
    for task in run.tasks.values():
        if task.state == "running":
            record_task(path, task.name, state="stopped" if stopped else "failed", ended=now)
    run = load_run(path)
    assert run is not None
    evaluate = run.tasks.get("evaluate")
    register = run.tasks.get("register")
    versioned = run.tasks.get("load-and-version")
    failed = run.failed_task
    outcome: dict = {"ended": now}
    if stopped:
        outcome |= {"state": "stopped", "error": "Stopped on request."}
    elif failed is not None:
        outcome |= {"state": "failed", "error": f"{failed.name} failed: {failed.error}"}
    elif versioned is not None and versioned.state == "succeeded":
        commit = versioned.outcome(VersionOutcome).data_commit
        outcome |= {"state": "succeeded", "new_data_version": commit}
        if not commit:
            record_task(path, "trigger-training", state="skipped")
            outcome["note"] = "The data did not change: no new data version, nothing to train."
    elif register is not None and register.state == "succeeded":
        registered = register.outcome(RegisterOutcome)
        outcome |= {
            "state": "succeeded",
            "registered_version": registered.version,
            "note": registered.note,
        }
    elif evaluate is not None and evaluate.outcome(GateOutcome).gate_passed is False:
        gate = evaluate.outcome(GateOutcome).gate
        record_task(path, "register", state="skipped", error=gate)
        outcome |= {"state": "succeeded", "note": gate}
    else:
        outcome |= {
            "state": "failed",
            "error": "The pipeline ended before registering, without a task saying why: "
            "see its log.",
        }
    update_run(path, **outcome)
    return load_run(path)  # type: ignore[return-value]


def refresh(settings: Settings, run: PipelineRun) -> PipelineRun:
    """The run as it stands; a background run whose process died without a word is ended."""
    if run.finished or not run.job_id:
        return run
    job = load_job(settings.jobs_dir(JOB_KIND) / run.job_id)
    if job is not None and job.is_alive():
        return run
    return finish(settings, run.path)


def stop(settings: Settings, run: PipelineRun) -> PipelineRun:
    """End a background run now: its process and its task's process are killed."""
    if run.job_id:
        job = load_job(settings.jobs_dir(JOB_KIND) / run.job_id)
        if job is not None:
            kill_job(job)
    return finish(settings, run.path, stopped=True)
