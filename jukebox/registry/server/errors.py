"""The error answers of the embedded registry's API, each with the HTTP status it is sent with.

These are answers to an HTTP client, not errors of this project's user: the app turns them into
the ``{"code", "message"}`` body of the API's ``Error`` schema.
"""

from __future__ import annotations


class ApiError(Exception):
    """An error the API reports to its client, with the HTTP status it maps to."""

    status = 500


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409
