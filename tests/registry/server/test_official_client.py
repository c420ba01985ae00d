"""The official ``model-registry`` client, unchanged, against the embedded server."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from model_registry.exceptions import StoreError
from model_registry.utils import S3Params
from moto.server import ThreadedMotoServer
from mr_openapi import ModelVersionState, RegisteredModelState

from tests.bundles import make_tiny_bundle
from tests.ports import free_port
from tests.registry.server.conftest import run_api

METADATA = {"accuracy": 0.875, "epochs": 12, "verified": True, "data_version": "md5:abc"}


def register(client, name: str, version: str = "1.0.0", **kwargs):
    return client.register_model(
        name,
        f"s3://models/{name}/{version}?endpoint=http://127.0.0.1:9000",
        model_format_name="onnx",
        model_format_version="1",
        version=version,
        **kwargs,
    )


def test_register_model_then_read_every_part_back(client, name):
    model = register(
        client,
        name,
        version_description="first",
        storage_key="my-connection",
        storage_path=f"models/{name}/1.0.0",
        metadata=METADATA,
    )
    assert model.id.isdigit() and model.name == name and model.owner == "tester"
    assert model.state == RegisteredModelState.LIVE

    fetched = client.get_registered_model(name)
    assert (fetched.id, fetched.name) == (model.id, name)
    assert int(fetched.create_time_since_epoch) > 1_600_000_000_000  # milliseconds

    version = client.get_model_version(name, "1.0.0")
    assert version.registered_model_id == model.id
    assert version.author == "tester" and version.description == "first"
    assert version.state == ModelVersionState.LIVE
    # Every Python type the client maps round-trips with its type (int stays int, bool bool).
    assert version.custom_properties == METADATA
    assert type(version.custom_properties["epochs"]) is int

    artifact = client.get_model_artifact(name, "1.0.0")
    assert artifact.uri == f"s3://models/{name}/1.0.0?endpoint=http://127.0.0.1:9000"
    assert artifact.model_format_name == "onnx" and artifact.model_format_version == "1"
    assert artifact.storage_key == "my-connection"
    assert artifact.storage_path == f"models/{name}/1.0.0"


def test_missing_things_are_none_or_store_errors(client, name):
    assert client.get_registered_model(name) is None
    with pytest.raises(StoreError, match="does not exist"):
        client.get_model_version(name, "1.0.0")
    register(client, name)
    assert client.get_model_version(name, "9.9.9") is None


def test_second_version_joins_the_same_model_and_duplicates_are_refused(client, name):
    first = register(client, name, version="1")
    second = register(client, name, version="2")
    assert first.id == second.id
    with pytest.raises(StoreError, match="already exists"):
        register(client, name, version="2")
    assert [v.name for v in client.get_model_versions(name)] == ["1", "2"]


def test_get_registered_models_lists_every_model(client, name):
    for suffix in ("a", "b", "c"):
        register(client, f"{name}-{suffix}")
    names = [model.name for model in client.get_registered_models()]
    assert {f"{name}-a", f"{name}-b", f"{name}-c"} <= set(names)
    assert len(names) == len(set(names))


def test_archive_and_restore_a_version_and_a_model(client, name):
    register(client, name)
    version = client.get_model_version(name, "1.0.0")
    version.state = ModelVersionState.ARCHIVED
    archived = client.update(version)
    assert archived.state == ModelVersionState.ARCHIVED
    assert int(archived.last_update_time_since_epoch) >= int(archived.create_time_since_epoch)
    assert client.get_model_version(name, "1.0.0").state == ModelVersionState.ARCHIVED

    version = client.get_model_version(name, "1.0.0")
    version.state = ModelVersionState.LIVE
    client.update(version)
    assert client.get_model_version(name, "1.0.0").state == ModelVersionState.LIVE

    model = client.get_registered_model(name)
    model.state = RegisteredModelState.ARCHIVED
    model.description = "retired"
    client.update(model)
    again = client.get_registered_model(name)
    assert again.state == RegisteredModelState.ARCHIVED and again.description == "retired"


def test_update_replaces_custom_properties_and_artifact_fields(client, name):
    register(client, name, metadata={"stage": "candidate", "accuracy": 0.5})
    version = client.get_model_version(name, "1.0.0")
    version.custom_properties = {**version.custom_properties, "stage": "production", "runs": 3}
    client.update(version)
    assert client.get_model_version(name, "1.0.0").custom_properties == {
        "stage": "production",
        "accuracy": 0.5,
        "runs": 3,
    }

    artifact = client.get_model_artifact(name, "1.0.0")
    artifact.uri = "file:///elsewhere/model.onnx"
    artifact.description = "moved"
    client.update(artifact)
    moved = client.get_model_artifact(name, "1.0.0")
    assert moved.uri == "file:///elsewhere/model.onnx" and moved.description == "moved"
    assert moved.model_format_name == "onnx"  # fields not sent are kept


def test_every_custom_property_type_round_trips(client, rest, name):
    """Struct and proto values cannot be made from Python values by the client's high-level
    API, so they are sent as the JSON of the API and read back through its generated models."""
    model = register(client, name)
    struct = base64.b64encode(json.dumps({"layers": [64, 32]}).encode()).decode()
    proto = base64.b64encode(b"\x08\x96\x01").decode()
    properties = {
        "text": {"metadataType": "MetadataStringValue", "string_value": "hello"},
        "count": {"metadataType": "MetadataIntValue", "int_value": "-42"},
        "ratio": {"metadataType": "MetadataDoubleValue", "double_value": 0.25},
        "flag": {"metadataType": "MetadataBoolValue", "bool_value": False},
        "shape": {"metadataType": "MetadataStructValue", "struct_value": struct},
        "message": {
            "metadataType": "MetadataProtoValue",
            "type": "type.googleapis.com/example.Counter",
            "proto_value": proto,
        },
    }
    response = rest.post(
        f"/registered_models/{model.id}/versions",
        {"name": "typed", "registeredModelId": model.id, "customProperties": properties},
    )
    assert response.status_code == 201, response.text
    assert response.json()["customProperties"] == properties  # ints travel as strings

    version_id = response.json()["id"]
    generated = run_api(client, lambda api: api.get_model_version(version_id))
    values = {key: value.actual_instance for key, value in generated.custom_properties.items()}
    assert values["count"].int_value == "-42"
    assert values["ratio"].double_value == 0.25 and values["flag"].bool_value is False
    assert values["shape"].struct_value == struct
    assert (values["message"].type, values["message"].proto_value) == (
        "type.googleapis.com/example.Counter",
        proto,
    )
    high_level = client.get_model_version(name, "typed").custom_properties
    assert high_level["count"] == -42 and high_level["text"] == "hello"


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_upload_artifact_and_register_model_uploads_to_s3(client, name, s3_endpoint, tmp_path):
    """The client uploads the files with boto3, then registers the S3 URI it built."""
    credentials = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret"}
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **credentials)
    s3.create_bucket(Bucket="models")
    bundle = make_tiny_bundle(tmp_path / "bundle")

    model = client.upload_artifact_and_register_model(
        name,
        str(bundle.path),
        upload_params=S3Params(
            bucket_name="models",
            s3_prefix=f"models/{name}/1",
            endpoint_url=s3_endpoint,
            access_key_id="test-key",
            secret_access_key="test-secret",
            region="us-east-1",
        ),
        version="1",
        model_format_name="onnx",
        model_format_version="1",
        metadata={"accuracy": 0.5},
    )

    assert model.name == name
    artifact = client.get_model_artifact(name, "1")
    assert artifact.uri == (
        f"s3://models/models/{name}/1?endpoint={s3_endpoint}&defaultRegion=us-east-1"
    )
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket="models")["Contents"]}
    assert f"models/{name}/1/model.onnx" in keys
    assert client.get_model_version(name, "1").custom_properties == {"accuracy": 0.5}
    with pytest.raises(StoreError, match="already exists"):
        client.upload_artifact_and_register_model(
            name,
            str(bundle.path),
            upload_params=S3Params(bucket_name="models", s3_prefix="x", endpoint_url=s3_endpoint),
            version="1",
            model_format_name="onnx",
            model_format_version="1",
        )


def test_artifacts_of_a_version_any_type_and_an_existing_artifact_attached(client, name):
    from model_registry.types import DocArtifact, ListOptions, ModelArtifact
    from mr_openapi import ArtifactTypeQueryParam

    register(client, name)
    version = client.get_model_version(name, "1.0.0")
    api = client._api
    card = client.async_runner(
        api.upsert_model_version_artifact(
            DocArtifact(name="card", uri="file:///card.md"), version.id
        )
    )
    assert isinstance(card, DocArtifact) and card.id

    # An artifact registered on its own, then attached to the version by id.
    loose = client.async_runner(
        api.upsert_model_artifact(ModelArtifact(name="extra", uri="file:///extra.onnx"))
    )
    attached = client.async_runner(api.upsert_model_version_artifact(loose, version.id))
    assert attached.id == loose.id

    everything = client.async_runner(api.get_model_version_artifacts(version.id))
    assert sorted(type(a).__name__ + ":" + a.name for a in everything) == sorted(
        ["DocArtifact:card", f"ModelArtifact:{name}", "ModelArtifact:extra"]
    )
    models_only = client.async_runner(
        api.get_model_artifacts(
            version.id, ListOptions.artifact_type(ArtifactTypeQueryParam.MODEL_MINUS_ARTIFACT)
        )
    )
    assert sorted(a.name for a in models_only) == sorted([name, "extra"])
