"""`GET /ws`: the live-push endpoint (protocol in API.md).

Each connection authenticates by `?token=` or an `auth` op, subscribes to channels it is allowed
to read, and receives pre-encoded event frames from the hub. What keeps one client from hurting
the others:
- a bound on bytes written but not yet flushed to the socket: a client that stops reading is
  closed with 1013 instead of growing our memory (MAX_UNFLUSHED_BYTES);
- a token bucket on incoming messages, a cap on subscriptions, and a frame size limit enforced
  by Tornado (`websocket_max_message_size`, close 1009);
- server pings from the process's heartbeat (events.connections), so dead peers are closed;
- a malformed message gets an `error` op; nothing a client sends can raise out of a handler.
Origins are not checked: authentication is by bearer token, never by cookie.

Private subscriptions (`member:{id}`, `shop:{id}:orders`) are bound to the principal that
authorized them, the one the connection is signed in as. Each private subscribe re-reads that
principal from the database. A second `auth` with a valid token re-checks every private
subscription against the new principal and ends the ones it may not read; a refused token is an
`error` and changes nothing (the connection stays who it was, so revocation still finds it).
Revocation reaches every process as a control message (events.control), for which this module
registers: `access.revoked` (staff disabled or given a new password, member's new password, shop
suspended) closes the principal's connections; `access.changed` (a shop's staff keys or roles
changed) re-reads each of the shop's signed-in staff and ends the subscriptions they lost. Open
connections are kept in events.connections, where those messages and shutdown find them.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import struct
import time

import jwt
import tornado.websocket
from redis.exceptions import RedisError
from tornado import httputil
from tornado.iostream import StreamClosedError

from events import connections, control
from events.channels import CHANNEL
from handlers.base import ApiError, Hardened
from lib.errors import DomainError, Unauthenticated, unauthorized
from lib.runtime import current
from models.db import UNAVAILABLE_ERRORS
from services import credentials, staff
from services import member as member_service
from services import shop as shop_service

log = logging.getLogger("mall.ws")

MAX_SUBSCRIPTIONS = 100  # per connection; a page needs a handful
MAX_UNFLUSHED_BYTES = 1024 * 1024  # a client this far behind is dropped (close 1013)
MAX_FRAME_BYTES = 64 * 1024  # client frames; larger closes the connection with 1009
RATE_PER_S, RATE_BURST = 20.0, 60  # client messages; beyond, messages are refused
FULL_BUCKET = float(RATE_BURST)  # one float object shared by every new connection
SENT_HEADERS = httputil.HTTPHeaders()  # what an open connection's handler holds instead of its 101's headers
MAX_REFUSED = 200  # refused messages before we close the connection (1008)
ORDERS_PERMISSION = "orders.view"


class WsHandler(Hardened, tornado.websocket.WebSocketHandler):
    # What mall keeps per connection lives in slots, not in the handler's __dict__: Tornado's own
    # attributes fill that dict to 27 keys, and eight more made Python give up its compact
    # key-sharing form for a full table (288 -> 1,584 bytes per connection, tracemalloc).
    __slots__ = ("principal", "claims", "access_generation", "subscriptions", "unflushed", "tokens",
                 "refilled_at", "refused", "awaiting_pong")

    def check_origin(self, origin: str) -> bool:
        return True

    def get(self, *args, **kwargs):
        """Refuse a plain HTTP request with the JSON error body (Tornado answers it in plain text).
        Not a coroutine: Tornado's `get` runs for the connection's whole life, and a coroutine of
        ours around it would keep its frame and locals as long."""
        headers = self.request.headers
        if headers.get("Upgrade", "").lower() != "websocket" \
                or "upgrade" not in (part.strip().lower() for part in headers.get("Connection", "").split(",")):
            raise ApiError(400, "websocket_required", "this endpoint speaks WebSocket only (Upgrade: websocket)")
        if headers.get("Sec-WebSocket-Version") not in ("7", "8", "13"):
            raise ApiError(400, "websocket_version", "Sec-WebSocket-Version 13 is required")
        return super().get(*args, **kwargs)

    def open(self):
        """Register the connection; with `?token=`, return the sign-in for Tornado to await before
        any message is read. Not a coroutine otherwise: Tornado keeps what `open` returned for
        the connection's whole life."""
        self.principal: tuple[str, object] | None = None  # ("member", Member) / ("merchant", Staff)
        self.claims: credentials.Claims | None = None  # the principal's token, to re-read it
        self.access_generation = 0  # bumped by every access change that concerns this connection
        self.subscriptions: tuple[str, ...] = ()  # a tuple: a connection has a handful at most
        self.unflushed = 0
        self.tokens, self.refilled_at, self.refused = FULL_BUCKET, time.monotonic(), 0
        self.awaiting_pong = False  # pinged by the heartbeat and not answered yet
        # The 101 answer is sent and Tornado has disabled set_header, write, flush and finish on
        # this handler: its response headers and output transforms are never read again. Each
        # connection kept them (about 1.3 KB: the security headers' dicts and lists) for its life.
        self._headers, self._transforms = SENT_HEADERS, ()
        connections.add(self)
        token = self.get_query_argument("token", None)
        return self._authenticate(token) if token else None

    def on_close(self) -> None:
        connections.discard(self)
        hub = current().hub
        if hub is not None:
            hub.remove_subscriber(self, self.subscriptions)
        self.subscriptions = ()

    def on_pong(self, data: bytes) -> None:
        self.awaiting_pong = False

    def send_ping(self) -> None:
        """The heartbeat's ping (a control frame the client's WebSocket answers by itself)."""
        connection = self.ws_connection
        if connection is not None and not connection.is_closing():
            connection.write_ping(b"")

    def _forget(self, channel: str) -> None:
        self.subscriptions = tuple(c for c in self.subscriptions if c != channel)

    # ---- outgoing ----
    def send_frame(self, frame: bytes) -> None:
        """Write one text frame. Server frames are unmasked, so the bytes for one event are encoded
        once and shared by every subscriber (`_wire`). When nothing is queued on the stream they
        go straight to the socket: `IOStream.write` costs a Future, two done-callbacks scheduled
        on the loop and a copy into its buffer per call. Measured at 5,000 subscribers
        (bench/ws_fanout.py, 1 event/s): server CPU per frame 48 us through `IOStream.write`, 22
        us this way (18 us once the hub stopped allocating per subscriber); the send() itself is
        about 7 us of kernel time on loopback on the 2-core bench machine, now over half the
        samples. Whatever the kernel does not take (a
        client that reads slowly) is queued behind Tornado's buffer as before, so bytes never
        overtake each other, and that queue is what MAX_UNFLUSHED_BYTES bounds. Frames are never
        compressed (none is offered), and an uncompressed message is valid even where
        permessage-deflate was negotiated (RFC 7692 section 6).

        Several processes sharing one port (SO_REUSEPORT) were measured too, on the same run's
        clients: two processes each fanned out to half the sockets in 61-66 ms against 89-99 ms
        for one process with all of them (p99 commit -> screen 94-113 vs 128 ms): less than
        halved, as the clients need the same two cores. The shipped deployment already runs
        several processes (deploy/: systemd units behind nginx), so nothing was added for it."""
        connection = self.ws_connection
        if connection is None or connection.is_closing():
            return
        wire = _wire(frame)
        stream = connection.stream
        if not stream.writing():
            try:
                sent = stream.socket.send(wire)
            except OSError:  # full (EAGAIN), or reset: the write below queues it, or meets the error and closes
                sent = 0
            if sent == len(wire):
                return
            wire = wire[sent:]
        if self.unflushed + len(wire) > MAX_UNFLUSHED_BYTES:
            self._drop_slow()
            return
        try:
            written = stream.write(wire)
        except StreamClosedError:
            return
        self.unflushed += len(wire)
        written.add_done_callback(functools.partial(self._flushed, len(wire)))

    def _flushed(self, size: int, future) -> None:
        self.unflushed -= size
        if not future.cancelled():
            future.exception()  # a closed stream is expected here; mark it retrieved

    def _drop_slow(self) -> None:
        from events.metrics import counters

        counters.slow_clients_dropped += 1
        log.info("dropping a slow WebSocket client (%d bytes unflushed)", self.unflushed)
        self.on_close()  # stop fan-out to it now
        self.close(1013, "too slow; reconnect with since")
        if self.ws_connection is not None:
            self.ws_connection.stream.close()  # its buffer will not drain; free it now

    def send_op(self, **fields) -> None:
        self.send_frame(json.dumps(fields, ensure_ascii=False).encode())

    def send_error_op(self, code: str, message: str, **extra) -> None:
        self.send_op(op="error", code=code, message=message, **extra)

    # ---- incoming ----
    def _allow_message(self) -> bool:
        now = time.monotonic()
        self.tokens = min(RATE_BURST, self.tokens + (now - self.refilled_at) * RATE_PER_S)
        self.refilled_at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.refused += 1
        if self.refused > MAX_REFUSED:
            self.close(1008, "message rate limit exceeded")
        else:
            self.send_error_op("rate_limited", f"at most {RATE_PER_S:g} messages per second")
        return False

    async def on_message(self, message: str | bytes) -> None:
        if not self._allow_message():
            return
        try:
            request = json.loads(message)
        except (ValueError, UnicodeDecodeError):
            self.send_error_op("bad_frame", "frames must be JSON objects")
            return
        op = request.get("op") if isinstance(request, dict) else None
        handler = {"subscribe": self._subscribe, "unsubscribe": self._unsubscribe,
                   "ping": self._ping, "auth": self._auth}.get(op if isinstance(op, str) else "")
        if handler is None:
            self.send_error_op("bad_op", "op must be one of subscribe, unsubscribe, ping, auth")
            return
        try:
            await handler(request)
        except tornado.websocket.WebSocketClosedError:
            pass
        except UNAVAILABLE_ERRORS + (RedisError, OSError) as exc:
            log.warning("ws %s failed, dependency unavailable: %r", op, exc)
            self.send_error_op("unavailable", "a dependency is unavailable; retry shortly", channel=request.get("channel"))
        except Exception:
            log.exception("ws %s failed", op)
            self.send_error_op("internal_error", "internal error", channel=request.get("channel"))

    async def _ping(self, request: dict) -> None:
        self.send_op(op="pong")

    async def _auth(self, request: dict) -> None:
        token = request.get("token")
        if not isinstance(token, str):
            self.send_error_op("bad_frame", "auth needs a token string")
            return
        await self._authenticate(token)

    async def _authenticate(self, token: str) -> None:
        try:
            audience = jwt.decode(token, options={"verify_signature": False}).get("aud")
            if audience not in ("member", "merchant"):
                raise unauthorized("invalid_token", "token is invalid")
            claims = credentials.decode_token(token, audience)
            principal = await _load_principal(claims)
        except (DomainError, jwt.InvalidTokenError) as exc:
            still = "still signed in as before" if self.principal else "continuing anonymously"
            self.send_error_op(getattr(exc, "code", "invalid_token"), f"token refused; {still}")
            return
        self.access_generation += 1  # a subscribe racing this must re-check against the new principal
        self.principal, self.claims = principal, claims
        self._end_unreadable("forbidden", "not readable with the new token; subscription ended")
        self.send_op(op="authenticated", audience=audience)

    def _end_unreadable(self, code: str, message: str) -> None:
        """End each private subscription the current principal may not read, telling the client."""
        for channel in sorted(self.subscriptions):
            if _may_read(self.principal, channel) is not None:
                self._forget(channel)
                current().hub.unsubscribe(self, channel)
                self.send_error_op(code, message, channel=channel)

    def revoke(self) -> None:
        self.send_error_op("access_revoked", "your access was revoked")
        self.on_close()
        self.close(1008, "access revoked")

    async def recheck_access(self, generation: int) -> None:
        """After an access change in the principal's shop: re-read the principal and end what it
        lost; a principal that is gone (disabled, new password) loses the connection."""
        try:
            principal = await _load_principal(self.claims)
        except DomainError:
            self.revoke()
            return
        except Exception as exc:  # fail closed: a connection whose access cannot be checked ends
            log.warning("could not re-check a WebSocket's access: %r", exc)
            self.send_error_op("unavailable", "could not re-check your access; reconnect")
            self.on_close()
            self.close(1011, "access re-check failed")
            return
        if generation != self.access_generation or not connections.is_live(self):
            return  # re-authenticated or changed again meanwhile: the later check decides
        self.principal = principal
        self._end_unreadable("access_revoked", "your access to this channel was revoked")

    async def _authorize(self, channel: str) -> str | None:
        """None if this connection may read `channel`, else the error code. A private channel
        re-reads the principal first, so a change whose control message is late still counts."""
        refused = _may_read(self.principal, channel)
        if refused or CHANNEL.match(channel).group(1, 2) == (None, None):
            return refused  # refused already, or a public channel
        try:
            self.principal = await _load_principal(self.claims)
            await shop_service.active_shop(self.principal[1].shop_id)
        except DomainError as exc:
            if isinstance(exc, Unauthenticated):  # revoked, and its control message not here yet
                self.revoke()
            return exc.code
        return _may_read(self.principal, channel)

    async def _subscribe(self, request: dict) -> None:
        channel, since, epoch = request.get("channel"), request.get("since"), request.get("epoch")
        if not isinstance(channel, str) or len(channel) > 64:
            self.send_error_op("bad_channel", "channel must be a string such as team:42")
            return
        if since is not None and (type(since) is not int or since < 0):
            self.send_error_op("bad_frame", "since must be a non-negative integer", channel=channel)
            return
        if epoch is not None and (not isinstance(epoch, str) or len(epoch) > 32):
            self.send_error_op("bad_frame", "epoch must be a short string", channel=channel)
            return
        generation = -1
        refused = None
        while generation != self.access_generation and not refused:  # until no access change raced it
            generation = self.access_generation
            refused = await self._authorize(channel)
        if not connections.is_live(self):
            return  # closed (revoked) meanwhile
        if refused:
            self.send_error_op(refused, f"cannot subscribe to {channel}", channel=channel)
            return
        if channel not in self.subscriptions and len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            self.send_error_op("too_many_subscriptions", f"at most {MAX_SUBSCRIPTIONS} per connection", channel=channel)
            return
        if channel not in self.subscriptions:
            self.subscriptions += (channel,)
        try:
            await current().hub.subscribe(self, channel, since, epoch)
        except BaseException:
            self._forget(channel)
            raise

    async def _unsubscribe(self, request: dict) -> None:
        channel = request.get("channel")
        if isinstance(channel, str) and channel in self.subscriptions:
            self._forget(channel)
            current().hub.unsubscribe(self, channel)
        self.send_op(op="unsubscribed", channel=channel if isinstance(channel, str) else None)


async def _load_principal(claims: credentials.Claims) -> tuple[str, object]:
    """The principal a token names, as the database has it now; Unauthenticated if it is revoked."""
    if claims.audience == "member":
        return "member", await member_service.member_for_token(claims)
    return "merchant", await staff.staff_for_token(claims)


def _may_read(principal: tuple[str, object] | None, channel: str) -> str | None:
    """None if `principal` (None: anonymous) may read `channel`, else the error code."""
    match = CHANNEL.match(channel)
    if match is None:
        return "bad_channel"
    member_id, shop_id = match.group(1), match.group(2)
    kind, who = principal or (None, None)
    if member_id is not None:
        return None if kind == "member" and who.id == int(member_id) else "forbidden"
    if shop_id is not None:
        if kind != "merchant" or who.shop_id != int(shop_id) or not staff.has_permission(who, ORDERS_PERMISSION):
            return "forbidden"
    return None


_last_wire: tuple[bytes | None, bytes] = (None, b"")


def _wire(frame: bytes) -> bytes:
    """`frame` as one unmasked, final WebSocket text frame (RFC 6455 5.2). The hub writes the same
    frame object to every subscriber in a row, so the last encoding is remembered by identity."""
    global _last_wire
    if _last_wire[0] is frame:
        return _last_wire[1]
    size = len(frame)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size <= 0xFFFF:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    _last_wire = (frame, header + frame)
    return _last_wire[1]


_rechecks: set[asyncio.Task] = set()  # running access re-checks (a reference keeps each alive)


def _revoke_access(data: dict) -> None:
    """`access.revoked`: close the connections of a disabled or re-passworded staff member, a
    re-passworded member, everyone signed in to a suspended shop."""
    for connection in connections.signed_in(data.get("member_id"), data.get("staff_id"), data.get("shop_id")):
        connection.revoke()


def _recheck_access(data: dict) -> None:
    """`access.changed`: re-check each signed-in staff member of the shop whose keys or roles changed."""
    for connection in connections.staff_of(data.get("shop_id")):
        connection.access_generation += 1
        task = asyncio.ensure_future(connection.recheck_access(connection.access_generation))
        _rechecks.add(task)
        task.add_done_callback(_rechecks.discard)


control.on_control("access.revoked", _revoke_access)
control.on_control("access.changed", _recheck_access)
