"""Idempotency-Key for writes that move money (API.md): the same key with the same body returns
the first answer and changes nothing again; the same key with another body is refused.

The key row is inserted in the same transaction as the operation. Two concurrent requests with
one key both run the operation, but only one can insert the key: the other's transaction rolls
back whole (its money movement included) and it answers with the winner's stored response.
"""
from __future__ import annotations

import hashlib
import json
from typing import Awaitable, Callable

import peewee

import events
from lib.errors import conflict, field_error, invalid
from models.finance import IdempotencyKey

MAX_KEY_LENGTH = 128


class _Replay(Exception):
    pass


def request_hash(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


async def _stored(scope: str, key: str, digest: str) -> tuple[int, dict] | None:
    row = await IdempotencyKey.aio_get_or_none((IdempotencyKey.scope == scope) & (IdempotencyKey.key == key))
    if row is None:
        return None
    if row.request_hash != digest:
        raise invalid("this Idempotency-Key was used with a different request", code="idempotency_key_reused")
    return row.status, json.loads(row.response)


async def run_once(scope: str, key: str | None, digest: str, status: int,
                   operation: Callable[[], Awaitable[dict]]) -> tuple[int, dict]:
    """Run `operation` once per (scope, key), in one transaction this function owns (the
    operation's own transactions nest in it); returns (status, body) of the first run. `status`
    is what the handler answers on success, kept with the body so that a replay answers alike."""
    if not key:
        return status, await operation()
    if len(key) > MAX_KEY_LENGTH:
        raise field_error("Idempotency-Key", f"longer than {MAX_KEY_LENGTH} characters")
    stored = await _stored(scope, key, digest)
    if stored:
        return stored
    async def run_and_remember() -> dict:
        body = await operation()
        try:
            async with events.atomic():
                await IdempotencyKey.aio_create(scope=scope, key=key, request_hash=digest, status=status,
                                                response=json.dumps(body, ensure_ascii=False))
        except peewee.IntegrityError:
            raise _Replay() from None  # rolls the whole operation back: the first run's answer stands
        return body
    try:
        body = await events.transaction(run_and_remember)
    except _Replay:
        stored = await _stored(scope, key, digest)
        if stored is None:  # pragma: no cover - the winner's row must be visible after its commit
            raise conflict("conflict", "a concurrent request with this Idempotency-Key failed; retry")
        return stored
    return status, body
