"""Two event buses behind one interface: in-process (embedded) and Redis (N processes).

A bus assigns each channel's seq at publish time, keeps bounded history per channel, and hands
every published event to `on_event` in every process (the hub fans it out to WebSockets).

Redis layout, per channel C (keys under the configured prefix):
  ch:C:meta  hash {epoch, seq}     the channel's position; created with a fresh random epoch
  ch:C:log   stream, id "<seq>-1"  the last HISTORY_LEN events (approximate trim)
  outbox:N   dedup marker of outbox row N holding the row's random token, so a relay that died
             after publishing but before marking the row sent does not publish it twice; a
             marker with another token is a different row that had the same id (the database
             was restored from a backup): it is published, and reported
  events     the pub/sub channel every process listens on
The configured prefix is followed by the database's identity (see models.system.DatabaseIdentity):
a database dropped and created again with the same Redis sees none of these keys, so its
`team:1` starts a new history in a new epoch and its outbox id 1 is not taken as published.
Publishing is one Lua script (seq, history, pub/sub in one atomic step), so seqs are gap-free
and identical on every process. If Redis loses its data (it runs without persistence here),
the next access creates the channel's meta with a new epoch, and clients holding the old epoch
get `resync` instead of a replay numbered against history that no longer exists.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from typing import AsyncIterator, Callable

from redis.exceptions import RedisError

log = logging.getLogger("mall.bus")

HISTORY_LEN = 1000  # events of history per channel; a `since` older than this gets resync
CHANNEL_TTL_S = 7 * 24 * 3600  # an idle channel's history expires (its epoch then changes)
DEDUP_TTL_S = 24 * 3600  # how long a published outbox id is remembered
RELAY_LOCK_TTL_MS = 5000  # a dead relay's lock frees itself this fast
MEMORY_MAX_CHANNELS = 100_000  # embedded: least recently used channels beyond this are forgotten
LISTEN_BACKOFF_MAX_S = 5.0
RECHECK_ATTEMPTS = 20  # after a reconnect, Redis may refuse a few more commands while it loads
LISTENER_STOP_CHECK_S = 0.5  # at stop, how long to wait before cancelling the listener again


def new_epoch() -> str:
    return secrets.token_hex(4)


def event_frame(channel: str, seq: int, type_: str, data_json: str) -> bytes:
    """The `event` op, encoded once per event and written as-is to every subscriber."""
    return ('{"op":"event","channel":%s,"seq":%d,"type":%s,"data":%s}'
            % (json.dumps(channel), seq, json.dumps(type_), data_json)).encode()


@dataclass(slots=True)
class Published:
    channel: str
    seq: int
    epoch: str
    frame: bytes


@dataclass(slots=True)
class OutgoingEvent:
    outbox_id: int
    channel: str
    type: str
    data: str
    token: str  # random per outbox row (tells it from another row with the same id)


@dataclass(slots=True)
class PublishResult:
    published: int = 0
    skipped: list[int] = field(default_factory=list)  # outbox ids found already published (not sent again)
    reused: list[int] = field(default_factory=list)  # published, though their id was seen in another history


class MemoryBus:
    """Embedded bus: one process, history in memory, a new epoch per process start."""

    name = "memory"

    def __init__(self) -> None:
        self.on_event: Callable[[Published], None] = lambda event: None
        self._channels: collections.OrderedDict[str, list] = collections.OrderedDict()

    def _channel(self, channel: str) -> list:
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = [0, new_epoch(), collections.deque(maxlen=HISTORY_LEN)]
            if len(self._channels) > MEMORY_MAX_CHANNELS:
                self._channels.popitem(last=False)
        else:
            self._channels.move_to_end(channel)
        return state

    async def start(self, on_reconnect: Callable) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def ping(self) -> bool:
        return True

    async def position(self, channel: str) -> tuple[int, str]:
        seq, epoch, _ = self._channel(channel)
        return seq, epoch

    async def history(self, channel: str, since: int) -> list[Published] | None:
        _, epoch, log_ = self._channel(channel)
        events = [Published(channel, seq, epoch, frame) for seq, frame in log_ if seq > since]
        if events and events[0].seq != since + 1:
            return None
        return events

    async def publish(self, batch: list[OutgoingEvent]) -> PublishResult:
        for event in batch:
            state = self._channel(event.channel)
            state[0] += 1
            frame = event_frame(event.channel, state[0], event.type, event.data)
            state[2].append((state[0], frame))
            self.on_event(Published(event.channel, state[0], state[1], frame))
        return PublishResult(published=len(batch))

    @contextlib.asynccontextmanager
    async def relay_lock(self) -> AsyncIterator[bool]:
        yield True


_PUBLISH = """
local marker = redis.call('GET', KEYS[3])
if marker == ARGV[1] then return {-1, '', 0} end
redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[5])
local reused = 0
if marker then reused = 1 end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[6]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], seq .. '-1', 't', ARGV[2], 'd', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[9])
redis.call('EXPIRE', KEYS[2], ARGV[9])
local frame = '{"op":"event","channel":' .. cjson.encode(ARGV[8]) .. ',"seq":' .. seq ..
  ',"type":' .. cjson.encode(ARGV[2]) .. ',"data":' .. ARGV[3] .. '}'
redis.call('PUBLISH', ARGV[7], ARGV[8] .. '\\t' .. seq .. '\\t' .. epoch .. '\\t' .. frame)
return {seq, epoch, reused}
"""

_POSITION = """
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'seq', 0)
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return {tonumber(redis.call('HGET', KEYS[1], 'seq')), epoch}
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisBus:
    name = "redis"

    def __init__(self, redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.pubsub_channel = f"{prefix}events"
        self.on_event: Callable[[Published], None] = lambda event: None
        self._publish = redis.register_script(_PUBLISH)
        self._position = redis.register_script(_POSITION)
        self._release = redis.register_script(_RELEASE)
        self._listener: asyncio.Task | None = None
        self.listening = asyncio.Event()

    def _keys(self, channel: str) -> tuple[str, str]:
        return f"{self.prefix}ch:{channel}:meta", f"{self.prefix}ch:{channel}:log"

    async def start(self, on_reconnect: Callable) -> None:
        self._on_reconnect = on_reconnect
        self._listener = asyncio.create_task(self._listen())
        await asyncio.wait_for(self.listening.wait(), 5)

    async def stop(self) -> None:
        # Cancelled while `get_message`'s own timeout fires, the listener can lose the cancellation
        # (Python 3.11's asyncio.timeout turns it into that TimeoutError, which redis-py answers
        # by returning None) and go on listening: cancel until it has stopped, not once.
        while self._listener and not self._listener.done():
            self._listener.cancel()
            await asyncio.wait([self._listener], timeout=LISTENER_STOP_CHECK_S)
        if self._listener and not self._listener.cancelled() and self._listener.exception() is not None:
            log.warning("bus listener ended with %r", self._listener.exception())

    async def ping(self) -> bool:
        return bool(await self.redis.ping()) and self.listening.is_set()

    async def position(self, channel: str) -> tuple[int, str]:
        seq, epoch = await self._position(keys=list(self._keys(channel)), args=[new_epoch(), CHANNEL_TTL_S])
        return int(seq), epoch

    async def history(self, channel: str, since: int) -> list[Published] | None:
        meta, stream = self._keys(channel)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hget(meta, "epoch")
            pipe.xrange(stream, min=f"{since + 1}-0", max="+", count=HISTORY_LEN * 2)
            epoch, entries = await pipe.execute()
        if epoch is None:
            return None
        events = []
        for entry_id, fields in entries:
            seq = int(entry_id.split("-")[0])
            events.append(Published(channel, seq, epoch, event_frame(channel, seq, fields["t"], fields["d"])))
        if events and events[0].seq != since + 1:
            return None  # trimmed: the oldest held event is newer than what the client needs
        return events

    async def publish(self, batch: list[OutgoingEvent]) -> PublishResult:
        async with self.redis.pipeline(transaction=False) as pipe:
            for event in batch:
                meta, stream = self._keys(event.channel)
                await self._publish(
                    keys=[meta, stream, f"{self.prefix}outbox:{event.outbox_id}"],
                    args=[event.token, event.type, event.data, HISTORY_LEN, DEDUP_TTL_S, new_epoch(),
                          self.pubsub_channel, event.channel, CHANNEL_TTL_S],
                    client=pipe,
                )
            results = await pipe.execute()
        result = PublishResult()
        for event, (seq, _, reused) in zip(batch, results):
            if int(seq) < 0:
                result.skipped.append(event.outbox_id)
                continue
            result.published += 1
            if int(reused):
                result.reused.append(event.outbox_id)
        return result

    @contextlib.asynccontextmanager
    async def relay_lock(self) -> AsyncIterator[bool]:
        """One relay at a time across processes, so each channel is published in outbox order."""
        key, token = f"{self.prefix}relay:lock", uuid.uuid4().hex
        acquired = await self.redis.set(key, token, nx=True, px=RELAY_LOCK_TTL_MS)
        try:
            yield bool(acquired)
        finally:
            if acquired:
                with contextlib.suppress(RedisError, OSError):
                    await self._release(keys=[key], args=[token])

    async def _listen(self) -> None:
        """Receive every published event; on reconnect let the hub re-check what it may have missed."""
        backoff, connected_before = 0.1, False
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.pubsub_channel)
                self.listening.set()
                if connected_before:
                    log.info("bus listener reconnected; re-checking channel positions")
                    for attempt in range(RECHECK_ATTEMPTS):
                        if await self._on_reconnect():
                            break
                        await asyncio.sleep(0.1 * (attempt + 1))
                connected_before, backoff = True, 0.1
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._dispatch(message["data"])
            except (RedisError, OSError) as exc:
                self.listening.clear()
                log.warning("bus listener lost Redis (%r); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, LISTEN_BACKOFF_MAX_S)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _dispatch(self, raw: str) -> None:
        try:
            channel, seq, epoch, frame = raw.split("\t", 3)
            event = Published(channel, int(seq), epoch, frame.encode())
        except ValueError:
            log.error("ignoring a malformed bus message: %.200r", raw)
            return
        try:
            self.on_event(event)
        except Exception:  # one bad delivery must not end the listener (and every later delivery)
            log.exception("delivering a bus event failed")
