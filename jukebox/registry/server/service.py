"""The registry's operations on any kind of resource: create, update, get, find, list.

This is where request bodies are checked against the resource table (``resources.py``), defaults
are filled in, parents and references are checked to exist, and documents are written through
the store in one transaction. HTTP lives in ``app.py``; SQL lives in ``store.py``.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import ValidationError

from jukebox.registry.server.errors import BadRequest, NotFound, RequiredMissing
from jukebox.registry.server.filters import filter_to_sql
from jukebox.registry.server.resources import (
    ARTIFACT_OUTPUT_FIELDS,
    ARTIFACT_TYPES,
    GENERATED_NAMES,
    KINDS,
    MAX_NAME_LENGTH,
    OUTPUT_FIELDS,
    URI_FIELDS,
    Kind,
    body_model,
    kind_fields,
)
from jukebox.registry.server.store import Page, Store


def parse_body(raw: bytes) -> dict:
    """The JSON object of a request body; ``BadRequest`` for anything else."""
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"the request body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    return body


class Registry:
    """Resources of every kind over one store."""

    def __init__(self, store: Store):
        self.store = store

    # -- reading ----------------------------------------------------------------------------

    def get(self, kind: str, resource_id: str, artifact_type: str | None = None) -> dict:
        document = self.store.get(kind, resource_id, _label(kind, artifact_type))
        if artifact_type and document.get("artifactType") != artifact_type:
            raise NotFound(f"{_label(kind, artifact_type)} with id {resource_id} not found")
        return document

    def find(
        self,
        kind: str,
        *,
        name: str | None,
        external_id: str | None,
        parent_id: str | None,
        artifact_type: str | None = None,
    ) -> dict:
        if not name and not external_id:
            raise BadRequest("give the name or the externalId of what to find")
        found = self.store.find(
            kind,
            name=name,
            external_id=external_id,
            parent_id=parent_id,
            artifact_type=artifact_type,
        )
        if found is None:
            criteria = ", ".join(
                f"{key} {value!r}"
                for key, value in (
                    ("name", name),
                    ("externalId", external_id),
                    ("parentResourceId", parent_id),
                )
                if value
            )
            raise NotFound(f"no {_label(kind, artifact_type)} with {criteria}")
        return found

    def list(
        self,
        kind: str,
        *,
        parent: tuple[str, str] | None = None,
        artifact_type: str | None = None,
        **options: Any,
    ) -> Page:
        """A page of ``kind``; with ``parent`` (kind, id), only the children of that resource."""
        parent_id = None
        if parent is not None:
            parent_kind, parent_id = parent
            if not self.store.exists(parent_kind, parent_id):
                raise NotFound(f"{_label(parent_kind)} with id {parent_id} not found")
        if artifact_type is not None and artifact_type not in ARTIFACT_TYPES:
            raise BadRequest(_artifact_type_message(artifact_type))
        query = options.pop("filter_query", None)
        condition = filter_to_sql(query, kind) if query and query.strip() else None
        return self.store.list(
            kind, parent_id=parent_id, artifact_type=artifact_type, condition=condition, **options
        )

    # -- writing ----------------------------------------------------------------------------

    def create(
        self,
        kind: str,
        body: dict,
        *,
        parent: tuple[str, str] | None = None,
        artifact_type: str | None = None,
        strict: bool = False,
    ) -> dict:
        """Create a resource from a request body.

        ``parent`` (kind, id) comes from the path of a nested route (``/registered_models/1/
        versions``); otherwise a kind with a parent takes its id from the body.
        ``artifact_type`` is fixed by the route (``/model_artifacts``) or read from the body.
        ``strict``: the body is a ``*Create`` schema, which has no output-only field (see
        ``_refuse_unknown``); otherwise the resource's whole schema, whose output-only fields
        are ignored.
        """
        spec = KINDS[kind]
        if strict:
            _refuse_unknown(body, _create_fields(spec, artifact_type))
        if kind == "artifact":
            artifact_type = _artifact_type(body, artifact_type)
        if not strict:
            _refuse_unknown(body, _whole_fields(spec, artifact_type))
        if spec.parent is not None and parent is not None:
            parent_field = spec.parent[0]
            given = body.get(parent_field)
            if given is not None and given != parent[1]:
                raise BadRequest(
                    f"{parent_field} {given} in the body differs from {parent[1]} in the path"
                )
            body = {**body, parent_field: parent[1]}
        _check_required(kind, body, artifact_type)
        document = {**spec.defaults, **_validate(kind, body, True, artifact_type)}
        if artifact_type:
            document["artifactType"] = artifact_type
        _check_document(document)
        if kind in GENERATED_NAMES and not document.get("name"):
            document["name"] = str(uuid.uuid4())
        if spec.parent is not None:
            parent_field, parent_kind = spec.parent
            parent = (parent_kind, document[parent_field])
        parent_id = parent[1] if parent is not None else None
        _check_name_length(document.get("name"), parent_id, _label(kind, artifact_type))
        with self.store.write() as connection:
            run = None
            if parent is not None:
                parent_kind = parent[0]
                parent_document, _ = self.store.load(
                    connection, parent_kind, parent_id, _label(parent_kind)
                )
                if kind == "artifact" and parent_kind == "experiment_run":
                    run = parent_document
                    _mark_run(document, run)
            self._check_references(connection, kind, document)
            created = self.store.insert(
                connection, kind, document, parent_id=parent_id, label=_label(kind, artifact_type)
            )
            if run is not None:
                self._record_metric_history(connection, created, run)
            return created

    def update(
        self,
        kind: str,
        resource_id: str,
        body: dict,
        *,
        artifact_type: str | None = None,
        strict: bool = False,
    ) -> dict:
        """Apply a partial update (PATCH): given fields replace stored ones; null removes one.

        ``strict``: the body is an ``*Update`` schema, which has neither output-only fields nor
        those fixed at creation (``name``, the parent's id); otherwise (``/artifacts/{id}``, an
        upsert) such fields are ignored.
        """
        label = _label(kind, artifact_type)
        spec = KINDS[kind]
        if strict:
            # Before looking the resource up: upstream decodes the body first.
            _refuse_unknown(body, _update_fields(spec, artifact_type))
        with self.store.write() as connection:
            document, parent_id = self.store.load(connection, kind, resource_id, label)
            stored_type = document.get("artifactType")
            if artifact_type and stored_type != artifact_type:
                raise NotFound(f"{label} with id {resource_id} not found")
            given_type = body.get("artifactType")
            if "artifactType" in body and given_type is None:
                raise BadRequest(
                    f"artifactType cannot be null: artifact {resource_id} is a {stored_type}"
                )
            if stored_type and given_type not in (None, stored_type):
                raise BadRequest(
                    f"artifact {resource_id} is a {stored_type}; its type cannot become"
                    f" {given_type}"
                )
            if not strict:
                _refuse_unknown(body, _whole_fields(spec, stored_type))
            _check_nulls(kind, body, stored_type)
            changes = _validate(kind, body, False, stored_type)
            for key, value in changes.items():
                if value is None:
                    document.pop(key, None)
                else:
                    document[key] = value
            _check_document(document)
            self._check_references(connection, kind, document)
            return self.store.replace(connection, document, parent_id=parent_id, label=label)

    def upsert_child_artifact(self, parent: tuple[str, str], body: dict) -> tuple[dict, bool]:
        """``POST /model_versions/{id}/artifacts``: update the artifact with the body's id and
        attach it to the version, or create a new artifact of the version.

        Returns the artifact and whether it was created.
        """
        parent_kind, parent_id = parent
        artifact_id = body.get("id")
        if artifact_id is None and _is_named_log(body):
            # Logging a metric or a parameter again under the same parent updates it (and adds to
            # a run's metric history), as upstream does: the newest client logs them by name, with
            # no id, each time a run is resumed.
            existing = self.store.find(
                "artifact",
                name=body["name"],
                parent_id=parent_id,
                artifact_type=body["artifactType"],
            )
            if existing is not None:
                artifact_id = existing["id"]
        if artifact_id is None:
            return self.create("artifact", body, parent=parent), True
        if not isinstance(artifact_id, str):
            raise BadRequest(f"id must be a string of digits, not {artifact_id!r}")
        with self.store.write() as connection:
            self.store.load(connection, parent_kind, parent_id, _label(parent_kind))
            _, current_parent = self.store.load(
                connection, "artifact", str(artifact_id), "artifact"
            )
            if current_parent in (None, parent_id):
                connection.execute(
                    "UPDATE resource SET parent_id = ? WHERE id = ?",
                    (int(parent_id), int(artifact_id)),
                )
            else:
                # Already another's (a version's artifact logged under the run that made it):
                # attributed to this parent too, as upstream's Attribution links one artifact
                # to several contexts.
                connection.execute(
                    "INSERT OR IGNORE INTO attribution (parent_id, child_id) VALUES (?, ?)",
                    (int(parent_id), int(artifact_id)),
                )
        updated = self.update("artifact", str(artifact_id), body)
        if parent_kind != "experiment_run":
            return updated, False
        with self.store.write() as connection:
            run, _ = self.store.load(connection, parent_kind, parent_id, _label(parent_kind))
            document, own_parent = self.store.load(
                connection, "artifact", str(artifact_id), "artifact"
            )
            _mark_run(document, run)
            updated = self.store.replace(
                connection, document, parent_id=own_parent, label=_label("artifact")
            )
            self._record_metric_history(connection, updated, run)
        return updated, False

    def _record_metric_history(self, connection, metric: dict, run: dict) -> None:
        """Each value a metric takes under a run is kept: ``/experiment_runs/.../metric_history``
        lists them (upstream keeps them as artifacts of a type of their own)."""
        if metric.get("artifactType") != "metric":
            return
        entry = {
            key: value for key, value in metric.items() if key not in (*OUTPUT_FIELDS, "externalId")
        }
        self.store.insert(
            connection,
            HISTORY,
            entry,
            parent_id=run["id"],
            label="metric history",
            unique_name=False,
        )

    def metric_history(
        self,
        run_id: str | None,
        *,
        name: str | None,
        step_ids: str | None,
        **options: Any,
    ) -> Page:
        """The history of metrics logged under one run (or under every run), optionally only of
        metrics whose name contains ``name`` and of the steps ``step_ids``."""
        if run_id is not None and not self.store.exists("experiment_run", run_id):
            raise NotFound(f"experiment run with id {run_id} not found")
        clauses: list[str] = []
        params: list = []
        if name:
            # A part of the name, as upstream: applyMetricHistoryListFilters
            # (internal/db/service/metric_history.go) filters with `name LIKE '%<name>%'`, the
            # value's own % and _ left as wildcards.
            clauses.append("json_extract(body, '$.name') LIKE '%' || ? || '%'")
            params.append(name)
        if step_ids:
            steps = _step_ids(step_ids)
            clauses.append(f"json_extract(body, '$.step') IN ({', '.join('?' * len(steps))})")
            params.extend(steps)
        query = options.pop("filter_query", None)
        if query and query.strip():
            sql, values = filter_to_sql(query, "artifact")
            clauses.append(f"({sql})")
            params.extend(values)
        condition = (" AND ".join(clauses), params) if clauses else None
        return self.store.list(HISTORY, parent_id=run_id, condition=condition, **options)

    def _check_references(self, connection, kind: str, document: dict) -> None:
        for field, target in KINDS[kind].references.items():
            if document.get(field) is not None:
                self.store.load(connection, target, document[field], _label(target))


HISTORY = "metric_history"


def _is_named_log(body: dict) -> bool:
    return body.get("artifactType") in ("metric", "parameter") and isinstance(body.get("name"), str)


def _check_document(document: dict) -> None:
    """Refuse, as upstream's server does, a record that passes the schema but makes no sense:
    a metric without a value, a run that ends before it starts."""
    if document.get("artifactType") == "metric" and document.get("value") is None:
        raise BadRequest("metric value is required: give the metric its value")
    start, end = document.get("startTimeSinceEpoch"), document.get("endTimeSinceEpoch")
    if start is None or end is None:
        return
    try:
        start_ms, end_ms = int(start), int(end)
    except ValueError:
        raise BadRequest(
            "startTimeSinceEpoch and endTimeSinceEpoch must be whole numbers of milliseconds,"
            f" not {start!r} and {end!r}"
        ) from None
    if end_ms < start_ms:
        raise BadRequest(
            f"EndTimeSinceEpoch ({end_ms}) cannot be less than StartTimeSinceEpoch ({start_ms})"
        )


def _mark_run(document: dict, run: dict) -> None:
    """An artifact logged under a run carries the run's and its experiment's ids, so
    ``filterQuery=experimentRunId IN (...)`` finds it."""
    document["experimentId"] = run["experimentId"]
    document["experimentRunId"] = run["id"]


def _step_ids(value: str) -> list[int]:
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise BadRequest(
            f"stepIds must be whole numbers separated by commas, such as 1,2,3; not {value!r}"
        ) from None


def _check_name_length(name: object, parent_id: str | None, label: str) -> None:
    if not isinstance(name, str):
        return
    stored = f"{parent_id}:{name}" if parent_id else name
    if len(stored) > MAX_NAME_LENGTH:
        limit = MAX_NAME_LENGTH - (len(stored) - len(name))
        raise BadRequest(
            f"the {label} name is {len(name)} characters long; at most {limit} are allowed here"
        )


def _refuse_unknown(body: dict, allowed: set[str]) -> None:
    """Refuse a field the body's schema does not have, in upstream's words exactly.

    Upstream decodes each body with ``json.Decoder.DisallowUnknownFields``
    (``internal/server/openapi/api_model_registry_service.go``), so its answer is the
    decoder's error text, ``json: unknown field "<name>"``, for the first such field in the
    body; its client's e2e suite (``clients/python/tests/regression_test.py``) compares the
    whole Error body with it."""
    for key in body:
        if key not in allowed:
            raise BadRequest(f'json: unknown field "{key}"')


def _create_fields(spec: Kind, artifact_type: str | None) -> set[str]:
    """The fields of the kind's ``*Create`` schema (``RegisteredModelCreate``...)."""
    return set(kind_fields(spec, artifact_type)) - set(spec.not_in_create)


def _update_fields(spec: Kind, artifact_type: str | None) -> set[str]:
    """The fields of the kind's ``*Update`` schema: no name, no parent, nothing set once."""
    return set(kind_fields(spec, artifact_type)) - set(spec.immutable)


def _whole_fields(spec: Kind, artifact_type: str | None) -> set[str]:
    """The fields of the kind's whole schema (``ModelVersion``, ``Artifact``), which some routes
    take as a body: output-only fields are known there, and ignored."""
    known = set(kind_fields(spec, artifact_type)) | set(OUTPUT_FIELDS) | set(spec.immutable)
    if spec.name == "artifact":
        known |= set(ARTIFACT_OUTPUT_FIELDS)
    return known


def _check_required(kind: str, body: dict, artifact_type: str | None) -> None:
    """A missing or empty required field is 422, in upstream's words exactly: its
    ``RequiredError`` (``internal/server/openapi/error.go``) says ``required field 'name' is
    zero value.``, and its client's e2e suite compares the whole Error body with it."""
    for key in KINDS[kind].required:
        if body.get(key) in (None, ""):
            raise RequiredMissing(f"required field '{key}' is zero value.")


def _check_nulls(kind: str, body: dict, artifact_type: str | None) -> None:
    """Refuse a null that would leave the stored record invalid."""
    spec = KINDS[kind]
    for key in (*spec.required, *spec.defaults):
        if key in body and body[key] is None and key not in spec.immutable:
            raise BadRequest(
                f"{key} cannot be null: a {_label(kind, artifact_type)} needs one; "
                "give a value or leave the field out"
            )


def _validate(kind: str, body: dict, creating: bool, artifact_type: str | None) -> dict:
    """The body's changes as the kind's pydantic model reads them (fields checked already)."""
    output = (*OUTPUT_FIELDS, *ARTIFACT_OUTPUT_FIELDS) if kind == "artifact" else OUTPUT_FIELDS
    body = {key: value for key, value in body.items() if key not in output}
    # An empty string is no URI, and no artifact name: neither is stored (as upstream).
    for key in URI_FIELDS:
        if body.get(key) == "":
            if creating:
                del body[key]
            else:
                body[key] = None
    if creating and kind in GENERATED_NAMES and body.get("name") == "":
        del body["name"]
    try:
        model = body_model(kind, creating, artifact_type).model_validate(body)
    except ValidationError as error:
        raise BadRequest(_describe(error, _label(kind, artifact_type))) from None
    if creating:
        return model.model_dump(exclude_none=True)
    return model.model_dump(exclude_unset=True)


def _artifact_type(body: dict, fixed: str | None) -> str:
    given = body.get("artifactType")
    if given is not None and not isinstance(given, str):
        raise BadRequest(
            f"artifactType must be a string, one of {', '.join(ARTIFACT_TYPES)}; "
            f"not {json.dumps(given)}"
        )
    if fixed:
        if given not in (None, fixed):
            raise BadRequest(f"artifactType must be {fixed!r} here, not {given!r}")
        return fixed
    if given is None:
        raise BadRequest(f"artifactType is required: one of {', '.join(ARTIFACT_TYPES)}")
    if given not in ARTIFACT_TYPES:
        raise BadRequest(_artifact_type_message(given))
    return given


def _artifact_type_message(given: Any) -> str:
    return f"artifactType {given!r} is not known; use one of {', '.join(ARTIFACT_TYPES)}"


def _label(kind: str, artifact_type: str | None = None) -> str:
    if artifact_type:
        return artifact_type.replace("-", " ")
    return KINDS[kind].label


def _describe(error: ValidationError, label: str) -> str:
    """One readable sentence per problem, naming the field by its path in the body."""
    problems = []
    for item in error.errors(include_url=False):
        # Drop the union tags pydantic adds to the path of a custom property value.
        path = ".".join(str(part) for part in item["loc"] if not str(part).startswith("Metadata"))
        problems.append(f"{path or 'body'}: {item['msg']}")
    return f"invalid {label}: " + "; ".join(problems)
