"""Where monitoring keeps its state under ``JUKEBOX_HOME``, one folder per model id::

monitoring/requests.json           scheduled metric requests (all models)
monitoring/<model>/segments/*.arrow the payload log (Arrow IPC files, oldest first by name)
monitoring/<model>/history.jsonl   each evaluation of a scheduled metric
monitoring/<model>/alerts.jsonl    drift alerts
"""

from __future__ import annotations

import re
from pathlib import Path

from jukebox.config import Settings

_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")


def monitoring_dir(settings: Settings) -> Path:
    return settings.home / "monitoring"


def check_model_id(model_id: str) -> str:
    """``model_id`` if it can name a folder (letters, digits, ``.``, ``_``, ``-``); else ValueError.

    KServe's InferenceService names and the workshop's ``jukebox`` all qualify; a name with a
    ``/`` or ``..`` would escape the monitoring folder."""
    if not isinstance(model_id, str) or not _MODEL_ID.match(model_id) or ".." in model_id:
        raise ValueError(
            f"Invalid model name {model_id!r}: use letters, digits, '.', '_' and '-' only."
        )
    return model_id


def model_dir(root: Path, model_id: str) -> Path:
    """The folder of one model under the monitoring root ``root``."""
    return Path(root) / check_model_id(model_id)
