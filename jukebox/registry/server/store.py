"""SQLite storage of registry resources: one table of JSON documents with a few indexed columns.

Each resource is stored whole, as the JSON document the API returns, so a listing is a
concatenation of stored strings. The columns beside it (kind, parent, name, external id,
artifact type, times) exist to look resources up, order them and enforce uniqueness: names are
unique among the children of one parent, external ids among the resources of a kind. Those rules
are UNIQUE constraints, so concurrent writers (threads, or several server processes on one file)
can never create a duplicate: the loser of a race gets ``Conflict``.

The database runs in WAL mode with a busy timeout and full synchronisation, and every write is
one ``BEGIN IMMEDIATE`` transaction, so readers never block, writers queue instead of failing,
and a crash never leaves half a write.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from jukebox.registry.server.errors import BadRequest, Conflict, NotFound

SCHEMA = """
CREATE TABLE IF NOT EXISTS resource (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    parent_id INTEGER NOT NULL DEFAULT 0,
    name TEXT,
    external_id TEXT,
    artifact_type TEXT,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (kind, parent_id, name),
    UNIQUE (kind, external_id)
);
CREATE INDEX IF NOT EXISTS resource_by_parent_id ON resource (kind, parent_id, id);
CREATE INDEX IF NOT EXISTS resource_by_create ON resource (kind, parent_id, create_time, id);
CREATE INDEX IF NOT EXISTS resource_by_update ON resource (kind, parent_id, update_time, id);
"""

ORDER_COLUMNS = {"ID": "id", "CREATE_TIME": "create_time", "LAST_UPDATE_TIME": "update_time"}
# Generous, because each call of the official client opens a new HTTP session (and, with
# SSL_CERT_FILE set, parses the CA bundle again): listing up to this many resources takes one
# call for the items and one for the empty page that ends the listing.
DEFAULT_PAGE_SIZE = 1000
MAX_PAGE_SIZE = 10_000


@dataclass(frozen=True)
class Page:
    """One page of a listing: the stored JSON documents and the token of the next page."""

    items: list[str]
    next_page_token: str
    page_size: int


def connect(path: Path) -> sqlite3.Connection:
    """Open the registry database, creating it and its schema if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout = 30000")
    connection.execute("PRAGMA journal_mode = WAL")
    # The registry is the record of every model: each commit reaches the disk before it returns.
    connection.execute("PRAGMA synchronous = FULL")
    # filterQuery's LIKE is case-sensitive, as in SQL; ILIKE is the case-insensitive one.
    connection.execute("PRAGMA case_sensitive_like = ON")
    connection.executescript(SCHEMA)
    return connection


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Store:
    """Resources in one SQLite file. Safe to share between threads of one process."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._connection = connect(self.path)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; everything inside commits together or not at all."""
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._connection.execute(sql, params).fetchall()

    # -- single resources -------------------------------------------------------------------

    def get(self, kind: str, resource_id: str, label: str) -> dict:
        """The document of resource ``resource_id`` of ``kind``; ``NotFound`` if there is none."""
        rows = self._read(
            "SELECT body FROM resource WHERE kind = ? AND id = ?", (kind, _int_id(resource_id))
        )
        if not rows:
            raise NotFound(f"{label} with id {resource_id} not found")
        return json.loads(rows[0][0])

    def exists(self, kind: str, resource_id: str) -> bool:
        rows = self._read(
            "SELECT 1 FROM resource WHERE kind = ? AND id = ?", (kind, _int_id(resource_id))
        )
        return bool(rows)

    def insert(
        self,
        connection: sqlite3.Connection,
        kind: str,
        document: dict,
        *,
        parent_id: str | None,
        label: str,
        unique_name: bool = True,
    ) -> dict:
        """Store a new resource inside a ``write()`` transaction; returns it with id and times.
        ``unique_name=False`` keeps the name out of the uniqueness rule (records of a history)."""
        stamp = now_ms()
        try:
            cursor = connection.execute(
                "INSERT INTO resource (kind, parent_id, name, external_id, artifact_type,"
                " create_time, update_time, body) VALUES (?, ?, ?, ?, ?, ?, ?, '{}')",
                (
                    kind,
                    int(parent_id or 0),
                    document.get("name") if unique_name else None,
                    document.get("externalId"),
                    document.get("artifactType"),
                    stamp,
                    stamp,
                ),
            )
        except sqlite3.IntegrityError as error:
            raise Conflict(_conflict_message(label, document, parent_id, error)) from None
        document = {
            **document,
            "id": str(cursor.lastrowid),
            "createTimeSinceEpoch": str(stamp),
            "lastUpdateTimeSinceEpoch": str(stamp),
        }
        connection.execute(
            "UPDATE resource SET body = ? WHERE id = ?", (json.dumps(document), cursor.lastrowid)
        )
        return document

    def replace(
        self, connection: sqlite3.Connection, document: dict, *, parent_id: str | None, label: str
    ) -> dict:
        """Save a changed document inside a ``write()`` transaction, with a new update time."""
        stamp = max(now_ms(), int(document["lastUpdateTimeSinceEpoch"]))
        document = {**document, "lastUpdateTimeSinceEpoch": str(stamp)}
        try:
            connection.execute(
                "UPDATE resource SET parent_id = ?, external_id = ?, update_time = ?, body = ?"
                " WHERE id = ?",
                (
                    int(parent_id or 0),
                    document.get("externalId"),
                    stamp,
                    json.dumps(document),
                    int(document["id"]),
                ),
            )
        except sqlite3.IntegrityError as error:
            raise Conflict(_conflict_message(label, document, parent_id, error)) from None
        return document

    def load(self, connection: sqlite3.Connection, kind: str, resource_id: str, label: str):
        """Like ``get``, inside a ``write()`` transaction; also returns the parent id."""
        row = connection.execute(
            "SELECT body, parent_id FROM resource WHERE kind = ? AND id = ?",
            (kind, _int_id(resource_id)),
        ).fetchone()
        if row is None:
            raise NotFound(f"{label} with id {resource_id} not found")
        return json.loads(row[0]), (str(row[1]) if row[1] else None)

    # -- searches and listings --------------------------------------------------------------

    def find(
        self,
        kind: str,
        *,
        name: str | None = None,
        external_id: str | None = None,
        parent_id: str | None = None,
        artifact_type: str | None = None,
    ) -> dict | None:
        """The first resource (lowest id) matching every given criterion, or None."""
        where, params = _filters(kind, name, external_id, parent_id, artifact_type)
        rows = self._read(
            f"SELECT body FROM resource WHERE {where} ORDER BY id LIMIT 1",  # noqa: S608
            params,
        )
        return json.loads(rows[0][0]) if rows else None

    def list(
        self,
        kind: str,
        *,
        parent_id: str | None = None,
        name: str | None = None,
        external_id: str | None = None,
        artifact_type: str | None = None,
        page_size: str | None = None,
        order_by: str | None = None,
        sort_order: str | None = None,
        next_page_token: str | None = None,
        condition: tuple[str, list] | None = None,
    ) -> Page:
        """One page of the resources of ``kind``, ordered and continued by keyset paging.

        The token carries the order value and id of the last item returned, so pages stay
        consistent while resources are added. The listing ends with an empty page, whose token
        is empty.
        """
        size = _page_size(page_size)
        column = ORDER_COLUMNS.get(order_by or "ID")
        if column is None:
            raise BadRequest(
                f"orderBy {order_by!r} is not supported; use one of {', '.join(ORDER_COLUMNS)}"
            )
        direction = (sort_order or "ASC").upper()
        if direction not in ("ASC", "DESC"):
            raise BadRequest(f"sortOrder {sort_order!r} is not supported; use ASC or DESC")
        where, params = _filters(kind, name, external_id, parent_id, artifact_type)
        if condition is not None:
            # A filterQuery, already translated to SQL with placeholders (see filters.py).
            where += f" AND ({condition[0]})"
            params += tuple(condition[1])
        if next_page_token:
            value, last_id = _decode_token(next_page_token, column)
            compare = ">" if direction == "ASC" else "<"
            if column == "id":
                where += f" AND id {compare} ?"
                params += (last_id,)
            else:
                where += f" AND ({column} {compare} ? OR ({column} = ? AND id {compare} ?))"
                params += (value, value, last_id)
        try:
            rows = self._read(
                f"SELECT body, {column}, id FROM resource WHERE {where}"  # noqa: S608
                f" ORDER BY {column} {direction}, id {direction} LIMIT ?",
                (*params, size),
            )
        except sqlite3.OperationalError as error:
            if condition is None:
                raise
            # e.g. a property name that is not a valid JSON path
            raise BadRequest(f"filterQuery cannot be applied: {error}") from None
        rows = rows[:size]
        # Every page with items points past its last item, and only an empty page ends the
        # listing. An empty token on a last full page would make the official client's pager
        # fetch the first page again to notice the end (it checks for a token it has seen), so
        # ending on a cheap empty page is faster for it, and equally clear to any other client.
        token = _encode_token(column, rows[-1][1], rows[-1][2]) if rows else ""
        return Page([row[0] for row in rows], token, size)


def _filters(
    kind: str,
    name: str | None,
    external_id: str | None,
    parent_id: str | None,
    artifact_type: str | None,
) -> tuple[str, tuple]:
    where, params = "kind = ?", (kind,)
    for column, value in (
        ("name", name),
        ("external_id", external_id),
        ("artifact_type", artifact_type),
    ):
        if value is not None:
            where += f" AND {column} = ?"
            params += (value,)
    if parent_id is not None:
        where += " AND parent_id = ?"
        params += (_int_id(parent_id),)
    return where, params


def _int_id(resource_id: str) -> int:
    if not str(resource_id).isdigit():
        # No resource has such an id; -1 matches nothing, so the caller reports "not found".
        return -1
    return int(resource_id)


def _page_size(page_size: str | None) -> int:
    if page_size in (None, ""):
        return DEFAULT_PAGE_SIZE
    try:
        size = int(page_size)
    except ValueError:
        raise BadRequest(f"pageSize must be a whole number, not {page_size!r}") from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise BadRequest(f"pageSize must be between 1 and {MAX_PAGE_SIZE}, not {size}")
    return size


def _encode_token(column: str, value: int, last_id: int) -> str:
    raw = json.dumps([column, value, last_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str, column: str) -> tuple[int, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        token_column, value, last_id = json.loads(base64.urlsafe_b64decode(padded))
        if token_column != column:
            raise ValueError("token of another ordering")
        return int(value), int(last_id)
    except (ValueError, TypeError):
        raise BadRequest(
            "nextPageToken is not valid for this listing; start again without a token"
        ) from None


def _conflict_message(label: str, document: dict, parent_id: str | None, error: Exception) -> str:
    if "external_id" in str(error):
        return f"a {label} with externalId {document.get('externalId')!r} already exists"
    where = f" in parent {parent_id}" if parent_id else ""
    return f"a {label} named {document.get('name')!r} already exists{where}"
