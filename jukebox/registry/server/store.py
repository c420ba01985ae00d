"""SQLite storage of registry resources: one table of JSON documents with a few indexed columns.

Each resource is stored whole, as the JSON document the API returns, so a listing is a
concatenation of stored strings. The columns beside it (kind, parent, name, external id,
artifact type, times) exist to look resources up, order them and enforce uniqueness: names are
unique among the children of one parent (and, for artifacts, of one artifact type), external ids
among the resources of a kind. Those rules are UNIQUE constraints, so concurrent writers (threads,
or several server processes on one file) can never create a duplicate: the loser of a race gets
``Conflict``. The schema has a version (``PRAGMA user_version``); opening an older database
upgrades it in place, keeping every row.

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

# The version of the schema below, kept in the database's ``user_version``: 0 is a database
# made before versions were kept, whose name rule treated every artifact type as one.
SCHEMA_VERSION = 1
TABLE = """
CREATE TABLE {name} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    parent_id INTEGER NOT NULL DEFAULT 0,
    name TEXT,
    external_id TEXT,
    artifact_type TEXT,
    create_time INTEGER NOT NULL,
    update_time INTEGER NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (kind, external_id)
)
"""
INDEXES = (
    # Names are unique among the children of one parent, per artifact type: upstream keeps
    # each artifact type apart (its Artifact table is UNIQUE (type_id, name)), so a run may log a
    # metric and a parameter of one name. COALESCE, because NULLs never collide in a UNIQUE index,
    # and resources other than artifacts have no type.
    "CREATE UNIQUE INDEX IF NOT EXISTS resource_name"
    " ON resource (kind, parent_id, COALESCE(artifact_type, ''), name)",
    "CREATE INDEX IF NOT EXISTS resource_by_parent_id ON resource (kind, parent_id, id)",
    "CREATE INDEX IF NOT EXISTS resource_by_create ON resource (kind, parent_id, create_time, id)",
    "CREATE INDEX IF NOT EXISTS resource_by_update ON resource (kind, parent_id, update_time, id)",
)
COLUMNS = "id, kind, parent_id, name, external_id, artifact_type, create_time, update_time, body"
# A resource has one parent (``parent_id``); an artifact may also be *attributed* to more, as
# upstream's Attribution table allows: a model version's artifact logged under the run that made
# it belongs to both, and is listed under each.
ATTRIBUTION = (
    "CREATE TABLE IF NOT EXISTS attribution (parent_id INTEGER NOT NULL, child_id INTEGER NOT NULL,"
    " PRIMARY KEY (parent_id, child_id))"
)

# orderBy values, as upstream's internal/platform/db/scopes/paginate.go (AllowedOrderByColumns)
# accepts them, lower-case "id" included. Any other orderBy, and a sortOrder other than ASC or
# DESC, falls back to the default (ID, ASC), as there (PaginateWithOptions): no error.
ORDER_COLUMNS = {
    "ID": "id",
    "CREATE_TIME": "create_time",
    "LAST_UPDATE_TIME": "update_time",
    "id": "id",
}
SORT_ORDERS = ("ASC", "DESC")
INT32_MAX = 2**31 - 1


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
    _upgrade(connection)
    return connection


def _upgrade(connection: sqlite3.Connection) -> None:
    """Create the schema in a new database, or bring an older one up to ``SCHEMA_VERSION``.

    One ``BEGIN IMMEDIATE`` transaction, which checks the version again once it holds the write
    lock: of several servers opening one file at once, one upgrades and the others see it done.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:
            exists = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'resource'"
            ).fetchone()
            if exists:
                _rebuild_without_kind_wide_names(connection)
            else:
                connection.execute(TABLE.format(name="resource"))
            connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        for statement in (*INDEXES, ATTRIBUTION):
            connection.execute(statement)
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _rebuild_without_kind_wide_names(connection: sqlite3.Connection) -> None:
    """Version 0 to 1: drop the table constraint ``UNIQUE (kind, parent_id, name)``, which made
    a metric and a parameter of one name under one run collide.

    SQLite cannot drop a table constraint, so the table is copied into one of the new shape, the
    old one dropped and the copy renamed (SQLite's own recipe for schema changes), every row and
    id kept. Ids are never reused (AUTOINCREMENT): the sequence is carried over as well, so an id
    given out before the upgrade is not given out again even if its row is gone.
    """
    sequence = connection.execute(
        "SELECT seq FROM sqlite_sequence WHERE name = 'resource'"
    ).fetchone()
    connection.execute("DROP TABLE IF EXISTS resource_upgrade")
    connection.execute(TABLE.format(name="resource_upgrade"))
    connection.execute(
        f"INSERT INTO resource_upgrade ({COLUMNS}) SELECT {COLUMNS} FROM resource"  # noqa: S608
    )
    connection.execute("DROP TABLE resource")  # and its indexes, made again by the caller
    connection.execute("ALTER TABLE resource_upgrade RENAME TO resource")
    if sequence is not None:
        # The copy's sequence is the largest id copied, which is less if the newest rows are gone.
        connection.execute("DELETE FROM sqlite_sequence WHERE name = 'resource'")
        connection.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('resource', ?)", (sequence[0],)
        )


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
        consistent while resources are added. As upstream's server (``GenericRepository.List``
        in ``internal/platform/db/repository/generic_repository.go``): without ``pageSize``, or
        with 0, the page holds everything; the page holding the last item has an empty token
        (one more row than the page is read to know whether there is a next page).
        """
        size = _page_size(page_size)
        column = ORDER_COLUMNS.get(order_by or "ID", "id")
        direction = sort_order if sort_order in SORT_ORDERS else "ASC"
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
                (*params, size + 1 if size > 0 else -1),  # LIMIT -1: no limit
            )
        except sqlite3.OperationalError as error:
            if condition is None:
                raise
            # e.g. a property name that is not a valid JSON path
            raise BadRequest(f"filterQuery cannot be applied: {error}") from None
        more = 0 < size < len(rows)
        rows = rows[:size] if more else rows
        token = _encode_token(column, rows[-1][1], rows[-1][2]) if more else ""
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
        where += (
            " AND (parent_id = ? OR id IN (SELECT child_id FROM attribution WHERE parent_id = ?))"
        )
        params += (_int_id(parent_id), _int_id(parent_id))
    return where, params


def _int_id(resource_id: str) -> int:
    if not str(resource_id).isdigit():
        # No resource has such an id; -1 matches nothing, so the caller reports "not found".
        return -1
    return int(resource_id)


def _page_size(page_size: str | None) -> int:
    """The page size asked for; 0 (or less) is no limit, as upstream's ``pageSize > 0`` check
    has it. Upstream reads it as an int32 (``converter.StringToInt32``); anything else is 400."""
    if page_size in (None, ""):
        return 0
    try:
        size = int(page_size)
    except ValueError:
        raise BadRequest(f"pageSize must be a whole number, not {page_size!r}") from None
    if not -INT32_MAX - 1 <= size <= INT32_MAX:
        raise BadRequest(f"pageSize must fit in 32 bits (at most {INT32_MAX}), not {size}")
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
