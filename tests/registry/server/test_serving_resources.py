"""Serving environments, inference services and serves (what the Deploy page records), through
the official package's generated API."""

from __future__ import annotations

import pytest
from mr_openapi import (
    InferenceServiceCreate,
    InferenceServiceState,
    InferenceServiceUpdate,
    ServeModelCreate,
    ServingEnvironmentCreate,
)
from mr_openapi.exceptions import ConflictException, NotFoundException

from tests.registry.server.conftest import run_api


@pytest.fixture
def deployed(client, name):
    """A model with two versions, an environment, and a service serving version 1."""
    for version in ("1", "2"):
        client.register_model(
            name, "file:///m", model_format_name="onnx", model_format_version="1", version=version
        )
    model = client.get_registered_model(name)
    v1 = client.get_model_version(name, "1")
    environment = run_api(
        client,
        lambda api: api.create_serving_environment(ServingEnvironmentCreate(name=f"env-{name}")),
    )
    # Client 0.3.14's generated API reads only a 200 as the created service; upstream's server
    # (and this one) answers 201, so the client returns None and the service is found by name.
    run_api(
        client,
        lambda api: api.create_inference_service(
            InferenceServiceCreate(
                name=f"svc-{name}",
                registeredModelId=model.id,
                servingEnvironmentId=environment.id,
                modelVersionId=v1.id,
                runtime="onnxruntime",
            )
        ),
    )
    service = run_api(client, lambda api: api.find_inference_service(name=f"svc-{name}"))
    return model, v1, environment, service


def test_inference_service_links_its_model_and_version(client, deployed):
    model, v1, environment, service = deployed
    assert service.desired_state == InferenceServiceState.DEPLOYED
    assert service.serving_environment_id == environment.id
    served_model = run_api(client, lambda api: api.get_inference_service_model(service.id))
    served_version = run_api(client, lambda api: api.get_inference_service_version(service.id))
    assert (served_model.id, served_version.id) == (model.id, v1.id)

    listed = run_api(client, lambda api: api.get_environment_inference_services(environment.id))
    assert [item.id for item in listed.items] == [service.id]
    found = run_api(
        client,
        lambda api: api.find_inference_service(
            name=service.name, parent_resource_id=environment.id
        ),
    )
    assert found.id == service.id


def test_service_without_version_serves_the_newest(client, name, deployed):
    model, _, environment, _ = deployed
    latest = client.get_model_version(name, "2")
    service = run_api(
        client,
        lambda api: api.create_environment_inference_service(
            environment.id,
            InferenceServiceCreate(
                name="latest", registeredModelId=model.id, servingEnvironmentId=environment.id
            ),
        ),
    )
    served = run_api(client, lambda api: api.get_inference_service_version(service.id))
    assert served.id == latest.id


def test_undeploy_and_record_serves(client, deployed):
    _, v1, environment, service = deployed
    updated = run_api(
        client,
        lambda api: api.update_inference_service(
            service.id, InferenceServiceUpdate(desiredState=InferenceServiceState.UNDEPLOYED)
        ),
    )
    assert updated.desired_state == InferenceServiceState.UNDEPLOYED
    assert updated.model_version_id == v1.id  # untouched fields stay

    serve = run_api(
        client,
        lambda api: api.create_inference_service_serve(
            service.id, ServeModelCreate(name="run-1", modelVersionId=v1.id)
        ),
    )
    serves = run_api(client, lambda api: api.get_inference_service_serves(service.id))
    assert [item.id for item in serves.items] == [serve.id]
    assert serves.items[0].model_version_id == v1.id


def test_serving_errors(client, deployed):
    model, _, environment, service = deployed
    with pytest.raises(ConflictException):
        run_api(
            client,
            lambda api: api.create_serving_environment(
                ServingEnvironmentCreate(name=environment.name)
            ),
        )
    with pytest.raises(NotFoundException):
        run_api(
            client,
            lambda api: api.create_inference_service(
                InferenceServiceCreate(
                    name="dangling",
                    registeredModelId=model.id,
                    servingEnvironmentId=environment.id,
                    modelVersionId="999999999",
                )
            ),
        )
    with pytest.raises(NotFoundException):
        run_api(client, lambda api: api.get_inference_service_serves("999999998"))


def test_experiments_and_runs(rest, name):
    experiment = rest.post("/experiments", {"name": name, "owner": "tester"})
    assert experiment.status_code == 201, experiment.text
    experiment_id = experiment.json()["id"]
    run = rest.post(f"/experiments/{experiment_id}/experiment_runs", {"name": "run-1"})
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    assert run.json()["experimentId"] == experiment_id and run.json()["status"] == "RUNNING"

    metric = rest.post(
        f"/experiment_runs/{run_id}/artifacts",
        {"artifactType": "metric", "name": "accuracy", "value": 0.9, "step": "1"},
    )
    assert metric.status_code == 200, metric.text  # upstream: 201 only for model and doc artifacts
    finished = rest.patch(f"/experiment_runs/{run_id}", {"status": "FINISHED"})
    assert finished.json()["status"] == "FINISHED"

    runs = rest.get(f"/experiments/{experiment_id}/experiment_runs").json()
    assert [item["id"] for item in runs["items"]] == [run_id]
    artifacts = rest.get(f"/experiment_runs/{run_id}/artifacts", artifactType="metric").json()
    assert [(item["name"], item["value"]) for item in artifacts["items"]] == [("accuracy", 0.9)]
    assert rest.get("/experiment", name=name).json()["id"] == experiment_id
    assert rest.get("/experiment_run", name="run-1", parentResourceId=experiment_id).ok
