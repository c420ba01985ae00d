"""Where song data comes from. Every source returns the same two validated tables, a SongData.

- ``load_synthetic``: the generated offline default;
- ``load_parquet``: the workshop's two parquet files, by path or http(s) URL;
- ``load_s3``: the two files as objects in the configured bucket (S3/MinIO through boto3, or the
  embedded object store folder when no endpoint is set);
- ``load_kaggle_csv``: the Kaggle "Top Spotify Songs in 73 Countries" CSV, split into the tables;
- ``load_upload``: files a user uploads in the app (parquet or CSV, or one Kaggle CSV).

``load_source`` picks one of them by name, with its parameters as a page's form or the CLI's
flags give them.

A file that cannot be used raises ``SourceError`` (cannot be read at all) or ``ValidationError``
(read, but the tables are wrong), each with a message naming the file and saying what is wrong.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from jukebox.config import Settings
from jukebox.data.schema import (
    FEATURES,
    KEY,
    LABEL,
    PROPERTIES_COLUMNS,
    PROPERTIES_TABLE,
    RANKINGS_COLUMNS,
    RANKINGS_TABLE,
)
from jukebox.data.songdata import SongData, song_data
from jukebox.data.validation import Finding, ValidationError, ValidationReport
from jukebox.errors import JukeboxError

__all__ = [
    "KAGGLE_COLUMNS",
    "SongData",
    "SourceError",
    "ValidationError",
    "SOURCE_KINDS",
    "Unreachable",
    "load_kaggle_csv",
    "load_parquet",
    "load_s3",
    "load_song_list",
    "load_source",
    "load_synthetic",
    "load_upload",
]

KAGGLE_COLUMNS = (
    "spotify_id", "name", "artists", "daily_rank", "daily_movement", "weekly_movement",
    "country", "snapshot_date", "popularity", "is_explicit", "duration_ms", "album_name",
    "album_release_date", "danceability", "energy", "key", "loudness", "mode", "speechiness",
    "acousticness", "instrumentalness", "liveness", "valence", "tempo", "time_signature",
)  # fmt: skip
"""Columns of the Kaggle "Top Spotify Songs in 73 Countries (Daily Updated)" CSV."""

HTTP_TIMEOUT = 60

WORKSHOP_DATA_URL = "https://github.com/rhoai-mlops/jukebox/raw/main/99-data_prep"
WORKSHOP_PROPERTIES_URL = f"{WORKSHOP_DATA_URL}/song_properties.parquet"
WORKSHOP_RANKINGS_URL = f"{WORKSHOP_DATA_URL}/song_rankings.parquet"
"""The workshop's public data: about 14,000 real songs and their charts (the Kaggle set)."""

SOURCE_KINDS: dict[str, str] = {
    "synthetic": "Synthetic",
    "parquet": "Parquet (path or URL)",
    "s3": "S3 objects",
    "kaggle": "Kaggle CSV",
    "upload": "Upload files",
}
"""The sources :func:`load_source` knows, with the name a person reads."""


class SourceError(JukeboxError, ValueError):
    """A source could not be read; the message names the file and what to do."""


def load_source(kind: str, params: dict[str, Any], settings: Settings) -> SongData:
    """Read and validate a data set from one of the :data:`SOURCE_KINDS`; nothing is saved.

    ``params`` are that source's: ``songs``, ``seed`` and ``days`` (synthetic); ``properties``
    and ``rankings`` (paths or URLs for parquet, keys for S3, files for an upload); ``file``
    (a Kaggle CSV path or file). Raises ``SourceError`` when the source cannot be read and
    ``ValidationError`` when its tables cannot be used, each saying what to fix.
    """
    if kind == "synthetic":
        return load_synthetic(int(params["songs"]), int(params["seed"]), n_days=int(params["days"]))
    if kind == "parquet":
        return load_parquet(str(params["properties"]).strip(), str(params["rankings"]).strip())
    if kind == "s3":
        return load_s3(params["properties"], params["rankings"], settings)
    if kind == "kaggle":
        file = params["file"]
        return load_kaggle_csv(file, name=getattr(file, "name", None))
    if kind == "upload":
        return load_upload(params["properties"], params.get("rankings"))
    raise SourceError(f"Unknown source {kind!r}; pick one of {', '.join(SOURCE_KINDS)}.")


def load_synthetic(n_songs: int | None = None, seed: int = 0, **options: Any) -> SongData:
    """The synthetic data set (see ``jukebox.data.synthetic.generate`` for the options)."""
    from jukebox.data.synthetic import DEFAULT_SONGS, generate

    return generate(DEFAULT_SONGS if n_songs is None else n_songs, seed, **options)


def load_parquet(properties: str | Path, rankings: str | Path) -> SongData:
    """The two workshop parquet files, each a local path or an http(s) URL.

    A URL's user, password and query (a presigned URL's signature) never appear in the source
    description or in messages.
    """
    tables = {
        table: _read_bytes_table(_fetch(location, table), _shown(location), table, "parquet")
        for table, location in ((PROPERTIES_TABLE, properties), (RANKINGS_TABLE, rankings))
    }
    return song_data(
        tables[PROPERTIES_TABLE],
        tables[RANKINGS_TABLE],
        f"parquet: {_shown(properties)} + {_shown(rankings)}",
        properties_where=_shown(properties),
        rankings_where=_shown(rankings),
    )


def _shown(location: str | Path) -> str:
    """A location fit to show: URLs lose any user, password and query string."""
    text = str(location).strip()
    if not text.startswith(("http://", "https://")):
        return text
    parts = urlsplit(text)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def load_s3(properties_key: str, rankings_key: str, settings: Settings) -> SongData:
    """The two tables as parquet (or CSV) objects in the configured bucket.

    With ``AWS_S3_ENDPOINT`` set this is S3 or MinIO through boto3; otherwise the embedded object
    store folder under ``JUKEBOX_HOME``. Error messages name endpoint, bucket and key, never a
    credential.
    """
    from jukebox.storage import StorageError, open_store

    store = open_store(settings)
    tables = {}
    for table, key in ((PROPERTIES_TABLE, properties_key), (RANKINGS_TABLE, rankings_key)):
        key = key.strip().lstrip("/")
        if not key:
            raise SourceError(f"{table}: give the key of the object to read.")
        try:
            content = store.get_bytes(key)
        except StorageError as error:
            raise SourceError(f"{table}: {error}") from None
        if content is None:
            raise SourceError(
                f"{table}: there is no object {key!r} in {store.uri('')}: check the key "
                "(and AWS_S3_BUCKET)."
            )
        tables[table] = _read_bytes_table(content, store.uri(key), table)
    return song_data(
        tables[PROPERTIES_TABLE],
        tables[RANKINGS_TABLE],
        f"object storage: {store.uri(properties_key)} + {store.uri(rankings_key)}",
        properties_where=properties_key,
        rankings_where=rankings_key,
    )


def load_kaggle_csv(path_or_buffer: str | Path | IO, name: str | None = None) -> SongData:
    """The Kaggle CSV split into the two tables.

    Rows with no country are the global chart, not a country: they are set aside (the report says
    how many). A song's properties come from its latest row; its ``event_timestamp`` is the first
    day it charted.
    """
    where = name or _name_of(path_or_buffer) or "Kaggle CSV"
    frame = _read_csv(path_or_buffer, where)
    return _split_kaggle(frame, where)


def load_upload(properties_file: IO, rankings_file: IO | None = None) -> SongData:
    """Files from the app's uploader: the two tables (parquet or CSV by name), or one Kaggle CSV."""
    first_name = _name_of(properties_file) or "uploaded file"
    first = _read_upload(properties_file, first_name)
    if rankings_file is None:
        if _looks_like_kaggle(first):
            return _split_kaggle(first, first_name)
        raise SourceError(
            f"{first_name}: one file alone must be the Kaggle CSV (columns "
            f"{', '.join(KAGGLE_COLUMNS[:4])}, …); otherwise upload song_rankings too."
        )
    second_name = _name_of(rankings_file) or "uploaded file"
    second = _read_upload(rankings_file, second_name)
    # People mix up the two uploaders; the columns say which table is which.
    if _is_rankings(first) and not _is_rankings(second):
        first, second = second, first
        first_name, second_name = second_name, first_name
    return song_data(
        first,
        second,
        f"upload: {first_name} + {second_name}",
        properties_where=first_name,
        rankings_where=second_name,
    )


def _split_kaggle(frame: pd.DataFrame, where: str) -> SongData:
    missing = [c for c in KAGGLE_COLUMNS if c not in frame.columns]
    if missing:
        raise SourceError(
            f"{where}: not the Kaggle 'Top Spotify Songs in 73 Countries' CSV, it lacks "
            f"{', '.join(missing)}."
        )
    country = frame[LABEL].astype("str").str.strip()
    is_global = frame[LABEL].isna() | (country == "")
    charts = frame.loc[~is_global].assign(**{LABEL: country[~is_global]})
    if charts.empty:
        raise SourceError(f"{where}: every row is the global chart; no country rows to learn from.")
    day = pd.to_datetime(charts["snapshot_date"], errors="coerce", format="mixed")
    charts = charts.assign(_day=day).sort_values("_day", kind="stable")
    first_day = charts.groupby(KEY, sort=False)["_day"].min()
    songs = charts.drop_duplicates(KEY, keep="last")
    properties = songs[[c for c in PROPERTIES_COLUMNS if c != "event_timestamp"]].assign(
        event_timestamp=songs[KEY].map(first_day).to_numpy()
    )[list(PROPERTIES_COLUMNS)]
    rankings = charts[list(RANKINGS_COLUMNS)]
    n_global = int(is_global.sum())
    extra = ValidationReport(
        (
            Finding(
                RANKINGS_TABLE,
                "info",
                "global_chart",
                LABEL,
                n_global,
                f"{where}: set aside {n_global:,} rows of the global chart (no country); "
                "they are not a country.",
            ),
        )
        if n_global
        else ()
    )
    return song_data(
        properties.reset_index(drop=True),
        rankings.reset_index(drop=True),
        f"Kaggle CSV: {where}",
        properties_where=f"{where}, songs",
        rankings_where=f"{where}, chart rows",
        extra=extra,
    )


def _looks_like_kaggle(frame: pd.DataFrame) -> bool:
    return {"daily_rank", LABEL, *FEATURES} <= set(frame.columns)


def _is_rankings(frame: pd.DataFrame) -> bool:
    return "daily_rank" in frame.columns and "danceability" not in frame.columns


def _name_of(source: object) -> str | None:
    if isinstance(source, str | Path):
        return str(source)
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, str) else None


def load_song_list(location: str | Path, timeout: float = HTTP_TIMEOUT) -> pd.DataFrame:
    """A ``song_properties`` table (path or http(s) URL) read as a list of songs to pick from,
    not as a data set: nothing is validated beyond being a readable table.

    Raises ``SourceError`` saying why it could not be read; a connection that fails (no
    internet) is told apart from a server that answers with an error.
    """
    return _read_bytes_table(
        _fetch(location, PROPERTIES_TABLE, timeout), _shown(location), PROPERTIES_TABLE, "parquet"
    )


class Unreachable(SourceError):
    """An http(s) source that could not be reached at all: no connection, DNS or timeout."""


def _fetch(location: str | Path, table: str, timeout: float = HTTP_TIMEOUT) -> bytes:
    """The bytes of a local file or an http(s) URL, or a SourceError saying why not."""
    text = str(location).strip()
    if text.startswith(("http://", "https://")):
        import requests

        try:
            response = requests.get(text, timeout=timeout)
        except requests.RequestException as error:
            raise Unreachable(
                f"{table}: cannot download {_shown(text)} ({type(error).__name__}); check the "
                "URL and that the server is reachable."
            ) from None
        if response.status_code != 200:
            raise SourceError(
                f"{table}: {_shown(text)} answered {response.status_code} {response.reason}; "
                "check the URL."
            )
        return response.content
    path = Path(text).expanduser()
    if not path.is_file():
        raise SourceError(f"{table}: there is no file {path}; check the path.")
    try:
        return path.read_bytes()
    except OSError as error:
        raise SourceError(f"{table}: cannot read {path} ({error.strerror}).") from None


def _read_upload(file: IO, name: str) -> pd.DataFrame:
    content = file.getvalue() if hasattr(file, "getvalue") else file.read()
    if isinstance(content, str):
        content = content.encode()
    return _read_bytes_table(content, name, "uploaded file")


def _read_bytes_table(
    content: bytes, where: str, table: str, expected: str | None = None
) -> pd.DataFrame:
    """Parquet or CSV by the name's extension, else by content (parquet files start 'PAR1')."""
    if not content:
        raise SourceError(f"{table}: {where} is empty.")
    lower = where.lower().split("?")[0]
    if expected == "parquet" or lower.endswith((".parquet", ".pq")):
        kind = "parquet"
    elif lower.endswith((".csv", ".csv.gz", ".txt")):
        kind = "csv"
    else:
        kind = "parquet" if content[:4] == b"PAR1" else "csv"
    if kind == "parquet":
        try:
            return pd.read_parquet(io.BytesIO(content))
        except Exception:  # noqa: BLE001 - pyarrow raises many kinds, in words of its own
            raise SourceError(
                f"{table}: {where} is not a Parquet file, or a damaged one: save the table as "
                "Parquet again, or give it as a CSV file (ending in .csv)."
            ) from None
    compression = "gzip" if lower.endswith(".gz") else None
    return _read_csv(io.BytesIO(content), f"{where}", compression=compression)


def _read_csv(
    source: str | Path | IO, where: str, compression: str | None = "infer"
) -> pd.DataFrame:
    try:
        # Only empty fields are missing: "NA" is Namibia's code, not a gap.
        return pd.read_csv(
            source,
            keep_default_na=False,
            na_values=[""],
            dtype={KEY: "str", LABEL: "str"},
            compression=compression,
        )
    except FileNotFoundError:
        raise SourceError(f"{where}: there is no such file; check the path.") from None
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise SourceError(
            f"{where}: is not a readable CSV file ({type(error).__name__}: {str(error)[:120]})."
        ) from None
