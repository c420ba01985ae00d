"""The Monitor page's demo: stream shifted songs through a deployment and watch drift appear.

Songs are sent one per request, as listeners' requests would come (and as the workshop's
``2-introducing_drift.ipynb`` sends its test rows), so each passes through the server's payload
logger. After every batch of the scheduled metric's size the embedded service is asked to
evaluate at once instead of on its next round: three batches make the three drifted evaluations
in a row that raise an alert, so a presenter shows drift, and the retraining it starts, in
well under a minute.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd

from jukebox.config import Settings
from jukebox.monitoring.client import evaluate_now
from jukebox.monitoring.process import monitoring_url
from jukebox.monitoring.service import DEFAULT_BATCH_SIZE
from jukebox.serving.client import infer, model_metadata

FLUSH_WAIT = 1.0
"""Seconds to let the server's payload log write a batch before the service reads it (it writes
every half second)."""


def stream_songs(
    endpoint: str,
    model_name: str,
    songs: pd.DataFrame,
    *,
    token: str | None = None,
    on_sent: Callable[[int], None] = lambda sent: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> int:
    """Send ``songs`` to a deployment one song per request; ``on_sent`` gets the count after
    each. Returns how many were answered."""
    labels = model_metadata(endpoint, model_name, token=token).get("parameters", {}).get("labels")
    sent = 0
    for _, song in songs.iterrows():
        if should_stop():
            break
        infer(endpoint, model_name, [song.to_dict()], token=token, labels=labels)
        sent += 1
        on_sent(sent)
    return sent


def stream_demo(
    settings: Settings,
    endpoint: str,
    model_name: str,
    songs: pd.DataFrame,
    *,
    token: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_sent: Callable[[int], None] = lambda sent: None,
) -> int:
    """Stream ``songs`` in batches of ``batch_size``, and after each have the embedded service
    evaluate its scheduled metrics (with ``TRUSTYAI_URL`` the real one keeps its own schedule).
    Returns how many songs were answered."""
    sent = 0
    for start in range(0, len(songs), batch_size):
        batch = songs.iloc[start : start + batch_size]
        sent += stream_songs(
            endpoint, model_name, batch, token=token, on_sent=lambda n, done=sent: on_sent(done + n)
        )
        if not settings.trustyai_url:
            time.sleep(FLUSH_WAIT)
            evaluate_now(monitoring_url(settings), settings.trustyai_token)
    return sent
