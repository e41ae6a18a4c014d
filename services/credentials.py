"""Credentials and tokens for all three audiences: argon2 password hashes, audience-checked JWTs
(HS256 pinned), the login limiter that makes brute force impractical, and the limit on
registrations per client address.
"""
from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from lib.errors import RateLimited, field_error, forbidden, unauthorized
from lib.runtime import current

ALGORITHM = "HS256"  # pinned: a token naming any other algorithm (or "none") is refused
AUDIENCES = ("admin", "merchant", "member")

_hasher = PasswordHasher()
# Verified when the account does not exist, so a miss costs the same time as a wrong password.
_DUMMY_HASH = _hasher.hash("not a real password")


async def hash_password(password: str) -> str:
    # argon2 takes tens of ms of CPU by design: keep it off the event loop.
    return await asyncio.get_running_loop().run_in_executor(None, _hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.get_running_loop().run_in_executor(None, check)


@dataclass(frozen=True)
class Claims:
    audience: str
    subject_id: int
    token_version: int
    shop_id: int | None


def issue_token(audience: str, subject_id: int, token_version: int, shop_id: int | None = None) -> str:
    assert audience in AUDIENCES
    runtime = current()
    ttl = getattr(runtime.config, f"{audience}_token_ttl_seconds")
    now = int(time.time())
    payload = {"aud": audience, "sub": str(subject_id), "ver": token_version, "iat": now, "exp": now + ttl}
    if runtime.database_identity:  # ids are reused by a database recreated or restored: tokens are not
        payload["dbi"] = runtime.database_identity
    if shop_id is not None:
        payload["shop_id"] = shop_id
    return jwt.encode(payload, runtime.jwt_secret, algorithm=ALGORITHM)


def decode_token(token: str, audience: str) -> Claims:
    """Claims of a valid token for `audience`, or 401. Expired, tampered, foreign-audience,
    unsigned and otherwise-signed tokens all fail here."""
    try:
        payload = jwt.decode(
            token, current().jwt_secret, algorithms=[ALGORITHM], audience=audience,
            options={"require": ["exp", "aud", "sub", "ver"]},
        )
        claims = Claims(audience, int(payload["sub"]), int(payload["ver"]), payload.get("shop_id"))
    except jwt.ExpiredSignatureError:
        raise unauthorized("token_expired", "token has expired") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise unauthorized("invalid_token", "token is invalid") from None
    if audience in ("merchant", "member") and not isinstance(claims.shop_id, int):
        raise unauthorized("invalid_token", "token is invalid")
    identity = current().database_identity
    if identity and payload.get("dbi") != identity:
        raise unauthorized("token_revoked", "this token was issued for another database; sign in again")
    return claims


class WindowCounter:
    """Counts per key in a fixed window that starts with the first count: in memory in embedded
    mode, in Redis when configured (so N processes share one count)."""

    def __init__(self, redis, prefix: str, window_s: int):
        self.redis = redis
        self.prefix = prefix
        self.window_s = window_s
        self._memory: dict[str, tuple[int, float]] = {}
        # DECR only a live key: one that expired meanwhile must not come back as -1 without a TTL
        self._decr = redis.register_script(
            "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end return 0"
        ) if redis is not None else None

    async def count(self, key: str) -> int:
        key = self.prefix + key
        if self.redis is not None:
            return int(await self.redis.get(key) or 0)
        count, expires = self._memory.get(key, (0, 0.0))
        return count if expires > time.monotonic() else 0

    async def add(self, key: str) -> tuple[int, int]:
        """Count one more; returns the new count and the seconds left in the window."""
        key = self.prefix + key
        if self.redis is not None:
            async with self.redis.pipeline(transaction=True) as pipe:
                count, _, ttl = await pipe.incr(key).expire(key, self.window_s, nx=True).ttl(key).execute()
            return int(count), max(int(ttl), 1)
        now = time.monotonic()
        count, expires = self._memory.get(key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + self.window_s
        self._memory[key] = (count + 1, expires)
        if len(self._memory) > 100_000:  # bound memory under a spraying attack
            self._memory = {k: v for k, v in self._memory.items() if v[1] > now}
        return count + 1, max(int(expires - now), 1)

    async def give_back(self, key: str) -> None:
        key = self.prefix + key
        if self.redis is not None:
            await self._decr(keys=[key])
            return
        count, expires = self._memory.get(key, (0, 0.0))
        if count > 0 and expires > time.monotonic():
            self._memory[key] = (count - 1, expires)

    async def clear(self, key: str) -> None:
        key = self.prefix + key
        if self.redis is not None:
            await self.redis.delete(key)
        else:
            self._memory.pop(key, None)


class LoginLimiter:
    """Counts failed logins per account+IP and per IP in a fixed window.

    A success clears the account+IP count; the per-IP count only expires, so spraying one
    password over many usernames is limited too.
    """

    def __init__(self, redis, prefix: str, per_account: int, per_ip: int, window_s: int):
        self.counter = WindowCounter(redis, prefix + "login:", window_s)
        self.per_account = per_account
        self.per_ip = per_ip
        self.window_s = window_s

    def _keys(self, audience: str, account: str, ip: str) -> tuple[str, str]:
        return (f"{audience}:acct:{account.lower()}|{ip}", f"ip:{ip}")

    async def check(self, audience: str, account: str, ip: str) -> None:
        account_key, ip_key = self._keys(audience, account, ip)
        if await self.counter.count(account_key) >= self.per_account or await self.counter.count(ip_key) >= self.per_ip:
            raise RateLimited("too_many_attempts", "too many failed logins; try again later", retry_after=self.window_s)

    async def failed(self, audience: str, account: str, ip: str) -> None:
        for key in self._keys(audience, account, ip):
            await self.counter.add(key)

    async def succeeded(self, audience: str, account: str, ip: str) -> None:
        await self.counter.clear(self._keys(audience, account, ip)[0])


class RegistrationLimiter:
    """Accepted sign-ups per client address per hour (`registrations_per_ip_per_hour`, 0 = no
    limit), so one address cannot mass-create accounts. A registration takes its slot before the
    work (one atomic increment, exact across processes) and gives it back if it fails."""

    WINDOW_S = 3600

    def __init__(self, redis, prefix: str, per_hour: int):
        self.counter = WindowCounter(redis, prefix + "register:", self.WINDOW_S)
        self.per_hour = per_hour

    @contextlib.asynccontextmanager
    async def slot(self, ip: str | None):
        if not self.per_hour or not ip:
            yield
            return
        key = f"ip:{ip}"
        count, seconds_left = await self.counter.add(key)
        try:
            if count > self.per_hour:
                raise RateLimited("too_many_registrations", "too many registrations from this address; try again later",
                                  retry_after=seconds_left)
            yield
        except BaseException:
            await self.counter.give_back(key)
            raise


async def check_login(audience: str, account: str, ip: str, password_hash: str | None, password: str,
                      active: bool = True) -> None:
    """The shared login rule: limit, verify, count the failure; raises 429 or 401."""
    limiter = current().limiter
    await limiter.check(audience, account, ip)
    if not await verify_password(password_hash, password) or not active:
        await limiter.failed(audience, account, ip)
        raise unauthorized("invalid_credentials", "wrong username or password")
    await limiter.succeeded(audience, account, ip)


async def check_current_password(audience: str, account: str, ip: str, password_hash: str | None,
                                 password: str | None) -> None:
    """Changing one's own password asks for the current one, so a stolen or borrowed session
    cannot lock the owner out: 422 if it is missing, 403 `wrong_password` if wrong. Failures
    count against the login limiter, so the session cannot be used to guess it either."""
    if not password:
        raise field_error("current_password", "your current password is needed to change it")
    limiter = current().limiter
    await limiter.check(audience, account, ip)
    if not await verify_password(password_hash, password):
        await limiter.failed(audience, account, ip)
        raise forbidden("wrong_password", "the current password is wrong")
    await limiter.succeeded(audience, account, ip)
