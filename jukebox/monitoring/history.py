"""What the scheduled metrics said over time, and the drift alerts: append-only JSON lines.

The service appends one line per evaluation of a scheduled metric whose batch changed
(``history.jsonl``) and one line per alert (``alerts.jsonl``), in the model's monitoring folder.
:func:`drift_history` and :func:`alerts` read them back for the Monitor page and the retraining
loop; they need no running service.

Alerts also arrive from Prometheus Alertmanager (a rule on the real TrustyAI's
``trustyai_meanshift``, see ``deploy/monitoring/``): :meth:`MonitoringService.receive_alertmanager`
records them here the same way, so the retraining loop reads one list whatever raised them.

An alert is raised when some fit columns of a scheduled drift metric have been drifted in each of
the last N evaluations (``Settings.drift_alert_after``, env ``JUKEBOX_DRIFT_ALERT_AFTER``,
default 3); once per episode: the columns must recover before the same request alerts again.
The service replays ``history.jsonl`` when it starts, so the counts outlive a restart.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from jukebox.config import Settings
from jukebox.monitoring.paths import model_dir, monitoring_dir

HISTORY_FILE = "history.jsonl"
ALERTS_FILE = "alerts.jsonl"
HISTORY_COLUMNS = ("time", "request_id", "metric", "column", "value", "drifted", "threshold")


@dataclass(frozen=True)
class DriftAlert:
    """A scheduled metric whose ``columns`` stayed drifted for ``evaluations`` evaluations.

    ``source`` says who raised it: empty for the embedded service's own schedule; for an alert
    received from Prometheus Alertmanager, ``alertmanager <fingerprint> <startsAt>``, which
    identifies that firing, so Alertmanager's repeated notifications record it once."""

    time: float
    model: str
    request_id: str
    metric: str
    columns: tuple[str, ...]
    p_values: dict[str, float]
    evaluations: int
    threshold: float
    source: str = ""


def _append(path: Path, line: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(line) + "\n").encode()
    # One write of a whole line in append mode: concurrent readers see whole lines.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _lines(path: Path) -> list[dict]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # a line being written
            continue
    return out


def append_evaluation(
    root: Path,
    model: str,
    *,
    time: float,
    request_id: str,
    metric: str,
    values: dict[str, float],
    drifted: dict[str, bool],
    threshold: float | None,
    batch: list | None = None,
) -> None:
    """Record one evaluation: per column its value (a p-value for drift) and whether drifted;
    ``batch`` identifies the rows evaluated (newest time, count), so a restarted service knows
    which batch it saw last and does not count it twice."""
    _append(
        model_dir(root, model) / HISTORY_FILE,
        {
            "time": time,
            "request_id": request_id,
            "metric": metric,
            "values": values,
            "drifted": drifted,
            "threshold": threshold,
            "batch": batch,
        },
    )


def read_evaluations(root: Path, model: str) -> list[dict]:
    """The evaluations of ``model`` as appended (one dict per line), oldest first: what a
    restarted service replays to recover its alert streaks."""
    return _lines(model_dir(root, model) / HISTORY_FILE)


def append_alert(root: Path, alert: DriftAlert) -> None:
    _append(model_dir(root, alert.model) / ALERTS_FILE, asdict(alert))


def read_history(root: Path, model: str) -> pd.DataFrame:
    """Long form, one row per evaluation and column: :data:`HISTORY_COLUMNS`, oldest first."""
    rows = [
        (
            line["time"],
            line["request_id"],
            line["metric"],
            column,
            value,
            bool(line.get("drifted", {}).get(column, False)),
            line.get("threshold"),
        )
        for line in _lines(model_dir(root, model) / HISTORY_FILE)
        for column, value in line["values"].items()
    ]
    frame = pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))
    frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    return frame


def read_alerts(root: Path, model: str) -> list[DriftAlert]:
    return [
        DriftAlert(**{**line, "columns": tuple(line["columns"])})
        for line in _lines(model_dir(root, model) / ALERTS_FILE)
    ]


def drift_history(settings: Settings, model_id: str) -> pd.DataFrame:
    """Every evaluation of ``model_id``'s scheduled metrics (drift p-values, identity means),
    long form (:data:`HISTORY_COLUMNS`, ``time`` as UTC timestamps), for plotting over time."""
    return read_history(monitoring_dir(settings), model_id)


def alerts(settings: Settings, model_id: str) -> list[DriftAlert]:
    """The drift alerts of ``model_id``, oldest first."""
    return read_alerts(monitoring_dir(settings), model_id)
