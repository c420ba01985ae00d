"""What the Monitor page shows of one deployment, read from the monitoring folder.

Everything here reads what the serving process and the monitoring service already wrote (the
payload log, the drift history, the alerts), so the page draws without asking a running service;
only the current drift of the newest batch is computed here, with the same meanshift the service
schedules, so the stakeholder's sentence speaks of exactly the songs on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jukebox.config import Settings
from jukebox.data.schema import FEATURES
from jukebox.monitoring import drift
from jukebox.monitoring.client import TRAINING_TAG
from jukebox.monitoring.drift_words import drift_sentence
from jukebox.monitoring.history import DriftAlert, alerts, drift_history
from jukebox.monitoring.paths import monitoring_dir
from jukebox.monitoring.payload_log import read_log
from jukebox.monitoring.service import DEFAULT_BATCH_SIZE

OUTPUT = "output"


@dataclass(frozen=True)
class MonitorOverview:
    """One deployment as the Monitor page shows it. ``live`` holds the newest logged requests
    (at most ``last``), ``reference`` the training rows; both with the 13 features and the model's
    output columns ``output-0…``. ``now`` is meanshift of the newest batch against the
    reference, by feature (empty until both exist)."""

    model_id: str
    live: pd.DataFrame
    reference: pd.DataFrame
    history: pd.DataFrame
    alerts: list[DriftAlert]
    now: dict[str, drift.ColumnDrift] = field(default_factory=dict)
    threshold: float = drift.DEFAULT_THRESHOLD_DELTA
    batch_size: int = DEFAULT_BATCH_SIZE

    @property
    def drifted(self) -> list[str]:
        """The features the newest batch has drifted on, in feature order."""
        return [f for f in FEATURES if f in self.now and self.now[f].drifted]

    @property
    def sentence(self) -> str:
        """The stakeholder's sentence about the newest batch, or what is missing for one."""
        if self.reference.empty:
            return (
                "There is no training reference for this deployment yet, so drift cannot be "
                "measured: deploy a version trained in this app, or upload the training data."
            )
        if len(self.live) < 2:
            return "No songs have been sent to this deployment yet: send some, or stream a demo."
        recent = self.live.tail(self.batch_size)
        return drift_sentence(self.reference, recent, self.drifted, period="lately")


def output_probabilities(rows: pd.DataFrame, labels: tuple[str, ...]) -> pd.DataFrame:
    """The logged output columns (``output-0…``) as probabilities labelled by country; indices
    stand in for labels the caller does not know."""
    columns = sorted(
        (c for c in rows.columns if c.startswith(f"{OUTPUT}-")),
        key=lambda c: int(c.rsplit("-", 1)[1]),
    )
    names = list(labels) if len(labels) == len(columns) else [c.split("-")[-1] for c in columns]
    return pd.DataFrame(rows[columns].to_numpy(dtype=float), columns=names, index=rows.index)


def monitor_overview(
    settings: Settings,
    model_id: str,
    *,
    last: int = 5_000,
    threshold: float = drift.DEFAULT_THRESHOLD_DELTA,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> MonitorOverview:
    """Read one deployment's monitoring data: the newest ``last`` live requests, the training
    reference, the drift history and alerts, and meanshift of the newest ``batch_size``."""
    root = monitoring_dir(settings)
    live = read_log(root, model_id, exclude_tag=TRAINING_TAG, last=last)
    reference = read_log(root, model_id, tag=TRAINING_TAG)
    features = [f for f in FEATURES if f in live.columns and f in reference.columns]
    now: dict[str, drift.ColumnDrift] = {}
    if features and len(live) >= 2 and not reference.empty:
        now = drift.meanshift(reference, live.tail(batch_size), features, threshold)
    return MonitorOverview(
        model_id,
        live,
        reference,
        drift_history(settings, model_id),
        alerts(settings, model_id),
        now,
        threshold,
        batch_size,
    )


def top_countries(rows: pd.DataFrame, labels: tuple[str, ...]) -> pd.Series:
    """How often each country is the top answer in ``rows``' logged outputs, as shares."""
    probabilities = output_probabilities(rows, labels)
    if probabilities.empty or probabilities.shape[1] == 0:
        return pd.Series(dtype=float)
    top = probabilities.columns[np.argmax(probabilities.to_numpy(), axis=1)]
    return pd.Series(top).value_counts(normalize=True)


def served_labels(deployment) -> tuple[str, ...]:
    """The country codes in output order of the bundle a local deployment serves (empty when
    its bundle cannot be read: the figures then fall back to output indices)."""
    from jukebox.model.bundle import read_bundle

    try:
        bundle = read_bundle(deployment.served_bundle or deployment.bundle)
        return tuple(bundle.preprocessing.labels)
    except (TypeError, ValueError, OSError):
        return ()
