"""Helpers of the data-version tests: small data sets, known changes, a moto S3 server."""

from __future__ import annotations

import subprocess

import boto3
import numpy as np
import pandas as pd
from moto.server import ThreadedMotoServer

from jukebox.data.schema import CHART_COUNTRIES, KEY
from jukebox.data.songdata import SongData, song_data

ACCESS_KEY = "versions-access-key"
SECRET_KEY = "versions-secret-key-never-shown"


def small_set(seed: int = 1) -> SongData:
    from jukebox.data.synthetic import generate

    return generate(300, seed, n_days=10, countries=CHART_COUNTRIES[:8])


def changed(data: SongData, *, appended: int = 20, dropped: int = 50, perturbed: int = 10):
    """``data`` with ``appended`` new songs, ``dropped`` chart rows removed and the danceability
    of ``perturbed`` songs raised by 0.2: a change whose diff is known exactly."""
    extra = small_set(seed=99).properties.head(appended)
    properties = pd.concat([data.properties, extra], ignore_index=True)
    bumped = data.properties[KEY].iloc[:perturbed].tolist()
    rows = properties[KEY].isin(bumped)
    properties.loc[rows, "danceability"] = (properties.loc[rows, "danceability"] + 0.2).clip(0, 1)
    rankings = data.rankings.drop(index=data.rankings.index[-dropped:]).reset_index(drop=True)
    new = song_data(properties, rankings, "changed")
    truly_bumped = [
        song
        for song in bumped
        if not np.isclose(
            data.properties.set_index(KEY).at[song, "danceability"],
            new.properties.set_index(KEY).at[song, "danceability"],
        )
    ]
    return new, extra[KEY].tolist(), truly_bumped


def git(repo, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, capture_output=True, text=True, check=True
    ).stdout


def s3_client(endpoint: str):
    """A boto3 S3 client for the moto server at ``endpoint``, with the tests' credentials."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )


def start_moto() -> tuple[ThreadedMotoServer, str]:
    """A moto S3 server on 127.0.0.1 (any free port) with the buckets ``data`` and
    ``data-cache``; the caller stops it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = s3_client(endpoint)
    for bucket in ("data", "data-cache"):
        client.create_bucket(Bucket=bucket)
    return server, endpoint


def s3_keys(endpoint: str, bucket: str) -> list[str]:
    client = s3_client(endpoint)
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
