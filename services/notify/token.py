"""The access token of a WeChat app, shared by every process and fetched once.

WeChat allows 2,000 token fetches a day per app and a fetch invalidates the previous token after
five minutes, so N processes each fetching their own would both burn the quota and log each other
out. With Redis the token lives under the deployment's prefix and one process fetches it while
holding a short lock; the others wait for the key to appear. In one process an asyncio lock per
app does the same. wechatpy is blocking: the fetch runs in a worker thread.
"""
from __future__ import annotations

import asyncio
import time

from lib.runtime import current

FETCH_LOCK_MS = 10_000  # longer than a fetch may take (the client times out after 5 s)
WAIT_POLL_S = 0.05  # how often a waiter looks for the token another process is fetching
EXPIRY_MARGIN_S = 300  # renew this long before WeChat's expiry: in-flight sends keep a valid token

_local_locks: dict[str, asyncio.Lock] = {}
_local_tokens: dict[str, tuple[str, float]] = {}  # appid -> (token, monotonic time it is renewed)


def _key(appid: str) -> str:
    return f"{current().redis_prefix}wechat:token:{appid}"


async def access_token(client) -> str:
    """A valid token of `client`'s app (a wechatpy client pointed at the configured base)."""
    appid = client.appid
    lock = _local_locks.setdefault(appid, asyncio.Lock())
    async with lock:  # this process's concurrent senders wait for one fetch
        redis = current().redis
        if redis is None:
            cached = _local_tokens.get(appid)
            if cached and cached[1] > time.monotonic():
                return cached[0]
            token, ttl = await _fetch(client)
            _local_tokens[appid] = (token, time.monotonic() + ttl)
            return token
        return await _shared_token(redis, client)


async def _shared_token(redis, client) -> str:
    key = _key(client.appid)
    deadline = time.monotonic() + FETCH_LOCK_MS / 1000 * 2
    while True:
        token = await redis.get(key)
        if token:
            return token
        if await redis.set(key + ":lock", "1", nx=True, px=FETCH_LOCK_MS):
            try:
                token = await redis.get(key)  # set by the holder we waited for, just before we locked
                if token:
                    return token
                token, ttl = await _fetch(client)
                await redis.set(key, token, ex=max(int(ttl), 1))
                return token
            finally:
                await redis.delete(key + ":lock")
        if time.monotonic() > deadline:
            raise TimeoutError("another process holds the WeChat token lock too long")
        await asyncio.sleep(WAIT_POLL_S)


async def _fetch(client) -> tuple[str, float]:
    result = await asyncio.get_running_loop().run_in_executor(None, client.fetch_access_token)
    ttl = int(result.get("expires_in", 7200)) - EXPIRY_MARGIN_S
    return result["access_token"], max(ttl, 60)


async def forget(appid: str, token: str) -> None:
    """WeChat said `token` is invalid or expired: drop it unless another sender already replaced it."""
    redis = current().redis
    if redis is None:
        if _local_tokens.get(appid, ("",))[0] == token:
            _local_tokens.pop(appid, None)
        return
    if await redis.get(_key(appid)) == token:
        await redis.delete(_key(appid))
