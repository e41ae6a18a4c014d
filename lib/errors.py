"""The errors services raise: what went wrong in the domain's words, with no HTTP in them.

Each has a kind (the class), a stable machine `code`, a human `message` and `details`; the one
table that turns kinds into HTTP statuses is `handlers.base.STATUS_OF`. A foreign shop's
object is reported exactly like a missing one (`not_found`).
"""
from __future__ import annotations


class DomainError(Exception):
    """A refusal a client should see (the base of every kind below)."""

    def __init__(self, code: str, message: str, details: dict | None = None, retry_after: int | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}
        self.retry_after = retry_after  # seconds, for RateLimited


class NotFound(DomainError):
    """Missing, or another shop's."""


class Invalid(DomainError):
    """The request names something impossible (`details.fields` says which field)."""


class Conflict(DomainError):
    """The state does not allow it now: out of stock, wrong order state, limits."""


class Forbidden(DomainError):
    """This principal may not do it (suspended shop, missing permission, blacklisted member)."""


class Unauthenticated(DomainError):
    """No valid credentials: bad password, revoked or foreign token."""


class RateLimited(DomainError):
    """Too many attempts; `retry_after` seconds."""


class ServiceUnavailable(DomainError):
    """A dependency (WeChat, WeChat Pay) did not answer; retrying later may work."""


def not_found(what: str = "object") -> NotFound:
    return NotFound("not_found", f"{what} not found")


def conflict(code: str, message: str, details: dict | None = None) -> Conflict:
    return Conflict(code, message, details)


def invalid(message: str, details: dict | None = None, code: str = "validation_failed") -> Invalid:
    return Invalid(code, message, details)


def field_error(field: str, message: str) -> Invalid:
    """Naming the one request field that is wrong, in the shape body validation uses."""
    return invalid("request body is invalid", {"fields": [{"field": field, "message": message}]})


def forbidden(code: str = "forbidden", message: str = "not allowed") -> Forbidden:
    return Forbidden(code, message)


def unauthorized(code: str = "unauthorized", message: str = "authentication required") -> Unauthenticated:
    return Unauthenticated(code, message)
