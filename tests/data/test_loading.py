"""load_source reads each kind of source the pages and the CLI offer; adopt replaces the current
data set, dropping the rows validation flagged."""

import io

import pandas as pd
import pytest

from jukebox.config import load_settings
from jukebox.data.sources import KAGGLE_COLUMNS, SourceError, load_source
from jukebox.data.store import adopt, current_info, load_current
from tests.ui.tables import make_tables, naive_merge


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
    data = load_source(
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
    data = load_source(
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
    data = load_source(
        "parquet",
        {"properties": f" {tmp_path / 'p.parquet'} ", "rankings": str(tmp_path / "r.parquet")},
        settings,
    )
    assert len(data.rankings) == len(rankings)
    with pytest.raises(SourceError, match="there is no file"):
        load_source("parquet", {"properties": "nope.parquet", "rankings": "nope.parquet"}, settings)
    with pytest.raises(SourceError, match="pick one of"):
        load_source("ftp", {}, settings)


def test_adopting_drops_flagged_rows_and_saves(tmp_path):
    properties, rankings = make_tables()
    properties.loc[3, "tempo"] = 0.0  # outside the plausible range: flagged, droppable
    settings = load_settings({"JUKEBOX_HOME": str(tmp_path)})
    candidate = load_source("parquet", _write(tmp_path, properties, rankings), settings)
    assert sum(candidate.report.droppable.values()) == 1
    adopted = adopt(candidate, settings)
    assert len(adopted.properties) == len(properties) - 1
    assert "1 rows with problems dropped" in current_info(settings)["source"]
    assert len(load_current(settings).properties) == len(properties) - 1


def _write(folder, properties, rankings) -> dict:
    properties.to_parquet(folder / "p.parquet")
    rankings.to_parquet(folder / "r.parquet")
    return {"properties": str(folder / "p.parquet"), "rankings": str(folder / "r.parquet")}
