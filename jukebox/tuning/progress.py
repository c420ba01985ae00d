"""A search's progress carried out of the process: into its job's ``status.json``."""

from __future__ import annotations

from pathlib import Path

from jukebox.tuning.jobs import update_status
from jukebox.tuning.space import SEARCHED


class SearchStatusWriter:
    """Writes the trials so far, the running trial's progress and the best so far into a
    search job's status (a :class:`jukebox.tuning.jobs.SearchStatus`); does nothing without a
    job directory. Also a training listener: each event updates the running trial."""

    def __init__(self, job_dir: Path | None) -> None:
        self.job_dir = job_dir
        self.trials: list[dict] = []
        self.current: dict = {}

    def trial_started(self, number: int, params) -> None:
        searched = {k: v for k, v in params.to_dict().items() if k in SEARCHED}
        self.current = {"number": number, "params": searched, "epoch": 0,
                        "epochs": params.epochs, "progress": 0.0, "val_loss": []}  # fmt: skip
        update_status(self.job_dir, current=self.current)

    def __call__(self, event) -> None:
        if not self.current or event.kind not in ("batch_end", "epoch_end"):
            return
        self.current["epoch"] = event.epoch
        self.current["progress"] = round(event.progress, 4)
        if event.kind == "epoch_end" and event.metrics.get("val_loss") is not None:
            self.current["val_loss"].append(event.metrics["val_loss"])
        update_status(self.job_dir, current=self.current)

    def trial_ended(self, outcome, best) -> None:
        self.trials.append(outcome.to_dict())
        self.current = {}
        update_status(
            self.job_dir,
            trials=self.trials,
            current={},
            best=best.to_dict() if best is not None else None,
        )
