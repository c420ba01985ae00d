"""Listeners that carry training progress out of the process: a job's status file, a terminal."""

from __future__ import annotations

from pathlib import Path

from jukebox.model.fit import TrainingEvent
from jukebox.model.jobs import update_status

MAX_CURVE_POINTS = 400


class StatusWriter:
    """Writes each training event into the job's ``status.json`` (a :class:`TrainingStatus`)."""

    def __init__(self, job_dir: Path) -> None:
        self.job_dir = Path(job_dir)
        self.history: dict[str, list[float]] = {}
        self.curve: list[dict] = []

    def __call__(self, event: TrainingEvent) -> None:
        if event.kind == "batch_end" and event.loss is not None:
            self.curve.append(
                {
                    "x": round(event.epoch_position, 4),
                    "loss": event.loss,
                    "accuracy": event.metrics.get("accuracy"),
                }
            )
            if len(self.curve) > MAX_CURVE_POINTS:
                self.curve = self.curve[::2]  # keep the whole span, at half the resolution
        if event.kind == "epoch_end":
            for name, value in {"loss": event.loss, **event.metrics}.items():
                self.history.setdefault(name, []).append(value)
        update_status(
            self.job_dir,
            phase="training",
            epoch=event.epoch,
            epochs=event.epochs,
            batch=event.batch,
            batches=event.batches,
            progress=event.progress,
            loss=event.loss,
            metrics=event.metrics,
            history=self.history,
            curve=self.curve,
        )


class ConsolePrinter:
    """Prints progress lines: about ten per epoch, and every epoch's validation figures."""

    def __init__(self, print_fn=print) -> None:
        self.print = print_fn
        self._last_tenth = -1

    def __call__(self, event: TrainingEvent) -> None:
        if event.kind == "train_begin":
            self.print(f"Training {event.epochs} epoch(s) of {event.batches} batches…", flush=True)
        elif event.kind == "batch_end":
            tenth = int(event.progress * 10)
            if tenth != self._last_tenth:
                self._last_tenth = tenth
                self.print(
                    f"  epoch {event.epoch}/{event.epochs} batch {event.batch}/{event.batches}"
                    f"  loss {event.loss:.4f}  accuracy {event.metrics.get('accuracy', 0):.4f}",
                    flush=True,
                )
        elif event.kind == "epoch_end":
            figures = "  ".join(
                f"{k} {v:.4f}" for k, v in {"loss": event.loss, **event.metrics}.items() if v
            )
            self.print(f"epoch {event.epoch}/{event.epochs} done: {figures}", flush=True)
