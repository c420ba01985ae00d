"""The source picker reads each kind of source; adopting a set replaces the current one."""

import io

import pandas as pd
import pytest

from jukebox.config import load_settings
from jukebox.data.sources import KAGGLE_COLUMNS, SourceError
from jukebox.data.store import current_info, load_current
from jukebox.ui import data as ui_data
from tests.ui_explore.tables import make_tables, naive_merge


def named(content: bytes, name: str) -> io.BytesIO:
    """What st.file_uploader hands over: bytes with a file name."""
    buffer = io.BytesIO(content)
    buffer.name = name
    return buffer


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def test_uploaded_tables_are_read_whichever_uploader_got_which(tmp_path):
    properties, rankings = make_tables()
    data = ui_data.read_source(
        "upload",
        {
            "properties": named(rankings.to_csv(index=False).encode(), "ranks.csv"),
            "rankings": named(parquet_bytes(properties), "props.parquet"),
        },
        load_settings({"JUKEBOX_HOME": str(tmp_path)}),
    )
    assert len(data.properties) == len(properties) and len(data.rankings) == len(rankings)


def test_a_kaggle_csv_is_split_and_its_global_chart_set_aside(tmp_path):
    properties, rankings = make_tables()
    kaggle = naive_merge(properties, rankings)
    world = kaggle.head(7).assign(country="")
    csv = pd.concat([kaggle, world])[list(KAGGLE_COLUMNS)].to_csv(index=False).encode()
    data = ui_data.read_source(
        "kaggle", {"file": named(csv, "universal_top_spotify_songs.csv")}, load_settings({})
    )
    assert len(data.rankings) == len(kaggle)
    assert data.properties["spotify_id"].nunique() == kaggle["spotify_id"].nunique()
    assert any("7 rows of the global chart" in f.message for f in data.report.findings)


def test_parquet_paths_and_unknown_kinds(tmp_path):
    properties, rankings = make_tables()
    properties.to_parquet(tmp_path / "p.parquet")
    rankings.to_parquet(tmp_path / "r.parquet")
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    data = ui_data.read_source(
        "parquet",
        {"properties": f" {tmp_path / 'p.parquet'} ", "rankings": str(tmp_path / "r.parquet")},
        settings,
    )
    assert len(data.rankings) == len(rankings)
    with pytest.raises(SourceError, match="there is no file"):
        ui_data.read_source(
            "parquet", {"properties": "nope.parquet", "rankings": "nope.parquet"}, settings
        )
    with pytest.raises(ValueError, match="pick one of"):
        ui_data.read_source("ftp", {}, settings)


def test_adopting_drops_flagged_rows_and_saves(tmp_path):
    properties, rankings = make_tables()
    properties.loc[3, "tempo"] = 0.0  # outside the plausible range: flagged, droppable
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    candidate = ui_data.read_source("parquet", _write(tmp_path, properties, rankings), settings)
    assert sum(candidate.report.droppable.values()) == 1
    adopted = ui_data.adopt(settings, candidate)
    assert len(adopted.properties) == len(properties) - 1
    assert "1 rows with problems dropped" in current_info(settings)["source"]
    assert len(load_current(settings).properties) == len(properties) - 1


def _write(folder, properties, rankings) -> dict:
    properties.to_parquet(folder / "p.parquet")
    rankings.to_parquet(folder / "r.parquet")
    return {"properties": str(folder / "p.parquet"), "rankings": str(folder / "r.parquet")}
