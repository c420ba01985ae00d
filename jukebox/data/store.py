"""A data set as a directory, and the current one under ``JUKEBOX_HOME/data``.

A data set directory holds three files: ``song_properties.parquet``, ``song_rankings.parquet``
and ``dataset.json`` (source, seed, Bayes ceiling, sizes, creation time, each file's size and
sha256). Writing puts every file in a temporary directory first and moves them in only once all
are written, ``dataset.json`` last, so a failed write leaves the previous data set as it was.

The current data set (what the app, the CLI and training use) is one such directory; so is the
copy a page hands to a background training (``Settings.staging_dir``). Parquet and JSON only:
reading never executes code.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from jukebox.config import Settings, refuse_embedded
from jukebox.data.preprocessing import Preprocessing
from jukebox.data.schema import KEY, LABEL, PROPERTIES_TABLE, RANKINGS_TABLE
from jukebox.data.songdata import SongData, song_data
from jukebox.data.validation import Finding, ValidationError, ValidationReport, clean
from jukebox.errors import JukeboxError

if TYPE_CHECKING:
    from jukebox.data.preparation import Prepared

PROPERTIES_FILE = f"{PROPERTIES_TABLE}.parquet"
RANKINGS_FILE = f"{RANKINGS_TABLE}.parquet"
INFO_FILE = "dataset.json"


class NoDataError(JukeboxError, FileNotFoundError):
    """There is no usable current data set; the message says how to make one."""


def write_data_dir(data: SongData, directory: Path) -> dict:
    """Write ``data`` into ``directory``; returns what :func:`read_info` will read back."""
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=directory))
    try:
        data.properties.to_parquet(staging / PROPERTIES_FILE, index=False)
        data.rankings.to_parquet(staging / RANKINGS_FILE, index=False)
        info = {
            **data.summary(),
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "findings": [f.message for f in data.report.findings],
            "counts": asdict(data_counts(data)),
            "files": {
                name: {"bytes": (staging / name).stat().st_size, "sha256": _sha256(staging / name)}
                for name in (PROPERTIES_FILE, RANKINGS_FILE)
            },
        }
        (staging / INFO_FILE).write_text(json.dumps(info, indent=2, default=str))
        move_data_dir(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return info


def move_data_dir(source: Path, directory: Path) -> None:
    """Make the data set written in ``source`` (on the same file system) the one in
    ``directory``, as :func:`write_data_dir` finishes: each move an atomic rename, the JSON last,
    since it vouches for the two tables (read_data_dir checks their sizes against it)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in (PROPERTIES_FILE, RANKINGS_FILE, INFO_FILE):
        os.replace(source / name, directory / name)


@dataclass(frozen=True)
class DataCounts:
    """How big one data set is, each number named for what it counts, so every page says the
    same: as stored (the tables' rows), and after cleaning (what training and Explore use: the
    songs validation does not flag, and the chart entries of those songs that it does not flag).
    """

    songs: int
    chart_entries: int
    songs_after_cleaning: int
    chart_entries_after_cleaning: int
    charting_songs: int
    """Songs after cleaning with at least one chart entry (the songs a model learns from)."""

    @property
    def cleaning_drops(self) -> bool:
        return (self.songs, self.chart_entries) != (
            self.songs_after_cleaning,
            self.chart_entries_after_cleaning,
        )

    def brief(self) -> str:
        """The counts after cleaning in a few words, for a line about the data set."""
        return (
            f"{self.chart_entries_after_cleaning:,} chart entries and "
            f"{self.songs_after_cleaning:,} songs after cleaning"
        )

    def sentence(self) -> str:
        """The stored counts beside the cleaned ones, in words, for a caption or a help."""
        used = (
            f"{self.songs_after_cleaning:,} songs ({self.charting_songs:,} of them chart) and "
            f"{self.chart_entries_after_cleaning:,} chart entries after cleaning"
        )
        if not self.cleaning_drops:
            return f"{used}; cleaning drops nothing."
        return (
            f"{used}, what training and Explore use; as stored, {self.songs:,} songs and "
            f"{self.chart_entries:,} chart entries (the others have values validation flags, "
            "or no song to join)."
        )


def data_counts(data: SongData) -> DataCounts:
    """The :class:`DataCounts` of ``data``: the single place every page's counts come from.

    Cheap on a million rows: only a table whose validation flagged rows is cleaned again, and the
    chart entries are matched to the songs with Arrow."""
    import pyarrow as pa
    import pyarrow.compute as pc

    droppable = data.report.droppable
    properties, rankings = data.properties, data.rankings
    if droppable.get(PROPERTIES_TABLE):
        properties = clean(properties, PROPERTIES_TABLE).frame
    if droppable.get(RANKINGS_TABLE):
        rankings = clean(rankings, RANKINGS_TABLE).frame
    known = pa.array(properties[KEY].dropna().astype("str").unique())
    ids = pa.array(rankings[KEY].astype("str"), from_pandas=True)
    matched = pc.is_in(ids, value_set=known)
    charting = pc.is_in(known, value_set=pc.unique(ids.drop_null()))
    return DataCounts(
        songs=len(data.properties),
        chart_entries=len(data.rankings),
        songs_after_cleaning=len(properties),
        chart_entries_after_cleaning=int(pc.sum(matched).as_py() or 0),
        charting_songs=int(pc.sum(charting).as_py() or 0),
    )


def counts_of(info: dict | None) -> DataCounts | None:
    """The counts ``dataset.json`` recorded (None for one written before they were)."""
    counts = (info or {}).get("counts")
    try:
        return DataCounts(**counts) if isinstance(counts, dict) else None
    except TypeError:  # another version's fields: count again
        return None


def current_counts(settings: Settings) -> DataCounts | None:
    """The current data set's counts: recorded when it was saved, else counted (None when there
    is no data set)."""
    info = current_info(settings)
    if info is None:
        return None
    return counts_of(info) or data_counts(load_current(settings))


def save_current(data: SongData, settings: Settings) -> dict:
    """Make ``data`` the current data set as it is; returns its ``dataset.json``."""
    return write_data_dir(data, settings.data_dir)


def clean_flagged(data: SongData) -> SongData:
    """``data`` without the rows validation flagged as spoiling training; ``data`` itself when
    there are none.

    The source says how many rows were dropped, songs and chart rows apart. Cleaning that would
    leave a table without rows raises ``ValidationError`` naming the columns that emptied it
    (rather than the bare "the table has no rows" a later check would give).
    """
    report = data.report
    dropped = sum(report.droppable.values())
    if not dropped:
        return data
    properties = report.clean(data.properties, PROPERTIES_TABLE).frame
    rankings = report.clean(data.rankings, RANKINGS_TABLE).frame
    emptied = [
        _emptied(report, table)
        for table, frame in ((PROPERTIES_TABLE, properties), (RANKINGS_TABLE, rankings))
        if frame.empty
    ]
    if emptied:
        raise ValidationError(ValidationReport(tuple(emptied)))
    songs = len(data.properties) - len(properties)
    chart_rows = len(data.rankings) - len(rankings)
    return song_data(
        properties,
        rankings,
        f"{data.source}, {dropped:,} rows with problems dropped "
        f"({songs:,} songs, {chart_rows:,} chart rows)",
        bayes_accuracy=data.bayes_accuracy,
        seed=data.seed,
    )


def _emptied(report: ValidationReport, table: str) -> Finding:
    """The error for a table that cleaning leaves without a row: which findings did it."""
    causes = [f for f in report.warnings if f.table == table and f.dropped_by_clean]
    said = "; ".join(f"{f.kind.replace('_', ' ')} in {f.column} ({f.count:,})" for f in causes)
    return Finding(
        table,
        "error",
        "cleaned_empty",
        ", ".join(sorted({str(f.column) for f in causes})),
        report.rows.get(table, 0),
        f"{table}: every row has a problem that cleaning drops ({said}); fix those values, "
        "or use other tables.",
    )


def adopt(data: SongData, settings: Settings) -> SongData:
    """Make ``data`` the current data set, first dropping the rows validation flagged.

    What the Explore page's "use this data" and ``python -m jukebox data load`` both do, so the
    same file gives the same current data set either way. Returns the data set as saved.
    """
    data = clean_flagged(data)
    save_current(data, settings)
    return data


def read_info(directory: Path) -> dict | None:
    """What the data set in ``directory`` is, without loading it; None if there is none.

    Normally ``dataset.json``. Tables put in place without one (a DVC checkout, a copy by hand)
    are described from their parquet metadata and two columns, which is still cheap.
    """
    path = directory / INFO_FILE
    if path.is_file():
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            info = None
        if isinstance(info, dict):
            return info
    tables = [directory / PROPERTIES_FILE, directory / RANKINGS_FILE]
    if not all(table.is_file() for table in tables):
        return None
    return _describe_tables(*tables)


def read_data_dir(directory: Path) -> SongData:
    """The data set in ``directory``, validated again on reading."""
    paths = {name: directory / name for name in (PROPERTIES_FILE, RANKINGS_FILE)}
    missing = [name for name, path in paths.items() if not path.is_file()]
    if missing:
        raise NoDataError(
            f"No data set in {directory} ({', '.join(missing)} missing). "
            "Create one with `python -m jukebox data generate` or choose a source in the app."
        )
    info = read_info(directory) or {}
    for name, path in paths.items():
        expected = info.get("files", {}).get(name, {}).get("bytes")
        if expected is not None and path.stat().st_size != expected:
            raise NoDataError(
                f"{path} does not match {INFO_FILE} (a save was interrupted, or the table was "
                f"replaced by hand): remove {INFO_FILE} if you put the tables there yourself, "
                "or load or generate the data set again (`python -m jukebox data load|generate`)."
            )
    return song_data(
        _read_table(paths[PROPERTIES_FILE]),
        _read_table(paths[RANKINGS_FILE]),
        info.get("source") or f"parquet files in {directory}",
        properties_where=str(paths[PROPERTIES_FILE]),
        rankings_where=str(paths[RANKINGS_FILE]),
        bayes_accuracy=info.get("bayes_accuracy"),
        seed=info.get("seed"),
    )


def _read_table(path: Path) -> pd.DataFrame:
    """One table of a data set directory, or a NoDataError saying the file is not parquet."""
    try:
        return pd.read_parquet(path)
    except Exception:  # noqa: BLE001 - pyarrow raises many kinds, in words of its own
        raise NoDataError(
            f"{path} is not a Parquet file, or a damaged one: replace it with the table as "
            "Parquet, or load the data set again with `python -m jukebox data load`."
        ) from None


def content_id(info: dict | None) -> str | None:
    """One id of a data set's content, from the sha256 of its files: the same two tables always
    give the same id. What the registry records as the data version until DVC versions it."""
    files = (info or {}).get("files")
    if not files:
        return None
    listing = "".join(f"{name} {files[name]['sha256']}\n" for name in sorted(files))
    return "sha256:" + hashlib.sha256(listing.encode()).hexdigest()


def current_info(settings: Settings) -> dict | None:
    """What the current data set is, without loading it; None if there is none."""
    return read_info(settings.data_dir)


def load_current(settings: Settings) -> SongData:
    """The current data set, validated again on reading."""
    return read_data_dir(settings.data_dir)


def ensure_current(settings: Settings) -> SongData:
    """The current data set; the default synthetic one is generated and saved if there is none."""
    directory = settings.data_dir
    # Tables without dataset.json are still somebody's data: load them, never overwrite them.
    if all((directory / name).is_file() for name in (PROPERTIES_FILE, RANKINGS_FILE)):
        return load_current(settings)
    refuse_embedded(settings, "current data set")
    from jukebox.data.synthetic import generate

    data = generate()
    save_current(data, settings)
    return data


def fetch(kind: str, options: dict, settings: Settings) -> SongData:
    """The data set a pipeline run or a training names: ``current`` (this JUKEBOX_HOME's, made
    if there is none), ``directory`` (``options["path"]``, a data set directory), ``synthetic``
    (``songs``, ``seed``, ``days``, ``countries``), or any source :func:`load_source` reads."""
    from jukebox.data.sources import load_source

    if kind == "current":
        return ensure_current(settings)
    if kind == "directory":
        return read_data_dir(Path(options["path"]))
    if kind == "synthetic":
        from jukebox.data.schema import CHART_COUNTRIES
        from jukebox.data.synthetic import DEFAULT_SONGS, N_DAYS, generate

        countries = int(options.get("countries") or len(CHART_COUNTRIES))
        return generate(
            int(options.get("songs") or DEFAULT_SONGS),
            int(options.get("seed") or 0),
            n_days=int(options.get("days") or N_DAYS),
            countries=CHART_COUNTRIES[:countries],
        )
    return load_source(kind, options, settings)


def _describe_tables(properties: Path, rankings: Path) -> dict | None:
    import pyarrow.parquet as pq

    try:
        songs = pq.ParquetFile(properties).metadata.num_rows
        columns = pq.read_table(rankings, columns=["country", "snapshot_date"])
    except Exception:  # noqa: BLE001 - unreadable tables have no description; loading says why
        return None
    countries = columns.column("country").to_pandas().dropna()
    dates = columns.column("snapshot_date").to_pandas().dropna()
    return {
        "source": f"parquet files in {properties.parent}",
        "songs": songs,
        "ranking_rows": columns.num_rows,
        "countries": int(countries.nunique()),
        "first_date": dates.min().date().isoformat() if len(dates) else None,
        "last_date": dates.max().date().isoformat() if len(dates) else None,
        "bayes_accuracy": None,
        "seed": None,
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- Prepared splits, as a pipeline hands them from one step to the next ------------------------

PREPROCESSING_FILE = "preprocessing.json"
SPLIT_FILE = "split.json"
SPLITS = ("train", "validation", "test")
SONG_COLUMN = "song"


def write_prepared(prepared: Prepared, directory: Path) -> None:
    """Write the three splits (raw features and encoded label, parquet) and the preprocessing
    and split facts (JSON) into ``directory``: what a pipeline step passes to the next one."""
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train": (prepared.x_train, prepared.y_train, prepared.songs_train),
        "validation": (prepared.x_val, prepared.y_val, prepared.songs_val),
        "test": (prepared.x_test, prepared.y_test, None),
    }
    for split, (x, y, songs) in arrays.items():
        frame = pd.DataFrame(x, columns=list(prepared.features))
        frame[LABEL] = y
        if songs is not None:
            frame[SONG_COLUMN] = songs  # the song of each row: training goes song by song
        frame.to_parquet(directory / f"{split}.parquet", index=False)
    (directory / PREPROCESSING_FILE).write_text(prepared.preprocessing().to_json())
    (directory / SPLIT_FILE).write_text(json.dumps(prepared.summary(), indent=2))


def read_prepared(directory: Path) -> Prepared:
    """The splits :func:`write_prepared` wrote, as a :class:`Prepared` again."""
    from jukebox.data.preparation import Prepared

    preprocessing = Preprocessing.from_json((directory / PREPROCESSING_FILE).read_text())
    split = json.loads((directory / SPLIT_FILE).read_text())
    arrays = {}
    for name in SPLITS:
        frame = pd.read_parquet(directory / f"{name}.parquet")
        arrays[name] = (
            frame[list(preprocessing.features)].to_numpy(dtype="float32"),
            frame[LABEL].to_numpy(dtype="int64"),
            frame[SONG_COLUMN].to_numpy(dtype="int64") if SONG_COLUMN in frame else None,
        )
    return Prepared(
        features=preprocessing.features,
        labels=preprocessing.labels,
        x_train=arrays["train"][0],
        y_train=arrays["train"][1],
        x_val=arrays["validation"][0],
        y_val=arrays["validation"][1],
        x_test=arrays["test"][0],
        y_test=arrays["test"][1],
        minima=preprocessing.minima,
        maxima=preprocessing.maxima,
        test_from=pd.Timestamp(split["test_from"]),
        test_to=pd.Timestamp(split["test_to"]),
        seed=int(split["seed"]),
        notes=tuple(split.get("notes", ())),
        songs_train=arrays["train"][2],
        songs_val=arrays["validation"][2],
        validation_by=str(split.get("validation_by", "row")),
    )
