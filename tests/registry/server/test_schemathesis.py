"""Fuzzing from upstream's OpenAPI spec (``model-registry.yaml`` beside this file, copied from
kubeflow/model-registry): schemathesis sends generated requests to every operation, valid and
invalid, and the embedded registry must never answer with a server error (5xx).

Bounded: a few derandomized examples per operation, so the run is short and repeatable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

SPEC = Path(__file__).with_name("model-registry.yaml")
schema = schemathesis.openapi.from_path(str(SPEC))
# Generated examples only: the coverage phase (every boundary of every field) takes minutes.
schema.config.phases.update(phases=["examples", "fuzzing"])

pytestmark = pytest.mark.slow


@schema.parametrize()
@settings(
    max_examples=5,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_from_the_spec_makes_a_server_error(case, registry_url):
    response = case.call(base_url=registry_url, timeout=10)
    case.validate_response(response, checks=[not_a_server_error])
