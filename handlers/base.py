"""Base handlers: JSON in and out, one error shape, and authentication per audience.

Authorization happens here, in `prepare`, once per audience — never by hand in an endpoint:
- `AdminHandler`: a platform admin token.
- `MerchantHandler`: a staff token of an active shop, plus the permission the handler declares
  for the HTTP method in `permissions`.
- `MobileHandler`: the shop in the path must exist and be active; a member token of that shop is
  required except for methods listed in `public_methods`.
"""
from __future__ import annotations

import datetime
import functools
import itertools
import json
import logging
import os
import re
from typing import Any, TypeVar

import pydantic
import tornado.web
from redis.exceptions import RedisError

from lib.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthenticated,
    forbidden,
    unauthorized,
)
from lib.runtime import current
from models.db import UNAVAILABLE_ERRORS
from services import audit, credentials, platform, staff
from services import member as member_service
from services import shop as shop_service

log = logging.getLogger("mall.api")
access_log = logging.getLogger("mall.access")

Body = TypeVar("Body", bound=pydantic.BaseModel)

MAX_PAGE_SIZE = 100
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# The one table from the services' error kinds to HTTP statuses (API.md's error conventions).
STATUS_OF: dict[type[DomainError], int] = {
    Invalid: 422, Unauthenticated: 401, Forbidden: 403, NotFound: 404, Conflict: 409, RateLimited: 429,
    ServiceUnavailable: 503,
}


def status_of(error: DomainError) -> int:
    return next(status for kind, status in STATUS_OF.items() if isinstance(error, kind))


class ApiError(tornado.web.HTTPError):
    """An HTTP-level refusal a handler raises itself (malformed JSON, body too large, no such
    endpoint); the services' refusals are DomainErrors."""

    def __init__(self, status: int, code: str, message: str, details: dict | None = None):
        super().__init__(status, log_message=f"{code}: {message}")
        self.code, self.message, self.details = code, message, details or {}


STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
                422: "validation_failed", 429: "too_many_requests", 503: "service_unavailable"}


class InFlight:
    """Requests being served right now; graceful shutdown waits for this to reach zero."""

    count = 0


def dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


# Sent with every answer. JSON runs nothing, so its policy allows nothing; pages (the docs, the
# demo) keep their own scripts but may not be framed by another site (clickjacking).
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
JSON_CSP = "default-src 'none'; frame-ancestors 'none'"
PAGE_CSP = "frame-ancestors 'none'"
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

# Request ids: a random prefix drawn when the process starts and a counter. Unique across the
# processes behind one nginx and across restarts, and a fraction of uuid4's cost (no urandom
# read per request).
_ID_PREFIX = os.urandom(8).hex()
_id_counter = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):012x}"


@functools.cache
def _implemented(handler_class: type) -> tuple[str, ...]:
    return tuple(m for m in HTTP_METHODS
                 if getattr(handler_class, m.lower()) is not getattr(tornado.web.RequestHandler, m.lower()))


class Hardened(tornado.web.RequestHandler):
    """What every handler of this app shares, whatever it serves (JSON, pages, files, WebSocket):
    the security headers, no Server header naming Tornado's version, errors as API.md's JSON
    body, and 405 with `Allow` for a method the handler does not implement."""

    csp = JSON_CSP
    request_id: str = ""

    def set_default_headers(self) -> None:
        self.clear_header("Server")
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)
        self.set_header("Content-Security-Policy", self.csp)

    @classmethod
    def allowed_methods(cls) -> tuple[str, ...]:
        return _implemented(cls)

    def refuse_unimplemented_method(self) -> None:
        """Called first in `prepare`: a wrong method is 405 before any token or permission check."""
        if self.request.method not in self.allowed_methods():
            raise ApiError(405, "method_not_allowed", f"{self.request.method} is not allowed here")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        details: dict = {}
        if isinstance(exc, DomainError):
            status_code, code, message, details = status_of(exc), exc.code, exc.message, exc.details
            self.set_status(status_code)
            if exc.retry_after:
                self.set_header("Retry-After", str(exc.retry_after))
        elif isinstance(exc, ApiError):
            code, message, details = exc.code, exc.message, exc.details
        elif isinstance(exc, UNAVAILABLE_ERRORS + (RedisError, ConnectionError, OSError)):
            status_code, code, message = 503, "service_unavailable", "a dependency is unavailable; retry shortly"
            self.set_status(503)
        elif status_code < 500:
            code, message = STATUS_CODES.get(status_code, "bad_request"), self._reason
        else:
            code, message = "internal_error", "internal server error"
        if status_code == 405:
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Content-Security-Policy", JSON_CSP)
        if self.request_id:
            self.set_header("X-Request-Id", self.request_id)
        self.finish(dumps({"error": {"code": code, "message": message, "details": details}}))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, UNAVAILABLE_ERRORS + (RedisError, ConnectionError, OSError)):
            log.warning("dependency unavailable on %s %s: %r", self.request.method, self.request.path, value)
        elif isinstance(value, (tornado.web.HTTPError, DomainError)):
            return  # client errors are in the access log already
        else:
            log.error("unhandled error on %s %s [%s]", self.request.method, self.request.path,
                      self.request_id, exc_info=(typ, value, tb))


class StaticFiles(Hardened, tornado.web.StaticFileHandler):
    """Files under a directory (demo pages, Swagger UI assets). A path no file can have (a NUL or
    another control character) is 404 here; the file system would raise a 500 on it."""

    csp = PAGE_CSP

    def prepare(self) -> None:
        self.refuse_unimplemented_method()

    def parse_url_path(self, url_path: str) -> str:
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in url_path):
            raise ApiError(404, "not_found", "no such file")
        return super().parse_url_path(url_path)


class ApiHandler(Hardened):
    check_method = True  # False only for the catch-all 404 handler

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")

    def compute_etag(self) -> None:
        """No ETag: every API answer is `no-store`, so no client holds a copy to revalidate, and
        hashing each body was CPU spent for nothing."""
        return None

    async def prepare(self) -> None:
        InFlight.count += 1
        self._counted = True
        audit.acting_as("anonymous")  # each audience names who acts once authenticated
        incoming = self.request.headers.get("X-Request-Id", "")
        self.request_id = incoming if _REQUEST_ID.match(incoming) else new_request_id()
        self.set_header("X-Request-Id", self.request_id)
        if self.check_method:
            self.refuse_unimplemented_method()
        limit = current().config.max_body_bytes
        declared = self.request.headers.get("Content-Length", "0")
        if len(self.request.body) > limit or (declared.isdigit() and int(declared) > limit):
            raise ApiError(413, "payload_too_large", f"request body exceeds {limit} bytes")

    def on_finish(self) -> None:
        if getattr(self, "_counted", False):
            InFlight.count -= 1

    # ---- input ----
    def body(self, model: type[Body]) -> Body:
        """The JSON body validated against `model`: 400 if not JSON, 422 with fields if invalid."""
        raw = self.request.body or b"{}"
        try:
            return model.model_validate_json(raw)
        except pydantic.ValidationError as exc:
            errors = exc.errors(include_url=False, include_input=False)
            if any(e["type"] == "json_invalid" for e in errors):
                raise ApiError(400, "malformed_json", "request body is not valid JSON") from None
            if any(e["type"] == "model_type" and not e["loc"] for e in errors):
                raise ApiError(422, "validation_failed", "request body must be a JSON object") from None
            fields = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
                      for e in errors]
            raise ApiError(422, "validation_failed", "request body is invalid", {"fields": fields}) from None

    def int_arg(self, name: str, default: int | None = None, minimum: int = 0, maximum: int = 2**62) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw in (None, ""):
            return default
        if not re.fullmatch(r"-?\d{1,19}", raw) or not minimum <= int(raw) <= maximum:
            raise ApiError(422, "validation_failed", f"query parameter {name} must be an integer "
                           f"between {minimum} and {maximum}", {"fields": [{"field": name}]})
        return int(raw)

    def date_arg(self, name: str) -> datetime.datetime | None:
        """A `YYYY-MM-DD` query parameter as the start of that UTC day."""
        raw = self.get_query_argument(name, None)
        if raw in (None, ""):
            return None
        try:
            return datetime.datetime.strptime(raw, "%Y-%m-%d")
        except ValueError:
            raise ApiError(422, "validation_failed", f"query parameter {name} must be a date (YYYY-MM-DD)",
                           {"fields": [{"field": name}]}) from None

    def choice_arg(self, name: str, choices, default: str | None = None) -> str | None:
        """An enum-like query parameter (a status, a sort): a value outside `choices` is 422,
        never silently ignored (which would answer an unfiltered list as if it were filtered)."""
        raw = self.get_query_argument(name, None)
        if raw in (None, ""):
            return default
        if raw not in choices:
            raise ApiError(422, "validation_failed", f"query parameter {name} must be one of: {', '.join(choices)}",
                           {"fields": [{"field": name, "allowed": list(choices)}]})
        return raw

    def page_args(self) -> tuple[int, int]:
        return (self.int_arg("page", 1, minimum=1, maximum=1_000_000),
                self.int_arg("page_size", 20, minimum=1, maximum=MAX_PAGE_SIZE))

    def bearer_token(self) -> str:
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("unauthorized", "a Bearer token is required")
        return token.strip()

    # ---- output ----
    async def send_once(self, scope: str, status: int, operation) -> None:
        """Answer a money-moving write, honouring the Idempotency-Key header (API.md)."""
        from services import idempotency

        digest = idempotency.request_hash(self.request.method, self.request.path, self.request.body or b"")
        key = self.request.headers.get("Idempotency-Key")
        status, body = await idempotency.run_once(scope, key, digest, status, operation)
        self.send(body, status)

    def no_content(self) -> None:
        self.set_status(204)
        self.finish()

    def send(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(dumps(data))

    def send_encoded(self, text: str, status: int = 200) -> None:
        """An answer a service already encoded as JSON (and cached that way)."""
        self.set_status(status)
        self.finish(text)

class NotFoundHandler(ApiHandler):
    check_method = False  # any method on an unknown path is 404

    async def prepare(self) -> None:
        await super().prepare()
        raise ApiError(404, "not_found", "no such endpoint")


class AdminHandler(ApiHandler):
    async def prepare(self) -> None:
        await super().prepare()
        claims = credentials.decode_token(self.bearer_token(), "admin")
        self.admin = await platform.admin_for_token(claims)
        audit.acting_as(f"admin:{self.admin.id}")


class MerchantHandler(ApiHandler):
    # HTTP method -> permission key (services.perm.CATALOGUE) needed beyond being this shop's
    # active staff. Fail closed: a method in neither `permissions` nor `any_staff` answers 403.
    permissions: dict[str, str] = {}
    any_staff: tuple[str, ...] = ()  # methods every active staff member may call (their own profile)

    async def prepare(self) -> None:
        await super().prepare()
        claims = credentials.decode_token(self.bearer_token(), "merchant")
        self.staff = await staff.staff_for_token(claims)
        audit.acting_as(f"staff:{self.staff.id}")
        self.shop = await shop_service.active_shop(self.staff.shop_id)
        self.shop_id = self.shop.id
        if self.request.method not in self.any_staff:
            self.check_permission()

    def check_permission(self) -> None:
        """The permission this method needs (`permissions`); none declared is a refusal too."""
        needed = self.permissions.get(self.request.method)
        if needed is None:
            raise forbidden("permission_denied", "this endpoint declares no permission")
        if not staff.has_permission(self.staff, needed):
            raise forbidden("permission_denied", f"this needs the {needed} permission")


class MobileHandler(ApiHandler):
    # methods a visitor may call without a member token (catalog reads, login, register)
    public_methods: tuple[str, ...] = ()

    async def refuse_early(self) -> None:
        """A refusal decided (or a turn waited for) without the database, once the token's
        signature is checked and before the member is read (flash sales: losers must be cheap)."""

    async def prepare(self) -> None:
        await super().prepare()
        self.shop = await shop_service.active_shop(int(self.path_args[0]))
        self.shop_id = self.shop.id
        self.member = None
        if self.request.method not in self.public_methods:
            await self.authenticate()

    async def authenticate(self) -> None:
        """A member token of this shop, for every method but the public ones."""
        claims = credentials.decode_token(self.bearer_token(), "member")
        if claims.shop_id != self.shop_id:
            raise forbidden("wrong_shop", "this token belongs to another shop")
        await self.refuse_early()
        self.member = await member_service.member_for_token(claims)
        audit.acting_as(f"member:{self.member.id}")


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Access log: one JSON object per request, with the request id for correlation."""
    status = handler.get_status()
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    access_log.log(level, dumps({
        "request_id": getattr(handler, "request_id", ""), "method": handler.request.method,
        "path": handler.request.path, "status": status, "ms": round(1000 * handler.request.request_time(), 2),
        "ip": handler.request.remote_ip,
    }))


def client_ip(handler: tornado.web.RequestHandler) -> str:
    return handler.request.remote_ip or "unknown"




class RequestBody(pydantic.BaseModel):
    """Base of every request body: strict types ("5" is not 5), unknown fields refused so a
    typo in a field name is reported instead of silently ignored. Every field has a description
    (the OpenAPI document shows it; tests/test_api_docs.py checks)."""

    model_config = pydantic.ConfigDict(strict=True, extra="forbid", str_strip_whitespace=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """A field a subclass declares again without a description (a PATCH model making it
        optional) keeps the one its base gave it."""
        super().__pydantic_init_subclass__(**kwargs)
        inherited = False
        for name, field in cls.__pydantic_fields__.items():
            for base in cls.__mro__[1:] if field.description is None else ():
                described = getattr(base, "__pydantic_fields__", {}).get(name)
                if described is not None and described.description:
                    field.description, inherited = described.description, True
                    break
        if inherited:
            cls.model_rebuild(force=True)


class LoginBody(RequestBody):
    username: str = pydantic.Field(description="login name", examples=["owner"])
    password: str = pydantic.Field(description="password")


Id = pydantic.conint(ge=1, le=2**62)
Url = pydantic.constr(max_length=512, pattern=r"^https?://\S+$")
Money = pydantic.conint(ge=0, le=10**12)  # fen; ¥10 billion is beyond any real price
Username = pydantic.constr(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
Password = pydantic.constr(min_length=6, max_length=128)
Mobile = pydantic.constr(pattern=r"^1\d{10}$")
Sort = pydantic.conint(ge=-1_000_000, le=1_000_000)  # display order; the database column is a 32-bit int
