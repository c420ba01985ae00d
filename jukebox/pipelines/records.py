"""Pipeline runs as recorded in ``JUKEBOX_HOME/pipeline-runs/<run id>/``.

kfp's local mode keeps no run-status object, so Jukebox keeps its own: ``run.json`` (parameters,
state, start and end, the version registered or why none was, the error) written by the process
that runs the pipeline, and ``tasks/<task>.json`` plus ``tasks/<task>.log`` written by each task
itself as it starts and ends (its state, times, outputs and metrics). A page reload or an app
restart finds every run again from these files alone. ``outputs/`` is kfp's pipeline root: the
artifacts of this run and of no other.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from jukebox.config import Settings
from jukebox.jobs import write_json_atomic

RUN_FILE = "run.json"
TASKS_DIR = "tasks"
OUTPUTS_DIR = "outputs"
FINAL_STATES = ("succeeded", "failed", "stopped")


# --- what tasks hand on: to the next task, and to the run's record ----------------------------


@dataclass(frozen=True)
class DataFacts:
    """What fetch-data hands to register about the data it fetched: its version (a DVC md5, or
    the content id of data no DVC version holds) and, for a DVC version, its git commit, each
    table's md5 and the remotes, which the registry records on the model version."""

    md5: str | None = None
    commit: str | None = None
    tables: dict[str, str] = field(default_factory=dict)
    remotes: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DataFacts:
        return cls(**json.loads(text)) if text else cls()


@dataclass(frozen=True)
class FetchOutcome:
    """fetch-data (and extract-data): where the songs came from, how many, which version."""

    source: str | None = None
    songs: int | None = None
    data_version: str | None = None
    data_commit: str | None = None


@dataclass(frozen=True)
class GateOutcome:
    """evaluate: whether the model may be registered, and why."""

    gate_passed: bool | None = None
    gate: str | None = None


@dataclass(frozen=True)
class RegisterOutcome:
    """register: the version registered, or why none was (the same model is registered)."""

    model_name: str | None = None
    version: str | None = None
    note: str | None = None
    duplicate_of: str | None = None
    """The version that already holds the very same model, when that is why none was."""


@dataclass(frozen=True)
class VersionOutcome:
    """load-and-version: whether the data changed, and the version made of it."""

    changed: bool | None = None
    data_commit: str | None = None
    data_version: str | None = None


Outcome = TypeVar("Outcome", FetchOutcome, GateOutcome, RegisterOutcome, VersionOutcome)


@dataclass(frozen=True)
class TaskRecord:
    """One task of a run. ``state``: pending, running, succeeded, failed, skipped or stopped."""

    name: str
    state: str = "pending"
    started: float | None = None
    ended: float | None = None
    error: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.ended or time.time()) - self.started

    def outcome(self, kind: type[Outcome]) -> Outcome:
        """The task's outputs read as the record ``kind`` (its fields left unset when absent)."""
        return kind(**{f.name: self.outputs.get(f.name) for f in fields(kind)})


@dataclass(frozen=True)
class PipelineRun:
    """One run of the training pipeline and what it produced."""

    id: str
    path: Path
    pipeline: str = "jukebox-training"
    arguments: dict[str, Any] = field(default_factory=dict)
    state: str = "running"
    started: float = 0.0
    ended: float | None = None
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    registered_version: str | None = None
    """The model version a training run registered."""
    new_data_version: str | None = None
    """The git commit of the data version a data pipeline run made."""
    note: str | None = None
    """Why the run ended without producing anything (the gate refused the model, the data did
    not change), in a sentence."""
    error: str | None = None
    job_id: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def seconds(self) -> float:
        return (self.ended or time.time()) - self.started

    @property
    def data_version(self) -> str | None:
        """The data version a training run trained on, or the one a data run made."""
        for name, kind in (("fetch-data", FetchOutcome), ("load-and-version", VersionOutcome)):
            task = self.tasks.get(name)
            if task is not None and task.outcome(kind).data_version:
                return task.outcome(kind).data_version
        return None

    @property
    def failed_task(self) -> TaskRecord | None:
        return next((t for t in self.tasks.values() if t.state == "failed"), None)


_RUN_FIELDS = {f.name for f in fields(PipelineRun)} - {"id", "path", "tasks"}
_TASK_FIELDS = {f.name for f in fields(TaskRecord)} - {"name"}


def run_dir(settings: Settings, run_id: str) -> Path:
    return settings.pipeline_runs_dir / run_id


def create_run(settings: Settings, run_id: str, arguments: dict, **changes: Any) -> PipelineRun:
    """Record a new run, before anything of it runs."""
    path = run_dir(settings, run_id)
    (path / TASKS_DIR).mkdir(parents=True, exist_ok=False)
    update_run(path, arguments=arguments, state="running", started=time.time(), **changes)
    return load_run(path)  # type: ignore[return-value]


def update_run(path: Path, **changes: Any) -> None:
    """Merge ``changes`` (fields of :class:`PipelineRun`) into ``run.json``."""
    unknown = set(changes) - _RUN_FIELDS
    if unknown:
        raise TypeError(f"not a PipelineRun field: {', '.join(sorted(unknown))}")
    write_json_atomic(path / RUN_FILE, {**_read(path / RUN_FILE), **changes})


def record_task(path: Path, name: str, **changes: Any) -> None:
    """Merge ``changes`` (fields of :class:`TaskRecord`) into the task's own file."""
    unknown = set(changes) - _TASK_FIELDS
    if unknown:
        raise TypeError(f"not a TaskRecord field: {', '.join(sorted(unknown))}")
    file = path / TASKS_DIR / f"{name}.json"
    file.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(file, {**_read(file), **changes})


def task_log(path: Path, name: str) -> Path:
    return path / TASKS_DIR / f"{name}.log"


def load_run(path: Path) -> PipelineRun | None:
    """The run recorded in ``path``; None when there is none."""
    data = _read(path / RUN_FILE)
    if not data:
        return None
    tasks = {}
    for file in sorted((path / TASKS_DIR).glob("*.json"), key=lambda f: f.stat().st_mtime):
        record = {k: v for k, v in _read(file).items() if k in _TASK_FIELDS}
        tasks[file.stem] = TaskRecord(file.stem, **record)
    known = {k: v for k, v in data.items() if k in _RUN_FIELDS}
    return PipelineRun(id=path.name, path=path, tasks=tasks, **known)


def list_runs(settings: Settings) -> list[PipelineRun]:
    """Every recorded run, newest first."""
    root = settings.pipeline_runs_dir
    if not root.is_dir():
        return []
    runs = (load_run(d) for d in sorted(root.iterdir(), reverse=True) if d.is_dir())
    return [run for run in runs if run is not None]


def run_as_dict(run: PipelineRun) -> dict:
    """A run as plain JSON values (for ``pipeline show --json`` and comparisons)."""
    data = asdict(run)
    data["path"] = str(run.path)
    return data


def _read(file: Path) -> dict:
    try:
        return json.loads(file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
