"""The registry's operations on any kind of resource: create, update, get, find, list.

This is where request bodies are checked against the resource table (``resources.py``), defaults
are filled in, parents and references are checked to exist, and documents are written through
the store in one transaction. HTTP lives in ``app.py``; SQL lives in ``store.py``.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from jukebox.registry.server.errors import BadRequest, NotFound
from jukebox.registry.server.filters import filter_to_sql
from jukebox.registry.server.resources import ARTIFACT_TYPES, KINDS, OUTPUT_FIELDS, body_model
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
    ) -> dict:
        """Create a resource from a request body.

        ``parent`` (kind, id) comes from the path of a nested route (``/registered_models/1/
        versions``); otherwise a kind with a parent takes its id from the body.
        ``artifact_type`` is fixed by the route (``/model_artifacts``) or read from the body.
        """
        spec = KINDS[kind]
        if kind == "artifact":
            artifact_type = _artifact_type(body, artifact_type)
        if spec.parent is not None and parent is not None:
            parent_field = spec.parent[0]
            given = body.get(parent_field)
            if given is not None and given != parent[1]:
                raise BadRequest(
                    f"{parent_field} {given} in the body differs from {parent[1]} in the path"
                )
            body = {**body, parent_field: parent[1]}
        document = {**spec.defaults, **_validate(kind, body, True, artifact_type)}
        if artifact_type:
            document["artifactType"] = artifact_type
        if spec.parent is not None:
            parent_field, parent_kind = spec.parent
            parent = (parent_kind, document[parent_field])
        parent_id = None
        with self.store.write() as connection:
            if parent is not None:
                parent_kind, parent_id = parent
                self.store.load(connection, parent_kind, parent_id, _label(parent_kind))
            self._check_references(connection, kind, document)
            return self.store.insert(
                connection, kind, document, parent_id=parent_id, label=_label(kind, artifact_type)
            )

    def update(
        self, kind: str, resource_id: str, body: dict, *, artifact_type: str | None = None
    ) -> dict:
        """Apply a partial update (PATCH): given fields replace stored ones; null removes one."""
        label = _label(kind, artifact_type)
        with self.store.write() as connection:
            document, parent_id = self.store.load(connection, kind, resource_id, label)
            stored_type = document.get("artifactType")
            if artifact_type and stored_type != artifact_type:
                raise NotFound(f"{label} with id {resource_id} not found")
            given_type = body.get("artifactType")
            if stored_type and given_type not in (None, stored_type):
                raise BadRequest(
                    f"artifact {resource_id} is a {stored_type}; its type cannot become"
                    f" {given_type}"
                )
            changes = _validate(kind, body, False, stored_type)
            for key, value in changes.items():
                if value is None:
                    document.pop(key, None)
                else:
                    document[key] = value
            self._check_references(connection, kind, document)
            return self.store.replace(connection, document, parent_id=parent_id, label=label)

    def upsert_child_artifact(self, parent: tuple[str, str], body: dict) -> tuple[dict, bool]:
        """``POST /model_versions/{id}/artifacts``: update the artifact with the body's id and
        attach it to the version, or create a new artifact of the version.

        Returns the artifact and whether it was created.
        """
        parent_kind, parent_id = parent
        artifact_id = body.get("id")
        if artifact_id is None:
            return self.create("artifact", body, parent=parent), True
        with self.store.write() as connection:
            self.store.load(connection, parent_kind, parent_id, _label(parent_kind))
            _, current_parent = self.store.load(
                connection, "artifact", str(artifact_id), "artifact"
            )
            if current_parent not in (None, parent_id):
                raise BadRequest(
                    f"artifact {artifact_id} belongs to {_label(parent_kind)} {current_parent}"
                )
            connection.execute(
                "UPDATE resource SET parent_id = ? WHERE id = ?", (int(parent_id), int(artifact_id))
            )
        return self.update("artifact", str(artifact_id), body), False

    def _check_references(self, connection, kind: str, document: dict) -> None:
        for field, target in KINDS[kind].references.items():
            if document.get(field) is not None:
                self.store.load(connection, target, document[field], _label(target))


def _validate(kind: str, body: dict, creating: bool, artifact_type: str | None) -> dict:
    body = {key: value for key, value in body.items() if key not in OUTPUT_FIELDS}
    try:
        model = body_model(kind, creating, artifact_type).model_validate(body)
    except ValidationError as error:
        raise BadRequest(_describe(error, _label(kind, artifact_type))) from None
    if creating:
        return model.model_dump(exclude_none=True)
    return model.model_dump(exclude_unset=True)


def _artifact_type(body: dict, fixed: str | None) -> str:
    given = body.get("artifactType")
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
