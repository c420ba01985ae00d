"""Conformance: the embedded server driven with the calls of upstream's newest Python client.

The calls are copied from github.com/kubeflow/model-registry at commit
bd07139a60e2e019654467997082a6c3cf70b8f5 (2026-04-29, the commit whose OpenAPI document is
``model-registry.yaml`` beside this file):

- ``clients/python/src/model_registry/_client.py``: the flows (``ModelRegistry.__init__``,
  ``register_model``, ``get_registered_model``, ``get_model_version``, ``get_model_artifact``,
  ``update``, ``get_model_versions``, ``start_experiment_run`` with its get-or-create of the
  experiment and the run, ``create_experiment``, ``get_experiments``, ``get_experiment_runs``,
  ``get_experiment_run``, ``get_experiment_run_logs``);
- ``clients/python/src/model_registry/_experiments.py``: what ``log_param``, ``log_metric`` and
  ``log_dataset`` send when the run's ``with`` block exits;
- ``clients/python/src/model_registry/core.py``: which generated call each step makes, and what
  it does with a 404;
- ``clients/python/src/model_registry/types/`` (``artifacts.py``, ``contexts.py``,
  ``experiments.py``, ``options.py``, ``pager.py``): the request bodies, the list options
  (``sortOrder`` is always sent) and the pager, replayed by ``client_pager`` below;
- ``clients/python/src/mr_openapi/api/model_registry_service_api.py`` and
  ``clients/python/src/mr_openapi/models/``: the paths (under ``/api/model_registry/v1alpha3``),
  the query parameters, the field names, and the serialisation (``to_dict`` leaves out what is
  None but keeps defaults, so a new run is sent with ``"status": "RUNNING"``). Ending a run and
  reading metric history are calls of this generated API that ``model_registry`` itself does not
  make yet (``update_experiment_run``, ``get_experiment_run_metric_history``,
  ``get_experiment_runs_metric_history``);
- where the OpenAPI document allows several answers, the one upstream's server gives, from
  ``internal/server/openapi/api_model_registry_service_service.go`` and ``internal/core/``
  (``artifact.go``, ``experiment_run.go``): 201 for a new model or doc artifact but 200 for a
  logged parameter, metric or dataset; a metric or parameter logged again by name updates the
  existing one; a metric needs a value; a run cannot end before it starts;
- upstream's client e2e suite, ``clients/python/tests/regression_test.py``: the Error bodies it
  compares word for word (an unknown field, a missing name);
- where upstream's server differs from what a reader of the OpenAPI document might expect, its
  Go code, quoted in each test: names unique per artifact type, paging
  (``internal/platform/db/``), update bodies without output-only fields, the metric history's
  name filter matching a part of the name.

The client of that commit is not on PyPI: the releases there that carry the experiments API
end with ``model-registry`` 0.3.14, the project's pin, which ``tests/registry/test_experiments.py``
drives against this server (0.3.15 to 0.3.18 dropped it and moved to ``/api/model_registry/v1``).
So the newest client's requests are replayed here as plain HTTP, byte for byte as it serialises
them (checked once by recording the requests of that commit's client against this server), and
each test asserts what the client reads from the
answers: status codes, fields and their JSON types (its pydantic models are strict: ids and times
are strings, a metric's step an integer), the ids that link resources, and the order and
completeness of what its pager yields.
"""

from __future__ import annotations

import re
import time
import uuid

import pytest

from tests.registry.server.conftest import Rest
from tests.registry.server.test_errors import assert_error

NEWEST_API = "/api/model_registry/v1alpha3"
ID = re.compile(r"^[1-9][0-9]{0,8}$")  # the spec's pattern of ids
MILLIS = re.compile(r"^[0-9]{13}$")
LIST_FIELDS = {"items", "nextPageToken", "pageSize", "size"}
METADATA = {  # what BaseResourceModel._map_custom_properties makes of {a: 12, b: 0.5, ...}
    "epochs": {"int_value": "12", "metadataType": "MetadataIntValue"},
    "accuracy": {"double_value": 0.875, "metadataType": "MetadataDoubleValue"},
    "data": {"string_value": "md5:abc", "metadataType": "MetadataStringValue"},
    "verified": {"bool_value": True, "metadataType": "MetadataBoolValue"},
}


@pytest.fixture
def api(registry_url) -> Rest:
    return Rest(registry_url, api=NEWEST_API)


def answer(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def resource(document: dict, **fields) -> dict:
    """Check what every resource carries (server ids and times as the client's StrictStr
    fields want them) and then ``fields``: a value to equal, or a type the value must have."""
    assert ID.match(document["id"]), document
    created, updated = document["createTimeSinceEpoch"], document["lastUpdateTimeSinceEpoch"]
    assert MILLIS.match(created) and MILLIS.match(updated) and int(updated) >= int(created)
    for field, expected in fields.items():
        assert field in document, (field, document)
        if isinstance(expected, type):
            # bool is an int in Python, not in JSON: a step must not be true.
            assert type(document[field]) is expected, (field, document)
        else:
            assert document[field] == expected, (field, document)
    return document


def client_pager(api: Rest, path: str, **options) -> tuple[list[dict], list[dict]]:
    """The items the client's ``Pager`` yields (``types/pager.py``), with the pages it read.

    ``ListOptions.as_options`` always sends ``sortOrder`` and sends the ``nextPageToken`` of the
    last answer; the pager fetches when its page is used up and stops at an empty page, or when
    a token comes back equal to the one after the first page (upstream's server ends a listing
    with an empty token, so the client re-reads the first page to notice the end).
    """
    options = {"sortOrder": "ASC", **options}
    token = start = None
    page: list[dict] = []
    index = 0
    items, pages = [], []
    while True:
        check_looping = not page or (index >= len(page) and start is not None)
        if check_looping:
            assert len(pages) < 50, "the pager does not stop"
            body = answer(api.get(path, **options, nextPageToken=token), 200)
            assert set(body) == LIST_FIELDS and body["size"] == len(body["items"])
            assert type(body["nextPageToken"]) is str and type(body["pageSize"]) is int
            pages.append(body)
            token, page, index = body["nextPageToken"], body["items"], 0
        if index >= len(page):
            return items, pages
        item = page[index]
        index += 1
        if start is None:
            start = token
        elif check_looping and token == start:
            return items, pages
        items.append(item)


def run_name() -> str:
    return f"run_{uuid.uuid4().hex[:16]}"  # utils.generate_name("run")


def now_ms() -> str:
    return str(int(time.time() * 1000))


# -- models, versions, artifacts ------------------------------------------------------------


def register_model(api: Rest, name: str, version: str) -> tuple[dict, dict, dict]:
    """``ModelRegistry.register_model(name, uri, model_format_name="onnx",
    model_format_version="1", version=version, version_description=..., storage_key=...,
    storage_path=..., metadata=...)`` with the client's author "tester"."""
    found = api.get("/registered_model", name=name)
    if found.status_code == 404:
        assert_error(found, 404)
        model = answer(
            api.post("/registered_models", {"name": name, "owner": "tester", "state": "LIVE"}),
            201,
        )
    else:
        model = answer(found, 200)
    assert_error(api.get("/model_version", name=version, parentResourceId=model["id"]), 404)
    body = {
        "customProperties": METADATA,
        "description": f"version {version}",
        "name": version,
        "state": "LIVE",
        "author": "tester",
        "registeredModelId": model["id"],
    }
    created = answer(api.post("/model_versions", body), 201)
    uri = f"s3://models/{name}/{version}"
    artifact_body = {
        "name": name,
        "artifactType": "model-artifact",
        "modelFormatName": "onnx",
        "storageKey": "my-connection",
        "storagePath": f"models/{name}/{version}",
        "modelFormatVersion": "1",
        "uri": uri,
        "state": "UNKNOWN",
    }
    artifact = answer(api.post(f"/model_versions/{created['id']}/artifacts", artifact_body), 201)
    return model, created, artifact


def test_client_start_lists_one_registered_model(api):
    """``ModelRegistry.__init__`` checks the server with one page of one model."""
    page = answer(api.get("/registered_models", pageSize="1", sortOrder="ASC"), 200)
    assert set(page) == LIST_FIELDS and page["pageSize"] == 1 and page["size"] <= 1
    assert type(page["nextPageToken"]) is str


def test_register_model_then_read_and_update_it(api, name):
    model, version, artifact = register_model(api, name, "1.0.0")
    resource(model, name=name, owner="tester", state="LIVE")
    resource(
        version,
        name="1.0.0",
        author="tester",
        state="LIVE",
        description="version 1.0.0",
        registeredModelId=model["id"],
        customProperties=METADATA,  # the int travels as a string, and comes back one
    )
    resource(
        artifact,
        name=name,
        artifactType="model-artifact",
        uri=f"s3://models/{name}/1.0.0",
        modelFormatName="onnx",
        modelFormatVersion="1",
        storageKey="my-connection",
        storagePath=f"models/{name}/1.0.0",
        state="UNKNOWN",
    )
    assert "experimentId" not in artifact and "experimentRunId" not in artifact
    assert len({model["id"], version["id"], artifact["id"]}) == 3

    # get_registered_model, get_model_version, get_model_artifact: finds by name and parent.
    assert answer(api.get("/registered_model", name=name), 200) == model
    found = answer(api.get("/model_version", name="1.0.0", parentResourceId=model["id"]), 200)
    assert found == version
    found = answer(api.get("/model_artifact", name=name, parentResourceId=version["id"]), 200)
    assert found == artifact
    # A version of that name under another model is not this one.
    other, _, _ = register_model(api, f"{name}-other", "2.0.0")
    assert_error(api.get("/model_version", name="1.0.0", parentResourceId=other["id"]), 404)

    # update(model): the client sends its update fields, never the name.
    body = {"description": "changed", "owner": "tester", "state": "LIVE"}
    updated = answer(api.patch(f"/registered_models/{model['id']}", body), 200)
    resource(updated, id=model["id"], name=name, description="changed")
    assert updated["createTimeSinceEpoch"] == model["createTimeSinceEpoch"]
    assert int(updated["lastUpdateTimeSinceEpoch"]) >= int(model["lastUpdateTimeSinceEpoch"])

    body = {
        "customProperties": METADATA,
        "description": "second thoughts",
        "state": "ARCHIVED",
        "author": "tester",
    }
    updated = answer(api.patch(f"/model_versions/{version['id']}", body), 200)
    resource(
        updated,
        name="1.0.0",
        state="ARCHIVED",
        description="second thoughts",
        registeredModelId=model["id"],
        customProperties=METADATA,
    )

    body = {
        "artifactType": "model-artifact",
        "modelFormatName": "onnx",
        "storageKey": "my-connection",
        "storagePath": "moved",
        "modelFormatVersion": "1",
        "uri": f"s3://models/{name}/1.0.0",
        "state": "LIVE",
    }
    updated = answer(api.patch(f"/model_artifacts/{artifact['id']}", body), 200)
    resource(updated, id=artifact["id"], name=name, storagePath="moved", state="LIVE")
    # The model artifact stays the version's: get_model_artifact still finds it.
    found = answer(api.get("/model_artifact", name=name, parentResourceId=version["id"]), 200)
    assert found["storagePath"] == "moved"


def test_pager_reads_every_version_once_in_each_order(api, name):
    model = None
    for number in range(5):
        model, _, _ = register_model(api, name, f"v{number}")
    names = [f"v{number}" for number in range(5)]
    path = f"/registered_models/{model['id']}/versions"

    # get_model_versions(name).page_size(2).order_by_creation_time().descending()
    items, pages = client_pager(api, path, pageSize="2", orderBy="CREATE_TIME", sortOrder="DESC")
    assert [item["name"] for item in items] == names[::-1]
    assert all(page["pageSize"] == 2 and page["size"] <= 2 for page in pages)
    # Every page before the last version says where to go on.
    seen = 0
    for page in pages:
        seen += len(page["items"])
        if seen < len(names):
            assert page["nextPageToken"]
    # By id, ascending (the default ordering), one page holding all of them.
    items, _ = client_pager(api, path, pageSize="100")
    assert [item["name"] for item in items] == names
    assert all(item["registeredModelId"] == model["id"] for item in items)
    # get_registered_models(): every model, once.
    items, _ = client_pager(api, "/registered_models", pageSize="3")
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) and model["id"] in ids
    assert ids == sorted(ids, key=int)


# -- experiments and runs -------------------------------------------------------------------


def start_experiment_run(api: Rest, experiment: str) -> tuple[dict, dict]:
    """``start_experiment_run(experiment_name=..., owner="o", description="d")``: get or create
    the experiment by name (``_get_or_create_experiment`` then ``upsert_experiment`` each look
    it up), then create a run with a generated name."""
    found = api.get("/experiment", name=experiment)
    if found.status_code == 404:
        assert_error(found, 404)
        assert_error(api.get("/experiment", name=experiment), 404)
        body = {"description": "d", "name": experiment, "owner": "o"}
        created = answer(api.post("/experiments", body), 201)
    else:
        created = answer(found, 200)
    body = {"name": run_name(), "status": "RUNNING", "experimentId": created["id"]}
    run = answer(api.post("/experiment_runs", body), 201)
    return created, run


def resume_run(api: Rest, experiment: dict, run: dict) -> None:
    """``start_experiment_run(experiment_id=..., run_id=...)``: the experiment by id, then by
    the name it read, then the run by id."""
    assert answer(api.get(f"/experiments/{experiment['id']}"), 200) == experiment
    assert answer(api.get("/experiment", name=experiment["name"]), 200) == experiment
    answer(api.get(f"/experiment_runs/{run['id']}"), 200)


def log(api: Rest, run: dict, body: dict) -> dict:
    """One upsert of ``ActiveExperimentRun.__exit__``: upstream answers 200, new or not."""
    logged = answer(api.post(f"/experiment_runs/{run['id']}/artifacts", body), 200)
    return resource(logged, experimentId=run["experimentId"], experimentRunId=run["id"])


def param(name: str, value: str, kind: str) -> dict:
    body = {"name": name, "artifactType": "parameter", "value": value, "parameterType": kind}
    return {**body, "state": "UNKNOWN"}


def metric(name: str, value: float, step: int, **extra) -> dict:
    body = {"name": name, "artifactType": "metric", "value": value, "timestamp": now_ms()}
    return {**extra, **body, "step": step, "state": "LIVE"}


def test_start_a_run_log_to_it_and_read_the_logs(api, name):
    experiment, run = start_experiment_run(api, name)
    resource(experiment, name=name, owner="o", description="d", state="LIVE")
    resource(run, name=str, experimentId=experiment["id"], status="RUNNING", state="LIVE")
    assert run["name"].startswith("run_")

    # The with block's exit: parameters, then metrics, then datasets, in the order logged.
    lr = log(api, run, param("lr", "0.1", "number"))
    resource(lr, name="lr", artifactType="parameter", value="0.1", parameterType="number")
    optimizer = log(api, run, param("optimizer", "adam", "string"))
    shuffle = log(api, run, param("shuffle", "True", "boolean"))  # str(True), as the client
    loss = log(api, run, metric("loss", 0.5, 2, description="l"))
    resource(loss, name="loss", artifactType="metric", value=0.5, step=int, timestamp=str)
    assert loss["step"] == 2 and loss["description"] == "l"
    dataset_body = {
        "name": "train",
        "artifactType": "dataset-artifact",
        "sourceType": "s3",
        "source": "bucket",
        "schema": '{"columns": ["x"]}',
        "profile": "rows=10",
        "uri": "s3://bucket/train.csv",
        "state": "UNKNOWN",
    }
    dataset = log(api, run, dataset_body)
    resource(dataset, **dataset_body)
    logged = [lr, optimizer, shuffle, loss, dataset]

    # get_experiment_run_logs(run_id=...)
    items, _ = client_pager(api, f"/experiment_runs/{run['id']}/artifacts")
    assert [item["name"] for item in items] == ["lr", "optimizer", "shuffle", "loss", "train"]
    assert [item["artifactType"] for item in items] == [
        "parameter",
        "parameter",
        "parameter",
        "metric",
        "dataset-artifact",
    ]
    assert items == logged
    assert {item["experimentRunId"] for item in items} == {run["id"]}

    # get_experiment_run_logs(run_name=..., experiment_name=...): the run among the first 100.
    assert answer(api.get("/experiment", name=name), 200)["id"] == experiment["id"]
    runs, _ = client_pager(api, f"/experiments/{experiment['id']}/experiment_runs", pageSize="100")
    assert [item["id"] for item in runs if item["name"] == run["name"]] == [run["id"]]

    # get_experiment_run(run_id), get_experiments()
    assert answer(api.get(f"/experiment_runs/{run['id']}"), 200) == run
    experiments, _ = client_pager(api, "/experiments")
    assert [item for item in experiments if item["name"] == name] == [experiment]

    # Types and ArtifactTypeQueryParam: one run's artifacts of one type.
    for artifact_type, names in (
        ("parameter", ["lr", "optimizer", "shuffle"]),
        ("metric", ["loss"]),
        ("dataset-artifact", ["train"]),
        ("model-artifact", []),
    ):
        path = f"/experiment_runs/{run['id']}/artifacts"
        items, _ = client_pager(api, path, artifactType=artifact_type, pageSize="2")
        assert [item["name"] for item in items] == names


def test_resumed_run_updates_its_logs_and_keeps_metric_history(api, name):
    experiment, run = start_experiment_run(api, name)
    first = log(api, run, param("lr", "0.1", "number"))
    metric_ids = set()
    for step, value in enumerate([0.9, 0.5, 0.3]):
        resume_run(api, experiment, run)
        logged = log(api, run, metric("loss", value, step))
        resource(logged, name="loss", value=value, step=step)
        metric_ids.add(logged["id"])
    # Logged again by name: the same metric, holding its latest value.
    assert len(metric_ids) == 1
    again = log(api, run, param("lr", "0.05", "number"))
    assert again["id"] == first["id"] and again["value"] == "0.05"
    items, _ = client_pager(api, f"/experiment_runs/{run['id']}/artifacts")
    assert [(item["name"], item["value"]) for item in items] == [("lr", "0.05"), ("loss", 0.3)]

    # get_experiment_run_metric_history: every value, each a Metric of its own.
    history_path = f"/experiment_runs/{run['id']}/metric_history"
    history, _ = client_pager(api, history_path, name="loss")
    assert [(m["step"], m["value"]) for m in history] == [(0, 0.9), (1, 0.5), (2, 0.3)]
    for entry in history:
        resource(entry, name="loss", artifactType="metric", step=int, timestamp=str)
        assert entry["experimentRunId"] == run["id"]
        assert entry["experimentId"] == experiment["id"]
    assert len({entry["id"] for entry in history} | metric_ids) == 4
    steps, _ = client_pager(api, history_path, stepIds="0,2")
    assert sorted(m["step"] for m in steps) == [0, 2]
    newest, pages = client_pager(api, history_path, pageSize="2", orderBy="ID", sortOrder="DESC")
    assert [m["step"] for m in newest] == [2, 1, 0] and pages[0]["nextPageToken"]

    # get_experiment_runs_metric_history: across runs, chosen by filterQuery.
    _, other = start_experiment_run(api, name)
    log(api, other, metric("loss", 0.8, 0))
    log(api, other, metric("accuracy", 0.6, 0))
    query = f"experimentRunId IN ({run['id']}, {other['id']})"
    across, _ = client_pager(api, "/experiment_runs/metric_history", filterQuery=query)
    assert sorted((m["experimentRunId"], m["name"], m["step"]) for m in across) == sorted(
        [(run["id"], "loss", step) for step in range(3)]
        + [(other["id"], "loss", 0), (other["id"], "accuracy", 0)]
    )
    named, _ = client_pager(api, "/experiment_runs/metric_history", filterQuery=query, name="loss")
    assert len(named) == 4 and {m["name"] for m in named} == {"loss"}

    # get_experiment_runs(experiment_name=...): both runs of the experiment, in order.
    runs, _ = client_pager(api, f"/experiments/{experiment['id']}/experiment_runs")
    assert [item["id"] for item in runs] == [run["id"], other["id"]]


def test_run_is_ended_by_updating_its_status(api, name):
    """``update_experiment_run`` of the generated API, with an ``ExperimentRunUpdate`` body."""
    experiment, _ = start_experiment_run(api, name)
    start = int(now_ms())
    body = {
        "name": run_name(),
        "status": "RUNNING",
        "experimentId": experiment["id"],
        "startTimeSinceEpoch": str(start),
    }
    run = answer(api.post(f"/experiments/{experiment['id']}/experiment_runs", body), 201)
    resource(run, startTimeSinceEpoch=str(start), experimentId=experiment["id"])

    early = {"endTimeSinceEpoch": str(start - 1), "status": "FINISHED", "state": "LIVE"}
    assert_error(api.patch(f"/experiment_runs/{run['id']}", early), 400, "EndTimeSinceEpoch")
    unchanged = answer(api.get(f"/experiment_runs/{run['id']}"), 200)
    assert unchanged["status"] == "RUNNING" and "endTimeSinceEpoch" not in unchanged

    ended = {"endTimeSinceEpoch": str(start + 5), "status": "FINISHED", "state": "LIVE"}
    finished = answer(api.patch(f"/experiment_runs/{run['id']}", ended), 200)
    resource(
        finished,
        id=run["id"],
        name=run["name"],
        experimentId=experiment["id"],
        status="FINISHED",
        state="LIVE",
        startTimeSinceEpoch=str(start),
        endTimeSinceEpoch=str(start + 5),
    )
    body = {**body, "name": run_name(), "endTimeSinceEpoch": str(start - 1)}
    assert_error(api.post("/experiment_runs", body), 400, "EndTimeSinceEpoch")

    runs, _ = client_pager(api, f"/experiments/{experiment['id']}/experiment_runs")
    assert {item["id"]: item["status"] for item in runs}[run["id"]] == "FINISHED"


def test_artifacts_of_a_run_are_found_by_filter_query_and_type(api, name):
    """``ModelRegistryAPIClient.get_artifacts(filter_query=..., artifact_type=...,
    options=ListOptions(limit=5))``."""
    _, run = start_experiment_run(api, name)
    _, other = start_experiment_run(api, name)
    for target in (run, other):
        log(api, target, param("lr", "0.1", "number"))
        log(api, target, metric("loss", 0.5, 0))
        log(api, target, metric("accuracy", 0.7, 0))
    query = f"experimentRunId IN ({run['id']})"
    items, pages = client_pager(
        api, "/artifacts", filterQuery=query, artifactType="metric", pageSize="5"
    )
    assert [(item["name"], item["experimentRunId"]) for item in items] == [
        ("loss", run["id"]),
        ("accuracy", run["id"]),
    ]
    assert pages[0]["pageSize"] == 5
    both = f"experimentRunId IN ({run['id']}, {other['id']})"
    items, _ = client_pager(api, "/artifacts", filterQuery=both, artifactType="parameter")
    assert [item["experimentRunId"] for item in items] == [run["id"], other["id"]]
    items, _ = client_pager(api, "/artifacts", filterQuery=both, orderBy="CREATE_TIME")
    assert len(items) == 6 and [item["id"] for item in items] == sorted(
        (item["id"] for item in items), key=int
    )


def test_create_experiment_gets_or_updates_by_name(api, name):
    """``create_experiment(name)`` twice: the second finds it and patches it with nothing."""
    assert_error(api.get("/experiment", name=name), 404)
    created = answer(api.post("/experiments", {"name": name}), 201)
    resource(created, name=name, state="LIVE")
    found = answer(api.get("/experiment", name=name), 200)
    assert found == created
    again = answer(api.patch(f"/experiments/{found['id']}", {}), 200)
    resource(again, id=created["id"], name=name, state="LIVE")


def test_what_upstream_refuses_the_client_sees_refused(api, name):
    experiment, run = start_experiment_run(api, name)
    path = f"/experiment_runs/{run['id']}/artifacts"
    no_value = {"name": "loss", "artifactType": "metric", "step": 0, "state": "LIVE"}
    assert_error(api.post(path, no_value), 400, "value")
    assert answer(api.get(path), 200)["items"] == []
    # core.get_experiment_runs_by_experiment_id turns this 404 into "no runs".
    assert_error(api.get("/experiments/999999999/experiment_runs", sortOrder="ASC"), 404)
    assert_error(api.get("/experiment_runs/999999999"), 404)
    assert_error(api.get("/experiment_runs/999999999/metric_history"), 404)
    assert_error(api.get(f"/experiment_runs/{run['id']}/metric_history", stepIds="one"), 400)
    missing = {"name": run_name(), "status": "RUNNING", "experimentId": "999999999"}
    assert_error(api.post("/experiment_runs", missing), 404)
    twice = {"name": run["name"], "status": "RUNNING", "experimentId": experiment["id"]}
    assert_error(api.post("/experiment_runs", twice), 409)
    assert_error(api.post(path, {**param("lr", "1", "number"), "parameterType": "int"}), 400)


def test_a_metric_and_a_parameter_of_one_name_are_both_logged(api, name):
    """``run.log_param("lr", 0.1)`` and ``run.log_metric("lr", 0.5)`` in one run: upstream
    stores both, since it keeps names unique per artifact type (its Artifact table is
    ``UNIQUE (type_id, name)``, ``internal/platform/db/mysql/migrations/
    000001_create_artifact_table.up.sql``), and logging one again by name updates that one."""
    _, run = start_experiment_run(api, name)
    parameter = log(api, run, param("lr", "0.1", "number"))
    loss = log(api, run, metric("lr", 0.5, 0))
    dataset = log(api, run, {"name": "lr", "artifactType": "dataset-artifact", "uri": "s3://d"})
    assert len({parameter["id"], loss["id"], dataset["id"]}) == 3
    again = log(api, run, param("lr", "0.2", "number"))
    assert again["id"] == parameter["id"] and again["value"] == "0.2"
    later = log(api, run, metric("lr", 0.25, 1))
    assert later["id"] == loss["id"] and later["value"] == 0.25

    items, _ = client_pager(api, f"/experiment_runs/{run['id']}/artifacts")
    assert [(item["name"], item["artifactType"], item.get("value")) for item in items] == [
        ("lr", "parameter", "0.2"),
        ("lr", "metric", 0.25),
        ("lr", "dataset-artifact", None),
    ]
    history, _ = client_pager(api, f"/experiment_runs/{run['id']}/metric_history", name="lr")
    assert [(m["step"], m["value"]) for m in history] == [(0, 0.5), (1, 0.25)]

    # A model artifact and a doc artifact of one name under one version, likewise.
    _, version, artifact = register_model(api, name, "1")
    doc = {"name": artifact["name"], "artifactType": "doc-artifact", "uri": "https://d/readme"}
    answer(api.post(f"/model_versions/{version['id']}/artifacts", doc), 201)
    items, _ = client_pager(api, f"/model_versions/{version['id']}/artifacts")
    assert [(item["name"], item["artifactType"]) for item in items] == [
        (name, "model-artifact"),
        (name, "doc-artifact"),
    ]


def test_metric_history_is_chosen_by_a_part_of_the_name(api, name):
    """``get_experiment_run_metric_history(name=...)``: upstream's
    ``applyMetricHistoryListFilters`` (``internal/db/service/metric_history.go``) filters with
    ``name LIKE '%<name>%'``."""
    _, run = start_experiment_run(api, name)
    for metric_name in ("loss", "val_loss", "accuracy"):
        log(api, run, metric(metric_name, 0.5, 0))
    path = f"/experiment_runs/{run['id']}/metric_history"
    for part, expected in (
        ("loss", ["loss", "val_loss"]),
        ("val_", ["val_loss"]),
        ("acc", ["accuracy"]),
        ("los", ["loss", "val_loss"]),
        ("precision", []),
    ):
        items, _ = client_pager(api, path, name=part)
        assert [item["name"] for item in items] == expected, part
    query = f"experimentRunId IN ({run['id']})"
    across, _ = client_pager(api, "/experiment_runs/metric_history", filterQuery=query, name="ss")
    assert [item["name"] for item in across] == ["loss", "val_loss"]


def test_listings_end_on_the_page_of_their_last_item(api, name):
    """What upstream's ``GenericRepository.List`` (``internal/platform/db/repository/
    generic_repository.go``) answers and its client's pager does with it: the page holding the
    last item has an empty token, and the pager notices the end by reading the first page once
    more (its token is the one it started with). Without ``pageSize`` (``get_registered_models()``
    sends none, ``types/options.py``) one page holds everything (``DefaultPageSize = 0``)."""
    model = None
    for number in range(5):
        model, _, _ = register_model(api, name, f"v{number}")
    path = f"/registered_models/{model['id']}/versions"
    items, pages = client_pager(api, path, pageSize="2")
    assert [item["name"] for item in items] == [f"v{number}" for number in range(5)]
    assert [page["size"] for page in pages] == [2, 2, 1, 2]
    assert [bool(page["nextPageToken"]) for page in pages] == [True, True, False, True]

    items, pages = client_pager(api, path)
    assert len(items) == 5 and len(pages) == 2
    assert pages[0]["pageSize"] == 0 and pages[0]["nextPageToken"] == ""
    # An order upstream does not know falls back to ID, ascending, rather than failing.
    items, _ = client_pager(api, path, orderBy="NAME", sortOrder="DOWN")
    assert [item["id"] for item in items] == sorted((item["id"] for item in items), key=int)


# -- upstream's client e2e suite: clients/python/tests/regression_test.py ---------------------


def test_malformed_registered_model_gets_upstreams_error_word_for_word(api):
    """``test_as_mlops_engineer_i_would_like_to_store_a_malformed_registered_model_i_get_a_
    structured_error_message``: the whole body is compared. Upstream's controller decodes with
    ``DisallowUnknownFields`` (``CreateRegisteredModel`` in ``internal/server/openapi/
    api_model_registry_service.go``), so the message is Go's decoder error."""
    response = api.post("/registered_models", {"name": "test_model", "ext_id": 123})
    assert response.status_code == 400
    assert response.json() == {"code": "Bad Request", "message": 'json: unknown field "ext_id"'}


def test_malformed_model_version_gets_upstreams_error_word_for_word(api, name):
    """``test_as_mlops_engineer_i_would_like_to_store_a_malformed_model_version_i_get_a_
    structured_error_message``: upstream's ``RequiredError`` (``internal/server/openapi/
    error.go``) is sent with status 422 and the 400 body (``DefaultErrorHandler``)."""
    model, _, _ = register_model(api, name, "1.0.0")
    response = api.post("/model_versions", {"registeredModelId": model["id"]})
    assert response.status_code == 422
    assert response.json() == {
        "code": "Bad Request",
        "message": "required field 'name' is zero value.",
    }


def test_update_bodies_have_no_output_fields(api, name):
    """``update(model)`` sends a ``RegisteredModelUpdate``, which has no id, times or name;
    upstream refuses a PATCH body holding one (``UpdateRegisteredModel``, ``DisallowUnknownFields``)
    and changes nothing."""
    model, version, _ = register_model(api, name, "1.0.0")
    for path, resource_, field in (
        (f"/registered_models/{model['id']}", model, "id"),
        (f"/registered_models/{model['id']}", model, "name"),
        (f"/model_versions/{version['id']}", version, "createTimeSinceEpoch"),
    ):
        response = api.patch(path, {field: resource_[field], "description": "changed"})
        assert response.status_code == 400, response.text
        assert response.json() == {
            "code": "Bad Request",
            "message": f'json: unknown field "{field}"',
        }
        assert answer(api.get(path), 200) == resource_
