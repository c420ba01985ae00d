"""The error answers of the embedded registry's API, each with the HTTP status it is sent with.

These are answers to an HTTP client, not errors of this project's user: the app turns them into
the ``{"code", "message"}`` body of the API's ``Error`` schema.
"""

from __future__ import annotations

from http import HTTPStatus


class ApiError(Exception):
    """An error the API reports to its client, with the HTTP status it maps to.

    ``code`` is the body's ``code``: the reason phrase of the status, as upstream's server
    sends it (``"Bad Request"``, ``"Not Found"``)."""

    status = 500

    @property
    def code(self) -> str:
        return HTTPStatus(self.status).phrase


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class RequiredMissing(ApiError):
    """A required field is missing or empty: 422, with the code ``"Bad Request"`` exactly as
    upstream's server answers it (its generated handler reuses the 400 body)."""

    status = 422

    @property
    def code(self) -> str:
        return HTTPStatus.BAD_REQUEST.phrase
