"""The pipeline validates as `data load` and the page do: the same rows dropped, the same
sentences for tables that cannot be used (the tasks' own functions, called as a component's
body calls them; no TensorFlow involved)."""

from __future__ import annotations

import pandas as pd
import pytest

from jukebox.data.merge import merge_tables
from jukebox.data.preparation import prepare
from jukebox.data.schema import CHART_COUNTRIES
from jukebox.data.songdata import song_data
from jukebox.data.sources import load_parquet
from jukebox.data.store import clean_flagged, read_prepared, write_data_dir
from jukebox.data.synthetic import generate
from jukebox.data.validation import ValidationError
from jukebox.pipelines import tasks


@pytest.fixture(autouse=True)
def _as_on_a_cluster(monkeypatch):
    """No local run record: a task ends as on a cluster, with its sentence on stderr."""
    monkeypatch.delenv(tasks.RUN_DIR_ENV, raising=False)


@pytest.fixture(scope="module")
def songs():
    return generate(300, 3, n_days=20, countries=CHART_COUNTRIES[:6])


def test_flagged_rows_are_dropped_as_data_load_drops_them(songs, tmp_path):
    """The tester's case: danceability ×100 for some songs. `data load` drops them; so must the
    pipeline's validate-and-prepare, not train on them."""
    properties = songs.properties.copy()
    spoiled = properties.index[:25]
    properties.loc[spoiled, "danceability"] *= 100
    folder = tmp_path / "data"
    write_data_dir(song_data(properties, songs.rankings, "spoiled"), folder)

    metrics: dict[str, float] = {}
    prepared_dir = tmp_path / "prepared"
    tasks.validate_and_prepare(str(folder), {"seed": 0}, str(prepared_dir), metrics.__setitem__)

    tables = (folder / "song_properties.parquet", folder / "song_rankings.parquet")
    loaded = clean_flagged(load_parquet(*tables))
    assert loaded.n_songs <= songs.n_songs - 25  # what `data load` keeps
    expected = prepare(merge_tables(loaded.properties, loaded.rankings), seed=0)
    prepared = read_prepared(prepared_dir)
    assert prepared.sizes() == expected.sizes()
    assert metrics["flagged_rows"] >= 25
    assert metrics["songs"] == loaded.n_songs


@pytest.mark.parametrize(
    ("spoil", "named"),
    [
        (lambda p: p.drop(columns=["danceability"]), "danceability"),
        (lambda p: p.assign(energy=float("nan")), "energy"),
    ],
)
def test_tables_that_data_load_refuses_fail_the_pipeline_with_its_sentence(
    songs, tmp_path, capsys, spoil, named
):
    folder = tmp_path / "data"
    folder.mkdir()
    spoil(songs.properties).to_parquet(folder / "song_properties.parquet", index=False)
    songs.rankings.to_parquet(folder / "song_rankings.parquet", index=False)
    with pytest.raises(ValidationError) as by_load:
        clean_flagged(
            load_parquet(folder / "song_properties.parquet", folder / "song_rankings.parquet")
        )
    with pytest.raises(SystemExit):  # a task ends with the sentence, as on a cluster
        tasks.validate_and_prepare(str(folder), {}, str(tmp_path / "prepared"), lambda *_: None)
    said = capsys.readouterr().err
    assert named in said and "Traceback" not in said
    assert f"error: {by_load.value}" in said  # word for word what `data load` says
    assert not (tmp_path / "prepared").exists()


def test_a_spoiled_table_keeps_its_rows_in_the_pipelines_input(songs, tmp_path):
    """Dropping happens in the task, on its copy: the data artifact it was given is unchanged."""
    properties = songs.properties.copy()
    properties.loc[properties.index[:5], "danceability"] = 3.0
    folder = tmp_path / "data"
    write_data_dir(song_data(properties, songs.rankings, "spoiled"), folder)
    tasks.validate_and_prepare(str(folder), {}, str(tmp_path / "prepared"), lambda *_: None)
    assert len(pd.read_parquet(folder / "song_properties.parquet")) == len(properties)
