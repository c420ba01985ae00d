"""The resources of the Kubeflow Model Registry REST API, declared once as data.

Every resource of the API (registered models, model versions, artifacts, serving environments,
inference services, serves, experiments and their runs) is a JSON document with a few common
fields (``name``, ``externalId``, ``description``, ``customProperties``), a few fields of its
own, and sometimes a parent (a version belongs to a registered model). So the server stores,
validates and serves them all the same way; this module says what differs between them, and
builds the pydantic models that check request bodies from that table.

The schemas follow the ``mr_openapi`` module generated from the upstream OpenAPI document (the
one the official ``model-registry`` Python client uses), including its patterns: ids are strings
of 1 to 9 digits, and ``MetadataIntValue.int_value`` is a string of at most 9 digits.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)
from pydantic import create_model as pydantic_model

ID_PATTERN = r"^[1-9][0-9]{0,8}$"
Id = Annotated[str, Field(strict=True, pattern=ID_PATTERN)]
Number = StrictFloat | StrictInt
# A metric's step: an integer (int64) as upstream's spec has it; the 0.3.x client's string of
# digits is accepted too, and stored as the integer.
Step = Annotated[
    Annotated[StrictInt, Field(ge=-(2**63), lt=2**63)]
    | Annotated[str, Field(strict=True, pattern=r"^-?[0-9]{1,18}$")],
    AfterValidator(int),
]
MAX_NAME_LENGTH = 255
"""Upstream stores a child's name as ``<parentId>:<name>`` in a column of 255 characters."""


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetadataIntValue(_Value):
    metadataType: Literal["MetadataIntValue"]  # noqa: N815 (names are the API's)
    # The API's pattern: larger numbers cannot be read back by the official client.
    int_value: Annotated[str, Field(strict=True, pattern=r"^-?([1-9][0-9]{0,8}|0)$")]


class MetadataDoubleValue(_Value):
    metadataType: Literal["MetadataDoubleValue"]  # noqa: N815
    double_value: Number


class MetadataStringValue(_Value):
    metadataType: Literal["MetadataStringValue"]  # noqa: N815
    string_value: StrictStr


class MetadataBoolValue(_Value):
    metadataType: Literal["MetadataBoolValue"]  # noqa: N815
    bool_value: StrictBool


class MetadataStructValue(_Value):
    metadataType: Literal["MetadataStructValue"]  # noqa: N815
    struct_value: StrictStr  # base64 of a serialized google.protobuf.Struct


class MetadataProtoValue(_Value):
    metadataType: Literal["MetadataProtoValue"]  # noqa: N815
    type: StrictStr
    proto_value: StrictStr  # base64 of the serialized message


MetadataValue = Annotated[
    MetadataIntValue
    | MetadataDoubleValue
    | MetadataStringValue
    | MetadataBoolValue
    | MetadataStructValue
    | MetadataProtoValue,
    Field(discriminator="metadataType"),
]


# The enums of the API.
ModelState = Literal["LIVE", "ARCHIVED"]

ArtifactState = Literal[
    "UNKNOWN", "PENDING", "LIVE", "MARKED_FOR_DELETION", "DELETED", "ABANDONED", "REFERENCE"
]
InferenceServiceState = Literal["DEPLOYED", "UNDEPLOYED"]
ExecutionState = Literal["UNKNOWN", "NEW", "RUNNING", "COMPLETE", "FAILED", "CACHED", "CANCELED"]
ExperimentRunStatus = Literal["SCHEDULED", "RUNNING", "FINISHED", "FAILED", "KILLED"]
ParameterType = Literal["string", "number", "boolean", "object"]


COMMON_FIELDS: dict[str, Any] = {
    "name": StrictStr,
    "externalId": StrictStr,
    "description": StrictStr,
    "customProperties": dict[str, MetadataValue],
}

# The artifact types, by their ``artifactType`` discriminator, with the fields of each.
ARTIFACT_TYPES: dict[str, dict[str, Any]] = {
    "model-artifact": {
        "uri": StrictStr,
        "state": ArtifactState,
        "modelFormatName": StrictStr,
        "modelFormatVersion": StrictStr,
        "storageKey": StrictStr,
        "storagePath": StrictStr,
        "serviceAccountName": StrictStr,
        "modelSourceKind": StrictStr,
        "modelSourceClass": StrictStr,
        "modelSourceGroup": StrictStr,
        "modelSourceId": StrictStr,
        "modelSourceName": StrictStr,
    },
    "doc-artifact": {"uri": StrictStr, "state": ArtifactState},
    "dataset-artifact": {
        "uri": StrictStr,
        "state": ArtifactState,
        "digest": StrictStr,
        "sourceType": StrictStr,
        "source": StrictStr,
        "schema": StrictStr,
        "profile": StrictStr,
    },
    "metric": {"state": ArtifactState, "value": Number, "timestamp": StrictStr, "step": Step},
    "parameter": {"state": ArtifactState, "value": StrictStr, "parameterType": ParameterType},
}
ARTIFACT_DEFAULTS = {"state": "UNKNOWN"}


@dataclass(frozen=True)
class Kind:
    """One kind of resource: its fields, defaults, parent and references to other resources.

    ``parent`` names the body field holding the id of the resource this one belongs to; names are
    unique among the children of one parent (or among all resources of the kind without one).
    ``references`` are other body fields holding ids of resources that must exist. ``immutable``
    fields are set on creation and never changed by an update: upstream's ``*Update`` schemas
    lack them. ``not_in_create`` fields are not in upstream's ``*Create`` schema either (the
    route's path gives them).
    """

    name: str
    label: str
    fields: dict[str, Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    parent: tuple[str, str] | None = None  # (body field, parent kind)
    references: dict[str, str] = field(default_factory=dict)  # body field -> kind
    immutable: tuple[str, ...] = ("name",)
    not_in_create: tuple[str, ...] = ()


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "registered_model",
            "registered model",
            {
                "owner": StrictStr,
                "state": ModelState,
                "readme": StrictStr,
                "maturity": StrictStr,
                "language": list[StrictStr],
                "tasks": list[StrictStr],
                "provider": StrictStr,
                "logo": StrictStr,
                "license": StrictStr,
                "licenseLink": StrictStr,
                "libraryName": StrictStr,
            },
            defaults={"state": "LIVE"},
            required=("name",),
        ),
        Kind(
            "model_version",
            "model version",
            {"author": StrictStr, "state": ModelState, "registeredModelId": Id},
            defaults={"state": "LIVE"},
            required=("name", "registeredModelId"),
            parent=("registeredModelId", "registered_model"),
            immutable=("name", "registeredModelId"),
        ),
        # Every artifact type is one kind: /artifacts/{id} serves any of them. The field set is
        # chosen by ``artifactType`` (see ``body_model``).
        Kind("artifact", "artifact", {}, defaults=ARTIFACT_DEFAULTS),
        Kind("serving_environment", "serving environment", {}, required=("name",)),
        Kind(
            "inference_service",
            "inference service",
            {
                "modelVersionId": Id,
                "runtime": StrictStr,
                "desiredState": InferenceServiceState,
                "registeredModelId": Id,
                "servingEnvironmentId": Id,
            },
            defaults={"desiredState": "DEPLOYED"},
            required=("registeredModelId", "servingEnvironmentId"),
            parent=("servingEnvironmentId", "serving_environment"),
            references={"registeredModelId": "registered_model", "modelVersionId": "model_version"},
            immutable=("name", "registeredModelId", "servingEnvironmentId"),
        ),
        Kind(
            "serve_model",
            "serve",
            {"lastKnownState": ExecutionState, "modelVersionId": Id, "inferenceServiceId": Id},
            defaults={"lastKnownState": "UNKNOWN"},
            required=("modelVersionId",),
            parent=("inferenceServiceId", "inference_service"),
            references={"modelVersionId": "model_version"},
            immutable=("name", "modelVersionId", "inferenceServiceId"),
            not_in_create=("inferenceServiceId",),
        ),
        Kind(
            "experiment",
            "experiment",
            {"owner": StrictStr, "state": ModelState},
            defaults={"state": "LIVE"},
            required=("name",),
        ),
        Kind(
            "experiment_run",
            "experiment run",
            {
                "owner": StrictStr,
                "state": ModelState,
                "status": ExperimentRunStatus,
                "startTimeSinceEpoch": StrictStr,
                "endTimeSinceEpoch": StrictStr,
                "experimentId": Id,
            },
            defaults={"state": "LIVE", "status": "RUNNING"},
            required=("experimentId",),
            parent=("experimentId", "experiment"),
            # ExperimentRunUpdate has no startTimeSinceEpoch: a run's start is given once.
            immutable=("name", "experimentId", "startTimeSinceEpoch"),
        ),
    )
}

#: Output-only fields, set by the server: refused in a ``*Create`` or ``*Update`` body (unknown
#: there), ignored in a body of a resource's whole schema (an upsert of an artifact).
OUTPUT_FIELDS = ("id", "createTimeSinceEpoch", "lastUpdateTimeSinceEpoch")
#: Output-only fields of artifacts: the experiment and run an artifact was logged under.
ARTIFACT_OUTPUT_FIELDS = ("experimentId", "experimentRunId")
#: Fields holding a URI: an empty string is not stored (it is no URI), as upstream.
URI_FIELDS = ("uri", "logo", "licenseLink")
#: Kinds whose resources get a generated unique name when created without one (upstream: UUID).
GENERATED_NAMES = ("artifact", "experiment_run")


def kind_fields(kind: Kind, artifact_type: str | None = None) -> dict[str, Any]:
    """Every body field of ``kind`` (of one artifact type, for artifacts)."""
    own = ARTIFACT_TYPES[artifact_type] if kind.name == "artifact" else kind.fields
    extra = {"artifactType": StrictStr} if kind.name == "artifact" else {}
    return {**COMMON_FIELDS, **own, **extra}


@cache
def body_model(kind_name: str, creating: bool, artifact_type: str | None = None) -> type[BaseModel]:
    """The pydantic model of a create (POST) or update (PATCH) body of one kind.

    Fields outside the model are ignored here: the service has refused those the route's schema
    does not know before (``service._refuse_unknown``), and drops the output-only ones it does.
    A field of a wrong type, a bad enum value or a missing required field is an error.
    """
    kind = KINDS[kind_name]
    fields = kind_fields(kind, artifact_type)
    if not creating:
        fields = {k: v for k, v in fields.items() if k not in kind.immutable}
    required = set(kind.required) if creating else set()
    definitions = {
        name: (kind_type, ...) if name in required else (kind_type | None, None)
        for name, kind_type in fields.items()
    }
    if "name" in required:
        definitions["name"] = (Annotated[str, Field(strict=True, min_length=1)], ...)
    title = f"{kind_name}_{artifact_type or ''}_{'create' if creating else 'update'}"
    with warnings.catch_warnings():
        # A dataset's "schema" shadows BaseModel.schema, a deprecated method nothing here calls.
        warnings.filterwarnings("ignore", message='Field name "schema"', category=UserWarning)
        return pydantic_model(title, __config__=ConfigDict(extra="ignore"), **definitions)
