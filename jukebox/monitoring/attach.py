"""Watching a deployment: what the workshop's setup notebook does by hand, done at deploy time.

``4-metrics/1-trustyai_setup.ipynb`` uploads the model's training rows tagged ``TRAINING`` with
the model's own predictions on them, then schedules meanshift on the 13 features. A deployment
does the same once its server is up, against the embedded service (started on demand, as the
embedded registry is) or the real TrustyAI service named by ``TRUSTYAI_URL``. Done once per
deployment name: a redeployed or replaced deployment keeps its reference and its scheduled
metric, so its drift history runs on across versions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jukebox.config import Settings
from jukebox.data.schema import FEATURES
from jukebox.model.runs import read_reference
from jukebox.monitoring.client import (
    TRAINING_TAG,
    MonitoringError,
    schedule_meanshift,
    scheduled,
    tags,
    upload_training,
)
from jukebox.monitoring.process import monitoring_url
from jukebox.serving.runtime import load_bundle_model


def _has_reference(url: str, model_id: str, token: str | None) -> bool:
    return int(tags(url, token).get(model_id, {}).get(TRAINING_TAG, 0)) > 0


def _has_meanshift(url: str, model_id: str, token: str | None) -> bool:
    return any(r["request"].get("modelId") == model_id for r in scheduled(url, token=token))


def watch_deployment(
    settings: Settings, model_id: str, bundle_dir: str | Path, version: str = "1"
) -> str:
    """Give the monitoring service ``bundle_dir``'s training reference for the deployment
    ``model_id`` (its served model name, as KServe's logger names it) and schedule meanshift on
    every feature, unless already done; returns a sentence saying what was done.

    A bundle trained before bundles carried a reference gets the metric but no reference: the
    sentence says how to give it one. Raises :class:`MonitoringError` when the service refuses.
    """
    reference = read_reference(Path(bundle_dir))
    if reference is None and not settings.trustyai_url:
        # Nothing to compare with: no reason to start the embedded service for it.
        return (
            f"Monitoring is not watching {model_id}: its bundle holds no training reference (it "
            "was not trained by this version of Jukebox); train and deploy a new version."
        )
    url = monitoring_url(settings)
    token = settings.trustyai_token
    said = []
    if _has_reference(url, model_id, token):
        said.append(f"{model_id} already has its {TRAINING_TAG} reference")
    else:
        if reference is None:
            said.append(
                f"the bundle of {model_id} holds no training reference: upload one as "
                f"{TRAINING_TAG} (POST /data/upload) to measure drift"
            )
        else:
            model = load_bundle_model(bundle_dir, name=model_id, version=version)
            output = model.outputs[0].name

            def predict(feeds: dict[str, np.ndarray]) -> np.ndarray:
                return model.run(feeds, [output])[0]

            x = reference[list(FEATURES)].to_numpy(dtype=np.float32)
            upload_training(url, model_id, x, FEATURES, predict, token=token, limit=len(x))
            said.append(f"uploaded {len(x):,} training rows of {model_id} as {TRAINING_TAG}")
    if _has_meanshift(url, model_id, token):
        said.append("meanshift was already scheduled")
    else:
        schedule_meanshift(url, model_id, FEATURES, token=token)
        said.append("scheduled meanshift on its 13 features")
    return f"Monitoring at {url}: " + "; ".join(said) + "."


__all__ = ["MonitoringError", "watch_deployment"]
