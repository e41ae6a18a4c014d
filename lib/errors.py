"""The one error type services raise; handlers render it as API.md's JSON error body."""
from __future__ import annotations

import tornado.web


class ApiError(tornado.web.HTTPError):
    """An error a client should see: HTTP status, a stable machine code, a human message."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(status, log_message=f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}


def not_found(what: str = "object") -> ApiError:
    # A foreign shop's object answers exactly like a missing one.
    return ApiError(404, "not_found", f"{what} not found")


def conflict(code: str, message: str, details: dict | None = None) -> ApiError:
    return ApiError(409, code, message, details)


def invalid(message: str, details: dict | None = None) -> ApiError:
    return ApiError(422, "validation_failed", message, details)


def field_error(field: str, message: str) -> ApiError:
    """422 naming the one request field that is wrong, in the shape body validation uses."""
    return invalid("request body is invalid", {"fields": [{"field": field, "message": message}]})


def forbidden(code: str = "forbidden", message: str = "not allowed") -> ApiError:
    return ApiError(403, code, message)


def unauthorized(code: str = "unauthorized", message: str = "authentication required") -> ApiError:
    return ApiError(401, code, message)
