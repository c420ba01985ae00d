"""Listeners that carry training progress out of the process: a job's status file, a terminal.

The background training job reports through ``status.json`` (``jukebox.jobs.write_status``):

- ``state``: ``running`` → ``done`` | ``stopped`` | ``failed`` (``cancelled`` is written by the
  page when it kills the job);
- ``phase``: ``loading`` | ``preparing`` | ``training`` | ``evaluating`` | ``saving`` |
  ``exporting`` | ``finished``;
- ``epoch``, ``epochs``, ``batch``, ``batches``, ``progress`` (0 to 1), ``loss``, ``metrics``;
- ``history``: one value per finished epoch for each metric (``loss``, ``val_loss``, …);
- ``curve``: running training loss and accuracy within epochs, as ``{"x": epochs done, "loss",
  "accuracy"}`` points, so curves move before the first epoch ends;
- at the end ``training_id``, ``model_dir``, ``results`` (headline metrics) or ``error``.

A stop is asked for by creating the file ``STOP`` in the job directory; training ends after the
current batch and the model learned so far is kept.
"""

from __future__ import annotations

import time
from pathlib import Path

from jukebox.jobs import write_status
from jukebox.model.training import TrainingEvent

STOP_FILE = "STOP"
MAX_CURVE_POINTS = 400


def request_stop(job_dir: Path) -> None:
    """Ask the training running in ``job_dir`` to stop after its current batch."""
    (Path(job_dir) / STOP_FILE).touch()


def stop_requested(job_dir: Path) -> bool:
    return (Path(job_dir) / STOP_FILE).exists()


class StatusWriter:
    """Writes each training event into the job's ``status.json``."""

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
        write_status(
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
            updated=time.time(),
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
