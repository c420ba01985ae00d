"""Reaching the model registry: its address, a quick probe, the official client, its errors.

Every function of :mod:`jukebox.registry` talks to a Kubeflow Model Registry through the
official ``model-registry`` client: the embedded server (started on demand, see
:mod:`jukebox.registry.server`) unless ``MODEL_REGISTRY_URL`` names a real one. What that client
raises becomes a :class:`~jukebox.registry.errors.RegistryError` here (:func:`official_errors`),
so a page or the CLI shows one sentence.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

from jukebox.config import Settings, load_settings, refuse_embedded
from jukebox.registry import official_api
from jukebox.registry.errors import (
    DuplicateVersionError,
    RegistryCredentialsError,
    RegistryError,
    RegistryUnreachableError,
    VersionNotFoundError,
)

API_PATH = "/api/model_registry/v1alpha3"


def registry_url(settings: Settings) -> str:
    """``MODEL_REGISTRY_URL``, or else the embedded server's address (started if need be)."""
    if settings.registry_url:
        return settings.registry_url.rstrip("/")
    refuse_embedded(settings, "model registry")
    from jukebox.registry.server.process import ServerStartError, ensure_server

    try:
        return ensure_server(settings).rstrip("/")
    except ServerStartError as error:
        raise RegistryUnreachableError(
            f"The embedded model registry could not start: {error}"
        ) from None


def _probe(url: str, token: str | None) -> None:
    """One quick request, so a wrong address or token is a sentence, not a 5-minute hang."""
    import requests

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.get(
            f"{url}{API_PATH}/registered_models",
            params={"pageSize": "1"},
            headers=headers,
            timeout=10,
        )
    except requests.exceptions.InvalidURL as error:
        raise RegistryUnreachableError(
            f"{url!r} is not a valid registry address: set MODEL_REGISTRY_URL to something "
            "like https://registry.example:443."
        ) from error
    except requests.RequestException as error:
        raise RegistryUnreachableError(
            f"Cannot reach the model registry at {url}: check MODEL_REGISTRY_URL (scheme, host "
            f"and port) and that the registry is running ({type(error).__name__})."
        ) from None
    if response.status_code in (401, 403):
        raise RegistryCredentialsError(
            f"The model registry at {url} refused the token (HTTP {response.status_code}): check "
            "MODEL_REGISTRY_TOKEN."
        )
    if response.status_code == 404:
        raise RegistryUnreachableError(
            f"{url} answers but is not a Kubeflow Model Registry (no {API_PATH}): check "
            "MODEL_REGISTRY_URL."
        )
    if response.status_code >= 400:
        raise RegistryError(
            f"The model registry at {url} answered HTTP {response.status_code}; try again, or "
            "check the registry's logs."
        )


@functools.lru_cache(maxsize=8)
def _client(url: str, token: str | None, author: str):
    """One official client per registry and token, made after a quick probe of the address.

    Cached: making one costs requests, and pages call the registry many times per rerun. A lost
    connection clears the cache (see :func:`official_errors`), so the next call probes again.
    """
    from model_registry import ModelRegistry

    _probe(url, token)
    parsed = urlparse(url)
    secure = parsed.scheme == "https"
    port = parsed.port or (443 if secure else 80)
    address = f"{parsed.scheme}://{parsed.hostname}"
    with warnings.catch_warnings():
        # The client warns when it runs without a token; the embedded server needs none.
        warnings.simplefilter("ignore")
        client = ModelRegistry(
            address,
            port,
            author=author,
            is_secure=secure,
            user_token=token,
            # Its warnings are hints about ports and tokens that do not apply here.
            log_level=logging.ERROR,
        )
    if not secure:
        # Loading one certificate instead of the whole CA store makes reads 5-10 times faster.
        official_api.use_certificate(client, _one_certificate())
    return client


@functools.cache
def _one_certificate() -> str:
    import certifi

    bundle = Path(certifi.where()).read_text()
    start = bundle.index("-----BEGIN CERTIFICATE-----")
    end = bundle.index("-----END CERTIFICATE-----", start) + len("-----END CERTIFICATE-----")
    return bundle[start:end]


def connect(settings: Settings | None = None):
    """A ``model_registry.ModelRegistry`` for the settings; raises a clear error if unusable."""
    settings = settings or load_settings()
    url = registry_url(settings)
    with official_errors():
        return _client(url, settings.registry_token, settings.registry_author)


@contextlib.contextmanager
def official_errors() -> Iterator[None]:
    """Turn what the official client raises into :class:`RegistryError` subclasses.

    Usable as ``with official_errors():`` or as a decorator. What it translates, and into what:

    ============================================  ==============================
    HTTP 401 or 403 (``mr_openapi`` exceptions)   :class:`RegistryCredentialsError`
    HTTP 404                                      :class:`VersionNotFoundError`
    HTTP 409                                      :class:`DuplicateVersionError`
    any other HTTP error status                   :class:`RegistryError`
    the connection failed or timed out (aiohttp)  :class:`RegistryUnreachableError`
    the client's own ``StoreError``               :class:`RegistryError`
    ============================================  ==============================

    Anything else, this project's errors included, passes through unchanged.
    """
    import aiohttp
    from model_registry.exceptions import StoreError
    from mr_openapi import exceptions as api

    try:
        yield
    except (api.UnauthorizedException, api.ForbiddenException) as error:
        raise RegistryCredentialsError(
            f"The model registry refused the token (HTTP {error.status}): check "
            "MODEL_REGISTRY_TOKEN."
        ) from None
    except api.NotFoundException as error:
        raise VersionNotFoundError(
            f"The model registry has no such thing: {_body(error)}"
        ) from None
    except api.ConflictException as error:
        raise DuplicateVersionError(
            f"The model registry refused a duplicate: {_body(error)}"
        ) from None
    except api.ApiException as error:
        raise RegistryError(
            f"The model registry answered HTTP {error.status}: {_body(error)}"
        ) from None
    # The official client speaks aiohttp; a dropped or refused connection can also surface as
    # the OSError or TimeoutError beneath it.
    except (aiohttp.ClientError, TimeoutError, ConnectionError) as error:
        _client.cache_clear()
        raise RegistryUnreachableError(
            "Lost the connection to the model registry: check that it is running and "
            f"reachable ({type(error).__name__})."
        ) from None
    except StoreError as error:
        raise RegistryError(str(error)) from None


def _body(error: Exception) -> str:
    """The ``message`` of an API error's JSON body, or the body as it is."""
    body = getattr(error, "body", None) or getattr(error, "reason", "") or ""
    try:
        return str(json.loads(body).get("message", body))
    except (TypeError, ValueError, AttributeError):
        return str(body)
