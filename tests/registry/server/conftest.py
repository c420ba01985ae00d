"""Fixtures: the embedded registry's app served for real (over HTTP, in a thread), the
official ``model-registry`` client pointed at it, and a raw HTTP helper for what the client
does not expose (status codes, error bodies, the exact JSON)."""

from __future__ import annotations

import uuid
import warnings
from dataclasses import dataclass

import pytest
import requests

from jukebox.config import Settings, load_settings
from tests.registry.conftest import registry_in_thread

API = "/api/model_registry/v1"


def settings_for(home, **env: str) -> Settings:
    return load_settings({"JUKEBOX_HOME": str(home), **env})


def official_client(url: str, token: str | None = None):
    """``ModelRegistry`` built the way the façade builds it: address, port, no TLS."""
    from model_registry import ModelRegistry

    port = int(url.rsplit(":", 1)[1])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "User access token is missing"
        return ModelRegistry(
            "http://127.0.0.1", port, author="tester", is_secure=False, user_token=token
        )


@dataclass
class Rest:
    """Plain HTTP calls to the API, to check status codes and bodies byte for byte."""

    url: str
    token: str | None = None
    api: str = API  # the path prefix: /api/model_registry/v1alpha3 for upstream's newest client

    def _headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path: str, **params) -> requests.Response:
        return requests.get(
            self.url + self.api + path, params=params, headers=self._headers(), timeout=10
        )

    def post(self, path: str, body=None, *, data: bytes | None = None) -> requests.Response:
        return requests.post(
            self.url + self.api + path, json=body, data=data, headers=self._headers(), timeout=10
        )

    def patch(self, path: str, body) -> requests.Response:
        return requests.patch(
            self.url + self.api + path, json=body, headers=self._headers(), timeout=10
        )


# The official client builds a new TLS context for every call, even over plain HTTP, and OpenSSL
# then parses the whole system CA bundle: 0.1 to 1 s of CPU per call on this shared machine. An
# empty SSL_CERT_FILE/SSL_CERT_DIR makes that a no-op. It changes nothing the server does, only
# how long the tests take; forked test processes inherit it.
CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")


@pytest.fixture(scope="package", autouse=True)
def _no_ca_bundle_parsing():
    with pytest.MonkeyPatch.context() as patch:
        for variable in CA_VARIABLES:
            patch.setenv(variable, "")
        yield


@pytest.fixture(scope="session")
def registry_url(tmp_path_factory) -> str:
    """The server the tests of this package share, served in a thread (tests/registry/conftest)."""
    with registry_in_thread(tmp_path_factory.mktemp("registry-home") / "registry.sqlite") as url:
        yield url


@pytest.fixture(scope="session")
def client(registry_url):
    return official_client(registry_url)


@pytest.fixture
def rest(registry_url) -> Rest:
    return Rest(registry_url)


@pytest.fixture
def name() -> str:
    """A model name no other test uses, since the tests share one server."""
    return f"model-{uuid.uuid4().hex[:10]}"


def run_api(client, call):
    """Run ``call(api)`` with the client's generated ``ModelRegistryServiceApi``.

    Serving environments, inference services and serves are reached through the generated API
    of the official package, as a user of the package would.
    """

    async def go():
        async with client._api.get_client() as api:
            return await call(api)

    return client.async_runner(go())
