"""A registry database made before the schema had versions opens with today's code, every row
kept, and then takes what upstream takes: a metric and a parameter of one name under one run.

Upstream keeps each artifact type apart: its Artifact table is ``UNIQUE (type_id, name)``
(``internal/platform/db/mysql/migrations/000001_create_artifact_table.up.sql``), the name
holding the parent's id. The first schema here was ``UNIQUE (kind, parent_id, name)`` over every
artifact type at once, so the second of the two was refused with 409.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from jukebox.registry.server.store import SCHEMA_VERSION, Store
from tests.registry.conftest import registry_in_thread
from tests.registry.server.conftest import Rest
from tests.registry.server.test_errors import assert_error

# The schema as jukebox/registry/server/store.py created it up to commit 5e903a9, word for word.
SCHEMA_V0 = """
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
T = 1_700_000_000_000


def _row(id_, kind, parent, name, artifact_type=None, external_id=None, **fields):
    """A row as the first schema's code wrote it: the columns, and the document in ``body``."""
    body = {"name": name, **fields, "id": str(id_)}
    if artifact_type:
        body["artifactType"] = artifact_type
    if external_id:
        body["externalId"] = external_id
    body |= {"createTimeSinceEpoch": str(T + id_), "lastUpdateTimeSinceEpoch": str(T + id_)}
    if kind == "metric_history":
        name = None  # history entries were kept out of the name rule
    return (id_, kind, parent, name, external_id, artifact_type, T + id_, T + id_, json.dumps(body))


ROWS = [
    _row(1, "registered_model", 0, "songs", external_id="ext-1", state="LIVE"),
    _row(2, "model_version", 1, "1", registeredModelId="1", state="LIVE"),
    _row(3, "artifact", 2, "songs", "model-artifact", uri="s3://m/1", state="UNKNOWN"),
    _row(4, "experiment", 0, "tuning", state="LIVE"),
    _row(5, "experiment_run", 4, "run-a", experimentId="4", status="RUNNING", state="LIVE"),
    _row(6, "artifact", 5, "lr", "metric", value=0.5, step=0, experimentRunId="5"),
    _row(7, "metric_history", 5, "lr", "metric", value=0.5, step=0, experimentRunId="5"),
]


@pytest.fixture
def old_db(tmp_path):
    """A database of the first schema holding a model, a version, its artifact, an experiment,
    a run and a metric ``lr`` logged under it; ids were given out up to 9 (8 and 9 are gone)."""
    db = tmp_path / "registry.sqlite"
    connection = sqlite3.connect(db)
    connection.executescript(SCHEMA_V0)
    connection.executemany(f"INSERT INTO resource VALUES ({', '.join('?' * 9)})", ROWS)
    connection.execute("UPDATE sqlite_sequence SET seq = 9 WHERE name = 'resource'")
    connection.commit()
    # As the first schema had it: one name per parent, whatever the artifact type.
    with pytest.raises(sqlite3.IntegrityError):
        connection.execute(
            "INSERT INTO resource (kind, parent_id, name, artifact_type, create_time,"
            " update_time, body) VALUES ('artifact', 5, 'lr', 'parameter', 0, 0, '{}')"
        )
    connection.close()
    return db


def _rows(db) -> list[tuple]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(
            "SELECT id, kind, parent_id, name, external_id, artifact_type, create_time,"
            " update_time, body FROM resource ORDER BY id"
        ).fetchall()
    finally:
        connection.close()


def test_opening_an_old_database_keeps_every_row_and_stores_both_logs(old_db):
    with registry_in_thread(old_db) as url:
        rest = Rest(url, api="/api/model_registry/v1alpha3")
        assert _rows(old_db) == ROWS
        assert rest.get("/registered_models/1").json() == json.loads(ROWS[0][-1])
        assert rest.get("/registered_model", externalId="ext-1").json()["id"] == "1"
        artifact = rest.get("/model_artifact", name="songs", parentResourceId="2").json()
        assert artifact["uri"] == "s3://m/1"

        logged = rest.post(
            "/experiment_runs/5/artifacts",
            {"name": "lr", "artifactType": "parameter", "value": "0.1", "parameterType": "number"},
        )
        assert logged.status_code == 200, logged.text
        parameter = logged.json()
        # No id given out before the upgrade is given out again.
        assert int(parameter["id"]) > 9
        run_logs = rest.get("/experiment_runs/5/artifacts").json()["items"]
        assert [(a["name"], a["artifactType"]) for a in run_logs] == [
            ("lr", "metric"),
            ("lr", "parameter"),
        ]
        assert run_logs[0]["value"] == 0.5
        history = rest.get("/experiment_runs/5/metric_history").json()["items"]
        assert [(m["name"], m["value"]) for m in history] == [("lr", 0.5)]

        # Names stay unique where they were: per parent, and per artifact type.
        assert_error(rest.post("/registered_models", {"name": "songs"}), 409, "songs")
        body = {"name": "1", "registeredModelId": "1"}
        assert_error(rest.post("/model_versions", body), 409, "already exists")
        assert_error(rest.post("/registered_models", {"name": "x", "externalId": "ext-1"}), 409)
        again = {"name": "lr", "artifactType": "parameter", "value": "0.2"}
        assert rest.post("/experiment_runs/5/artifacts", again).json()["id"] == parameter["id"]
    connection = sqlite3.connect(old_db)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    connection.close()


def test_the_upgrade_happens_once(old_db):
    Store(old_db).close()
    upgraded = _rows(old_db)
    assert upgraded == ROWS
    Store(old_db).close()
    assert _rows(old_db) == upgraded


def test_an_empty_old_database_keeps_its_id_sequence(tmp_path):
    """Every row was gone (deleted by hand): the copy holds none, and ids still go on."""
    db = tmp_path / "registry.sqlite"
    connection = sqlite3.connect(db)
    connection.executescript(SCHEMA_V0)
    connection.executemany(f"INSERT INTO resource VALUES ({', '.join('?' * 9)})", ROWS[:1])
    connection.execute("DELETE FROM resource")
    connection.commit()
    connection.close()
    store = Store(db)
    with store.write() as write:
        created = store.insert(
            write, "registered_model", {"name": "new"}, parent_id=None, label="registered model"
        )
    store.close()
    assert created["id"] == "2"


def test_a_new_database_has_the_current_schema(tmp_path):
    db = tmp_path / "registry.sqlite"
    Store(db).close()
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    connection.close()
