"""Hand a chosen data set to a training process: two parquet files and a small JSON beside them.

The Train page lets a user pick data from any source (an upload, S3, a Kaggle CSV, …) that only
the page process has loaded. The background training job is another process, so the page writes
the data set here first and the job reads it back, validated again, with its source and Bayes
ceiling intact. JSON and parquet only: reading never executes code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from jukebox.data.schema import PROPERTIES_TABLE, RANKINGS_TABLE
from jukebox.data.songdata import SongData, song_data

ABOUT_FILE = "about.json"


def save_directory(data: SongData, path: str | Path) -> Path:
    """Write ``data`` as ``song_properties.parquet``, ``song_rankings.parquet`` and about.json."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    data.properties.to_parquet(path / f"{PROPERTIES_TABLE}.parquet", index=False)
    data.rankings.to_parquet(path / f"{RANKINGS_TABLE}.parquet", index=False)
    about = {"source": data.source, "bayes_accuracy": data.bayes_accuracy, "seed": data.seed}
    (path / ABOUT_FILE).write_text(json.dumps(about, indent=2))
    return path


def load_directory(path: str | Path) -> SongData:
    """Read a directory written by :func:`save_directory` (or any with the two parquet files)."""
    path = Path(path)
    files = {name: path / f"{name}.parquet" for name in (PROPERTIES_TABLE, RANKINGS_TABLE)}
    missing = [p.name for p in files.values() if not p.is_file()]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}; it must hold both song tables.")
    about = {}
    if (path / ABOUT_FILE).is_file():
        about = json.loads((path / ABOUT_FILE).read_text())
    return song_data(
        pd.read_parquet(files[PROPERTIES_TABLE]),
        pd.read_parquet(files[RANKINGS_TABLE]),
        about.get("source") or f"parquet files in {path}",
        properties_where=str(files[PROPERTIES_TABLE]),
        rankings_where=str(files[RANKINGS_TABLE]),
        bayes_accuracy=about.get("bayes_accuracy"),
        seed=about.get("seed"),
    )
