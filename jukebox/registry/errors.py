"""The errors of the model registry a user can fix; each message says what is wrong and what to do.

:mod:`jukebox.registry.connection` turns what the official client raises into these.
"""

from __future__ import annotations

from jukebox.errors import JukeboxError


class RegistryError(JukeboxError, RuntimeError):
    """Something about the registry a user can fix; the message says what and how."""


class RegistryUnreachableError(RegistryError):
    """No model registry answers at the configured address."""


class RegistryCredentialsError(RegistryError):
    """The registry answers but refuses the token."""


class DuplicateVersionError(RegistryError):
    """The version is already registered for this model."""


class DuplicateBundleError(RegistryError):
    """The same model (the same ``model.onnx``) is already registered under another version:
    ``registered_as``."""

    def __init__(self, message: str, registered_as: str | None = None) -> None:
        super().__init__(message)
        self.registered_as = registered_as


class VersionNotFoundError(RegistryError):
    """No such model, or no such version of it."""


class UnverifiedBundleError(RegistryError):
    """The bundle did not pass export verification, so it may not be registered."""
