"""The payload log: every inference a model answered, on disk, bounded, as columns.

:class:`PayloadLog` is the serving data plane's :data:`~jukebox.serving.inference_log.
InferenceLogger`. Calling it only appends the record to an in-memory deque (O(1), never blocks,
never raises); a background thread turns what accumulated into one Arrow IPC file (a *segment*)
per model every ``flush_interval`` seconds, or sooner when ``flush_rows`` records wait. When the
serving side produces faster than the thread writes, the deque (``max_pending``) drops the oldest
records rather than grow or slow serving down. The thread builds each model's columns in bulk
(:func:`uniform_columns`: a few passes in C over all records, no Python code per record), as the
whole logging cost must stay under 5 % of one-row serving (about 5 µs a record); records shaped
unlike the rest take the general path (:func:`record_columns`, per schema).

A segment holds one row per inference row, in columns: :data:`META_COLUMNS` (request id, model,
version, time, tag), then one column per input and output. A tensor of width 1 (``[N, 1]`` or
``[N]``) is a column named by the tensor; a wider one ``[N, k]`` is ``k`` columns ``<name>-<i>``,
as the TrustyAI service names the columns of a matrix (``UploadUtils``, ``TensorConverter``).

The log is bounded by total bytes and by age, per model: whole segments are dropped, oldest first,
live ones (tag ``""``) before those holding tagged uploads (the ``TRAINING`` reference that drift
is measured against), which go only when no live segment is left. Segment names start with the
time they were written and carry the writer's pid, so several processes (a local inference server,
the monitoring service taking uploads) write into one model's folder without clashing, and the
reader merges them in time order.

Arrow IPC rather than Parquet: no encoding on the write path, memory-mapped zero-copy reads.
Never pickle: reading the log executes nothing.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import chain, count, groupby, islice
from operator import attrgetter, itemgetter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from jukebox.monitoring.paths import model_dir
from jukebox.serving.inference_log import InferenceRecord

ID, MODEL, VERSION, TIME, TAG = "_request_id", "_model", "_version", "_time", "_tag"
META_COLUMNS = (ID, MODEL, VERSION, TIME, TAG)
SEGMENTS = "segments"
SUFFIX = ".arrow"
DEFAULT_MAX_BYTES = 256 * 2**20
DEFAULT_MAX_AGE = 30 * 24 * 3600.0
_sequence = count()


@dataclass(frozen=True)
class Segment:
    """One segment file: when it was written (ms since the epoch), whether it holds tagged rows."""

    path: Path
    written_ms: int
    tagged: bool
    size: int

    @classmethod
    def of(cls, path: Path) -> Segment | None:
        parts = path.name[: -len(SUFFIX)].split("-")
        try:
            return cls(path, int(parts[0]), parts[-1] == "ref", path.stat().st_size)
        except (ValueError, IndexError, OSError):
            return None


def segments_dir(root: Path, model: str) -> Path:
    return model_dir(root, model) / SEGMENTS


def list_segments(root: Path, model: str) -> list[Segment]:
    """The model's segments, oldest first (an absent model has none)."""
    directory = segments_dir(root, model)
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(SUFFIX))
    except FileNotFoundError:
        return []
    found = (Segment.of(directory / name) for name in names)
    return [segment for segment in found if segment is not None]


def logged_models(root: Path) -> list[str]:
    """Models that have a payload log under ``root``."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / SEGMENTS).is_dir())


def tensor_columns(name: str, array: np.ndarray) -> dict[str, np.ndarray]:
    """One column per value of a row: ``name`` for width 1, else ``<name>-<i>`` (TrustyAI)."""
    array = np.asarray(array)
    if array.ndim <= 1:
        return {name: array.reshape(-1)}
    array = array.reshape(array.shape[0], -1)
    if array.shape[1] == 1:
        return {name: array[:, 0]}
    return {f"{name}-{i}": array[:, i] for i in range(array.shape[1])}


def record_columns(records: list[InferenceRecord], tag: str = "") -> dict[str, np.ndarray]:
    """The columns of records that share one schema (same input and output names)."""
    first = records[0]
    columns: dict[str, np.ndarray] = {}
    tensors: dict[str, np.ndarray] = {}
    for name in first.inputs:
        tensors[name] = np.concatenate([np.asarray(r.inputs[name]) for r in records])
    for name in first.outputs:
        tensors[name] = np.concatenate([np.asarray(r.outputs[name]) for r in records])
    rows = len(next(iter(tensors.values()))) if tensors else len(records)
    if rows == len(records):
        ids = [r.request_id for r in records]
        times = np.fromiter((r.time for r in records), dtype=np.float64, count=len(records))
        versions = [r.version for r in records]
    else:  # requests of several rows: each row carries its request's id, time and version
        per = [len(np.asarray(next(iter(r.inputs.values())))) for r in records]
        ids = np.repeat(np.array([r.request_id for r in records], dtype=object), per)
        times = np.repeat(np.array([r.time for r in records], dtype=np.float64), per)
        versions = np.repeat(np.array([r.version for r in records], dtype=object), per)
    columns[ID] = ids
    columns[MODEL] = [first.model] * rows
    columns[VERSION] = versions
    columns[TIME] = times
    columns[TAG] = [tag] * rows
    for name, array in tensors.items():
        columns.update(tensor_columns(name, array))
    return columns


def _schema_key(record: InferenceRecord) -> tuple:
    return (
        record.model,
        tuple(record.inputs),
        tuple((k, np.shape(v)[1:]) for k, v in record.outputs.items()),
    )


_INPUTS, _OUTPUTS = attrgetter("inputs"), attrgetter("outputs")
_DTYPE, _SHAPE, _ITEM = attrgetter("dtype"), attrgetter("shape"), np.ndarray.item
_REQUEST_ID, _VERSION, _TIME = attrgetter("request_id"), attrgetter("version"), attrgetter("time")


def _uniform_tensor(arrays: list) -> np.ndarray | None:
    """The arrays stacked along their first axis, if all are C-contiguous ndarrays of one dtype
    and one shape; else None. ``b"".join`` reads each array's buffer in C, several times
    cheaper per array than ``np.concatenate``."""
    try:
        first = arrays[0]
        dtype, shape = first.dtype, first.shape
        if dtype.hasobject or not shape or set(map(_DTYPE, arrays)) != {dtype}:
            return None
        if set(map(_SHAPE, arrays)) != {shape}:
            return None
        data = b"".join(arrays)
    except (AttributeError, TypeError, ValueError, BufferError):  # lists, strided views
        return None
    return np.frombuffer(data, dtype=dtype).reshape((len(arrays) * shape[0], *shape[1:]))


def _single_values(tensors: list[dict], names: tuple[str, ...], first: dict) -> dict | None:
    """One column per name when every tensor holds one number (one row, width 1: each feature
    of a one-row request), in the first record's dtype, when that changes no value; else None.

    The values are read record after record (``dict.values`` in order, the order checked by
    the caller), each array's one value by ``ndarray.item``: one pass in C over memory the
    records laid out together, instead of one lookup per name per record. They are read as
    float64, which holds every value of the dtypes taken here exactly, and kept in the first
    record's dtype only if each converts back unchanged: a record sending another dtype is
    stored exactly or sends the batch down the general path, never silently rounded."""
    dtypes = {a.dtype for a in first.values()}
    if len(dtypes) != 1 or any(a.size != 1 for a in first.values()):
        return None
    (dtype,) = dtypes
    if not (dtype.kind in "fb" or (dtype.kind in "iu" and dtype.itemsize <= 4)):
        return None
    n, k = len(tensors), len(names)
    try:
        exact = np.fromiter(
            map(_ITEM, chain.from_iterable(map(dict.values, tensors))),
            dtype=np.float64,
            count=n * k,
        )
        with np.errstate(all="ignore"):
            values = exact.astype(dtype)
    except (AttributeError, TypeError, ValueError):  # not arrays, or of several values
        return None
    if not np.array_equal(values.astype(np.float64), exact, equal_nan=True):
        return None
    by_column = values.reshape(n, k).T.copy()  # each column contiguous, as Arrow takes it
    return dict(zip(names, by_column, strict=True))


def _strings(values: list[str]) -> pa.Array:
    """A string column; one repeated value (a model's name, its version) without a list."""
    if values.count(values[0]) == len(values):
        return pa.repeat(pa.scalar(values[0], pa.string()), len(values))
    return pa.array(values, pa.string())


def uniform_columns(records: list[InferenceRecord], tag: str = "") -> dict | None:
    """The columns of one model's records, built in bulk, when every record has the same
    tensors (names in the same order, one dtype and shape each: what one served model
    produces); else None, and :func:`record_columns` groups them by schema instead.

    This runs for every logged inference: a few passes in C over all records, no Python code
    per record. Values are never cast: a record whose dtype differs sends the batch down the
    general path."""
    first = records[0]
    tensors: dict[str, np.ndarray] = {}
    for dicts in (list(map(_INPUTS, records)), list(map(_OUTPUTS, records))):
        names = tuple(dicts[0])
        if not names:
            continue
        if set(map(tuple, dicts)) != {names}:
            return None
        singles = _single_values(dicts, names, dicts[0])
        if singles is not None:
            tensors.update(singles)
            continue
        for name in names:
            tensor = _uniform_tensor(list(map(itemgetter(name), dicts)))
            if tensor is None:
                return None
            tensors[name] = tensor
    n = len(records)
    rows = len(next(iter(tensors.values()))) if tensors else n
    if any(len(t) != rows for t in tensors.values()) or rows % n:
        return None
    per = rows // n  # each record's rows carry its request's id, time and version
    ids = _strings(list(map(_REQUEST_ID, records)))
    versions = _strings(list(map(_VERSION, records)))
    times = np.fromiter(map(_TIME, records), dtype=np.float64, count=n)
    if per != 1:
        index = pa.array(np.repeat(np.arange(n), per))
        ids, versions, times = ids.take(index), versions.take(index), np.repeat(times, per)
    columns: dict = {
        ID: ids,
        MODEL: pa.repeat(pa.scalar(first.model, pa.string()), rows),
        VERSION: versions,
        TIME: times,
        TAG: pa.repeat(pa.scalar(tag, pa.string()), rows),
    }
    for name, tensor in tensors.items():
        columns.update(tensor_columns(name, tensor))
    return columns


def model_columns(records: list[InferenceRecord]) -> list[dict]:
    """The column sets of one model's records: one in bulk when they share a schema (the usual
    case), else one per schema."""
    columns = uniform_columns(records)
    if columns is not None:
        return [columns]
    groups: dict[tuple, list[InferenceRecord]] = {}
    for record in records:
        groups.setdefault(_schema_key(record), []).append(record)
    return [record_columns(group) for group in groups.values()]


def write_segment(root: Path, model: str, columns: Mapping[str, Iterable], tagged: bool) -> Path:
    """Write one segment atomically (a reader sees it whole or not at all); returns its path."""
    table = pa.table(dict(columns))
    directory = segments_dir(root, model)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{int(time.time() * 1000):013d}-{os.getpid()}-{next(_sequence):06d}-"
    path = directory / (name + ("ref" if tagged else "live") + SUFFIX)
    tmp = directory / f".{path.name}.tmp"
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    os.replace(tmp, path)
    return path


def enforce_bounds(
    root: Path,
    model: str,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    max_age: float | None = DEFAULT_MAX_AGE,
    now: float | None = None,
) -> list[Path]:
    """Drop whole segments until the model's log fits ``max_bytes`` and none is older than
    ``max_age`` seconds: live segments oldest first, then tagged ones oldest first. The newest
    segment is never dropped for size, so the log always shows the latest batch. Returns the
    dropped paths."""
    segments = list_segments(root, model)
    now = time.time() if now is None else now
    dropped: list[Path] = []
    keep = segments
    if max_age is not None:
        cutoff = (now - max_age) * 1000
        dropped += [s.path for s in segments if s.written_ms < cutoff]
        keep = [s for s in segments if s.written_ms >= cutoff]
    if max_bytes is not None and keep:
        total = sum(s.size for s in keep)
        order = sorted(keep[:-1], key=lambda s: (s.tagged, s.written_ms, s.path.name))
        for segment in order:
            if total <= max_bytes:
                break
            total -= segment.size
            dropped.append(segment.path)
    for path in dropped:
        with contextlib.suppress(FileNotFoundError):  # another writer dropped it first
            path.unlink()
    return dropped


class PayloadLog:
    """The payload logger of a serving process, and the writer of uploads.

    ``log = PayloadLog(monitoring_dir(settings))``; hand ``log`` to the data plane as its logger;
    ``log.close()`` at shutdown writes what is still pending. ``flush()`` writes now (tests).
    """

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int | None = DEFAULT_MAX_BYTES,
        max_age: float | None = DEFAULT_MAX_AGE,
        flush_interval: float = 0.5,
        flush_rows: int = 8192,
        max_pending: int = 200_000,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.flush_interval = flush_interval
        self.flush_rows = flush_rows
        self._pending: deque[InferenceRecord] = deque(maxlen=max_pending)
        self._append = self._pending.append
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self.errors: deque[str] = deque(maxlen=20)  # the last write failures, for a status page
        self._thread = threading.Thread(target=self._run, name="payload-log", daemon=True)
        self._thread.start()

    def __call__(self, record: InferenceRecord) -> None:
        """Queue one record: O(1), never blocks, never raises (the serving thread calls it)."""
        self._append(record)
        if len(self._pending) >= self.flush_rows:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def write_columns(self, model: str, columns: Mapping[str, Iterable], tag: str) -> Path:
        """Store a batch now (an upload): the caller learns it is on disk before answering."""
        with self._write_lock:
            path = write_segment(self.root, model, columns, tagged=bool(tag))
            enforce_bounds(self.root, model, self.max_bytes, self.max_age)
        return path

    def flush(self) -> int:
        """Write every pending record now; returns how many were written."""
        n = len(self._pending)
        popleft = self._pending.popleft
        records: list[InferenceRecord] = []
        # popleft called from C until n records are taken: no Python loop per record. Another
        # flush (close, a test) may have taken some first: keep what this one got.
        with contextlib.suppress(IndexError):
            records.extend(islice(iter(popleft, None), n))
        if not records:
            return 0
        by_model: dict[str, list[InferenceRecord]] = {}
        for model, run in groupby(records, key=attrgetter("model")):
            by_model.setdefault(model, []).extend(run)
        with self._write_lock:
            for model, group in by_model.items():
                try:
                    for columns in model_columns(group):
                        write_segment(self.root, model, columns, tagged=False)
                    enforce_bounds(self.root, model, self.max_bytes, self.max_age)
                except (OSError, ValueError, pa.ArrowException) as error:
                    # Logging must never take serving down: the batch is lost, the reason kept.
                    self.errors.append(f"{model}: {error}")
        return len(records)

    def close(self) -> None:
        """Stop the background thread after writing what is pending."""
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            self.flush()


def _filtered(table: pa.Table, tag, exclude_tag, since, until) -> pa.Table:
    mask = None

    def both(a, b):
        return b if a is None else pc.and_(a, b)

    if tag is not None:
        mask = both(mask, pc.equal(table[TAG], tag))
    if exclude_tag is not None:
        mask = both(mask, pc.not_equal(table[TAG], exclude_tag))
    if since is not None:
        mask = both(mask, pc.greater_equal(table[TIME], since))
    if until is not None:
        mask = both(mask, pc.less(table[TIME], until))
    return table if mask is None else table.filter(mask)


def _read_table(path: Path) -> pa.Table | None:
    try:
        with pa.memory_map(str(path)) as source:
            return pa.ipc.open_file(source).read_all()
    except (FileNotFoundError, pa.ArrowInvalid):  # dropped meanwhile, or not a segment
        return None


def read_log(
    root: Path,
    model: str,
    *,
    tag: str | None = None,
    exclude_tag: str | None = None,
    last: int | None = None,
    since: float | None = None,
    until: float | None = None,
) -> pd.DataFrame:
    """The logged rows of ``model`` as a DataFrame, oldest first.

    ``tag`` keeps the rows of one tag (``""``: live inferences, ``"TRAINING"``: that upload);
    ``exclude_tag`` drops one tag's rows; ``since``/``until`` bound ``_time`` (seconds since the
    epoch, ``until`` excluded); ``last`` keeps the newest ``last`` rows left after the filters,
    reading only the newest segments it needs. An unknown model gives an empty frame.
    """
    tables: list[pa.Table] = []
    rows = 0
    for segment in reversed(list_segments(root, model)):
        if tag is not None and bool(tag) != segment.tagged:
            continue  # live rows are only in live segments, tagged rows in tagged ones
        table = _read_table(segment.path)
        if table is None:
            continue
        table = _filtered(table, tag, exclude_tag, since, until)
        if table.num_rows:
            tables.append(table)
            rows += table.num_rows
        if last is not None and rows >= last:
            break
    if not tables:
        return pd.DataFrame(columns=list(META_COLUMNS))
    table = pa.concat_tables(reversed(tables), promote_options="permissive")
    frame = table.to_pandas()
    frame = frame.sort_values(TIME, kind="stable", ignore_index=True)
    if last is not None:
        frame = frame.iloc[-last:].reset_index(drop=True) if last > 0 else frame.iloc[:0]
    return frame
