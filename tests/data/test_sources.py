"""Every source returns the same validated tables, and a wrong file says which and why."""

from __future__ import annotations

import functools
import io
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from jukebox.config import load_settings
from jukebox.data.sources import (
    KAGGLE_COLUMNS,
    SourceError,
    load_kaggle_csv,
    load_parquet,
    load_s3,
    load_synthetic,
    load_upload,
)
from jukebox.data.validation import ValidationError
from tests.ports import free_port


def write_tables(data, directory):
    directory.mkdir(parents=True, exist_ok=True)
    properties, rankings = directory / "props.parquet", directory / "ranks.parquet"
    data.properties.to_parquet(properties, index=False)
    data.rankings.to_parquet(rankings, index=False)
    return properties, rankings


def assert_same_tables(loaded, data):
    pd.testing.assert_frame_equal(loaded.properties, data.properties)
    pd.testing.assert_frame_equal(loaded.rankings, data.rankings)
    assert loaded.report.ok


class Upload(io.BytesIO):
    """What st.file_uploader hands over: bytes with a file name."""

    def __init__(self, content: bytes, name: str):
        super().__init__(content)
        self.name = name


# --- synthetic and parquet -------------------------------------------------------------------


def test_synthetic_source_is_the_generator():
    data = load_synthetic(300, seed=7, n_days=21)
    assert data.source == "synthetic (seed 7, 300 songs)" and data.bayes_accuracy is not None


def test_parquet_from_paths(small, tmp_path):
    properties, rankings = write_tables(small, tmp_path)
    loaded = load_parquet(str(properties), rankings)
    assert_same_tables(loaded, small)
    assert str(properties) in loaded.source and loaded.bayes_accuracy is None


@pytest.fixture()
def http_dir(tmp_path):
    """A plain HTTP server on 127.0.0.1 serving tmp_path; yields its base URL."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_parquet_from_urls(small, http_dir):
    directory, base = http_dir
    write_tables(small, directory)
    loaded = load_parquet(f"{base}/props.parquet", f"{base}/ranks.parquet?X-Amz-Signature=abc123")
    assert_same_tables(loaded, small)
    assert "abc123" not in loaded.source and "ranks.parquet" in loaded.source
    with pytest.raises(SourceError, match=r"song_rankings: .*nothing\.parquet answered 404"):
        load_parquet(f"{base}/props.parquet", f"{base}/nothing.parquet")


def test_parquet_errors_name_the_file(small, tmp_path):
    properties, rankings = write_tables(small, tmp_path)
    with pytest.raises(SourceError, match=r"song_properties: there is no file .*missing\.parquet"):
        load_parquet(tmp_path / "missing.parquet", rankings)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"this is not parquet at all")
    with pytest.raises(
        SourceError, match=r"song_rankings: .*garbage\.parquet is not a Parquet"
    ) as bad:
        load_parquet(properties, garbage)
    said = str(bad.value)  # a whole sentence of ours, none of pyarrow's words cut off mid-way
    assert said.endswith("(ending in .csv).") and "Arrow" not in said and "magic" not in said
    # Swapped files read fine but fail validation, naming the file and the missing columns.
    with pytest.raises(ValidationError) as caught:
        load_parquet(rankings, properties)
    message = str(caught.value)
    assert "song_properties (" in message and "ranks.parquet" in message
    assert "danceability" in message


# --- object storage --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def s3_settings(home, endpoint, bucket="songs", secret="very-secret-value"):
    return load_settings(
        {
            "JUKEBOX_HOME": str(home),
            "AWS_S3_ENDPOINT": endpoint,
            "AWS_ACCESS_KEY_ID": "test-key",
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_S3_BUCKET": bucket,
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )


def test_s3_through_a_real_s3_server(small, tmp_path, moto_endpoint):
    import boto3

    settings = s3_settings(tmp_path, moto_endpoint)
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id="test-key",
        aws_secret_access_key="very-secret-value",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="songs")
    properties, rankings = write_tables(small, tmp_path / "files")
    client.upload_file(str(properties), "songs", "data/song_properties.parquet")
    client.upload_file(str(rankings), "songs", "data/song_rankings.parquet")

    loaded = load_s3("data/song_properties.parquet", "data/song_rankings.parquet", settings)
    assert_same_tables(loaded, small)
    assert "s3://songs/data/song_properties.parquet" in loaded.source
    assert "very-secret-value" not in loaded.source

    with pytest.raises(SourceError) as caught:
        load_s3("data/song_properties.parquet", "data/absent.parquet", settings)
    assert "song_rankings" in str(caught.value) and "absent.parquet" in str(caught.value)
    with pytest.raises(SourceError, match="bucket 'elsewhere' does not exist") as caught:
        load_s3("a", "b", s3_settings(tmp_path, moto_endpoint, bucket="elsewhere"))
    assert "very-secret-value" not in str(caught.value)


@pytest.mark.slow  # waits for an unreachable S3 endpoint
def test_s3_unreachable_endpoint_says_so(tmp_path):
    settings = s3_settings(tmp_path, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(SourceError, match="Cannot reach the S3 endpoint"):
        load_s3("a.parquet", "b.parquet", settings)


def test_embedded_object_store_without_an_endpoint(small, home):
    bucket = home.storage_dir / home.s3_bucket
    write_tables(small, bucket / "data")
    loaded = load_s3("data/props.parquet", "/data/ranks.parquet", home)
    assert_same_tables(loaded, small)
    with pytest.raises(SourceError, match="no object 'data/other.parquet'"):
        load_s3("data/other.parquet", "data/ranks.parquet", home)


# --- the Kaggle CSV --------------------------------------------------------------------------


def kaggle_frame(small) -> pd.DataFrame:
    """Kaggle-shaped rows from a generated set, plus the global chart and its own song."""
    rows = small.rankings.merge(small.properties.drop(columns=["name", "artists"]))
    rows = rows.assign(snapshot_date=rows["snapshot_date"].dt.strftime("%Y-%m-%d"))
    global_chart = rows.iloc[:30].assign(country="")
    only_global = rows.iloc[[0]].assign(country="", spotify_id="OnlyInTheGlobalChart00")
    frame = pd.concat([rows, global_chart, only_global], ignore_index=True)
    return frame[list(KAGGLE_COLUMNS)].sample(frac=1, random_state=0)


def test_kaggle_csv_is_split_into_the_two_tables(small, tmp_path):
    path = tmp_path / "universal_top_spotify_songs.csv"
    kaggle_frame(small).to_csv(path, index=False)
    loaded = load_kaggle_csv(path)
    assert loaded.report.ok
    assert loaded.report.count("global_chart") == 31
    assert "31 rows of the global chart" in loaded.report.summary()
    assert len(loaded.rankings) == len(small.rankings)
    assert set(loaded.rankings["country"]) == set(small.rankings["country"])
    assert "OnlyInTheGlobalChart00" not in set(loaded.properties["spotify_id"])
    charted = small.properties[small.properties["spotify_id"].isin(small.rankings["spotify_id"])]
    assert set(loaded.properties["spotify_id"]) == set(charted["spotify_id"])
    mine = loaded.properties.set_index("spotify_id").sort_index()
    expected = charted.set_index("spotify_id").sort_index()
    pd.testing.assert_series_equal(mine["danceability"], expected["danceability"])
    first_day = small.rankings.groupby("spotify_id")["snapshot_date"].min().sort_index()
    assert (mine["event_timestamp"] == first_day).all()


def test_kaggle_csv_keeps_namibia_and_reads_buffers(small):
    frame = kaggle_frame(small)
    frame.loc[frame["country"] == frame["country"].iloc[0], "country"] = "NA"
    buffer = io.StringIO(frame.to_csv(index=False))
    loaded = load_kaggle_csv(buffer, name="kaggle.csv")
    assert "NA" in set(loaded.rankings["country"])
    assert loaded.source == "Kaggle CSV: kaggle.csv"


def test_a_csv_that_is_not_kaggles_says_what_it_lacks(tmp_path):
    path = tmp_path / "other.csv"
    pd.DataFrame({"spotify_id": ["x"], "country": ["DE"]}).to_csv(path, index=False)
    with pytest.raises(SourceError, match=r"other\.csv: not the Kaggle .* lacks name, artists"):
        load_kaggle_csv(path)
    with pytest.raises(SourceError, match="no such file"):
        load_kaggle_csv(tmp_path / "absent.csv")


# --- uploads ----------------------------------------------------------------------------------


def test_upload_of_two_parquet_files_in_either_order(small, tmp_path):
    properties, rankings = write_tables(small, tmp_path)
    first = Upload(properties.read_bytes(), "song_properties.parquet")
    second = Upload(rankings.read_bytes(), "song_rankings.parquet")
    assert_same_tables(load_upload(first, second), small)
    first.seek(0), second.seek(0)
    assert_same_tables(load_upload(second, first), small)


def test_upload_of_csv_tables(small):
    properties = Upload(small.properties.to_csv(index=False).encode(), "p.csv")
    rankings = Upload(small.rankings.to_csv(index=False).encode(), "r.csv")
    loaded = load_upload(properties, rankings)
    assert loaded.report.ok
    pd.testing.assert_frame_equal(loaded.rankings, small.rankings)
    assert (loaded.properties["is_explicit"] == small.properties["is_explicit"]).all()


def test_upload_of_one_kaggle_csv(small):
    upload = Upload(kaggle_frame(small).to_csv(index=False).encode(), "kaggle.csv")
    loaded = load_upload(upload)
    assert len(loaded.rankings) == len(small.rankings)


def test_upload_mistakes_are_explained(small):
    lonely = Upload(small.properties.to_csv(index=False).encode(), "songs.csv")
    with pytest.raises(SourceError, match=r"songs\.csv: one file alone must be the Kaggle CSV"):
        load_upload(lonely)
    broken = Upload(b"\x00\x01 not a table", "table.parquet")
    rankings = Upload(small.rankings.to_csv(index=False).encode(), "r.csv")
    with pytest.raises(
        SourceError, match=r"table\.parquet is not a Parquet file, or a damaged one: save the table"
    ):
        load_upload(broken, rankings)
    with pytest.raises(SourceError, match="empty"):
        load_upload(Upload(b"", "nothing.csv"), rankings)
