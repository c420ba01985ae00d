"""The URL paths the embedded registry answers on: what the app serves and a prober asks for.

Its own module so that ``process`` (which probes the server) and ``app`` (which serves it) share
them without importing each other.
"""

from __future__ import annotations

HEALTH_PATH = "/readyz/health"
# The paths of the official Python client 0.3.x on PyPI, and those of upstream's OpenAPI document
# and of the client on its main branch (tests/registry/server/test_conformance.py).
API_PREFIXES = ("/api/model_registry/v1", "/api/model_registry/v1alpha3")
