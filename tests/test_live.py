"""Live push: outbox -> relay -> bus -> /ws, with real WebSocket clients, on both backends."""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
import struct

import pytest

import events
from events import connections
from events.bus import HISTORY_LEN, Published, event_frame
from lib.runtime import current
from models.events import OutboxEvent
from models.user import Staff
from services.credentials import hash_password
from tests.builders import assert_invalid, eventually
from tests.conftest import Api, make_config, unique
from tests.helpers import free_port, needs_redis, redis_cli, run_cli, server_env, start_redis, start_server_process
from tests.ws_client import WsClient

_team_ids = itertools.count(1000)


def new_team_channel() -> str:
    return f"team:{next(_team_ids)}"


async def emit(channel: str, type_: str = "team.progress", **data) -> None:
    """Commit one event the way a service does: inside a transaction, relay woken after commit."""
    async with events.atomic():
        await events.record(channel, type_, data)


async def test_anonymous_subscriber_gets_events_in_seq_order(server):
    channel = new_team_channel()
    client = await WsClient.connect(server.port)
    subscribed = await client.subscribe(channel)
    assert subscribed["op"] == "subscribed" and subscribed["seq"] == 0 and subscribed["epoch"]
    for paid in range(1, 6):
        await emit(channel, paid_count=paid)
    received = [await client.recv() for _ in range(5)]
    assert [m["seq"] for m in received] == [1, 2, 3, 4, 5]
    assert [m["data"]["paid_count"] for m in received] == [1, 2, 3, 4, 5]
    assert all(m["op"] == "event" and m["channel"] == channel and m["type"] == "team.progress" for m in received)
    client.close()


async def test_channel_authorization(server, make_shop, make_member):
    shop = await make_shop()
    member, other = await make_member(shop.id), await make_member(shop.id)
    limited = await Staff.aio_create(shop_id=shop.id, username=unique("clerk"), permissions="[]",
                                     password_hash=await hash_password("clerk-pass-1"))
    from services.credentials import issue_token

    clerk_token = issue_token("merchant", limited.id, limited.token_version, shop_id=shop.id)

    anonymous = await WsClient.connect(server.port)
    assert (await anonymous.subscribe(f"member:{member.id}"))["code"] == "forbidden"
    assert (await anonymous.subscribe(f"shop:{shop.id}:orders"))["code"] == "forbidden"
    assert (await anonymous.subscribe("nonsense:1"))["code"] == "bad_channel"
    assert (await anonymous.subscribe(new_team_channel()))["op"] == "subscribed"

    as_member = await WsClient.connect(server.port, member.token)
    assert (await as_member.recv())["op"] == "authenticated"
    assert (await as_member.subscribe(f"member:{other.id}"))["code"] == "forbidden"
    assert (await as_member.subscribe(f"shop:{shop.id}:orders"))["code"] == "forbidden"
    assert (await as_member.subscribe(f"member:{member.id}"))["op"] == "subscribed"

    clerk = await WsClient.connect(server.port)
    await clerk.send({"op": "auth", "token": clerk_token})
    assert (await clerk.recv())["op"] == "authenticated"
    assert (await clerk.subscribe(f"shop:{shop.id}:orders"))["code"] == "forbidden"

    owner = await WsClient.connect(server.port, shop.owner_token)
    await owner.recv_op("authenticated")
    other_shop = await make_shop()
    assert (await owner.subscribe(f"shop:{other_shop.id}:orders"))["code"] == "forbidden"
    assert (await owner.subscribe(f"shop:{shop.id}:orders"))["op"] == "subscribed"
    await emit(f"shop:{shop.id}:orders", "order.paid", order_id=1)
    event = await owner.recv()
    assert event["type"] == "order.paid" and event["data"] == {"order_id": 1}

    bad = await WsClient.connect(server.port, "not-a-token")
    assert (await bad.recv())["code"] == "invalid_token"
    for client in (anonymous, as_member, clerk, owner, bad):
        client.close()


async def test_reconnect_with_since_replays_exactly_the_missed_events(server):
    channel = new_team_channel()
    first = await WsClient.connect(server.port)
    subscribed = await first.subscribe(channel)
    await emit(channel, n=1)
    await emit(channel, n=2)
    seen = [await first.recv(), await first.recv()]
    first.close()
    for n in (3, 4, 5):
        await emit(channel, n=n)

    again = await WsClient.connect(server.port)
    resumed = await again.subscribe(channel, since=seen[-1]["seq"], epoch=subscribed["epoch"])
    # the relay may still be publishing 3..5: whatever is not replayed arrives live, once
    assert resumed["op"] == "subscribed" and resumed["epoch"] == subscribed["epoch"]
    assert 2 <= resumed["seq"] <= 5
    replayed = [await again.recv() for _ in range(3)]
    assert [(m["seq"], m["data"]["n"]) for m in replayed] == [(3, 3), (4, 4), (5, 5)]
    await emit(channel, n=6)
    live = await again.recv()
    assert (live["seq"], live["data"]["n"]) == (6, 6)
    assert await again.nothing_within(0.3)
    again.close()


async def test_since_from_another_epoch_or_beyond_history_gets_resync(server):
    channel = new_team_channel()
    client = await WsClient.connect(server.port)
    subscribed = await client.subscribe(channel)
    wrong_epoch = await client.subscribe(channel, since=0, epoch="0000dead")
    assert wrong_epoch == {"op": "resync", "channel": channel, "seq": 0, "epoch": subscribed["epoch"]}
    client.close()

    total = HISTORY_LEN + 300
    async with events.atomic():
        await OutboxEvent.insert_many(
            [{"channel": channel, "type": "team.progress", "data": json.dumps({"n": n})} for n in range(total)]
        ).aio_execute()
    late = await WsClient.connect(server.port)

    async def all_published():
        return (await events.position(channel))["seq"] >= total
    await eventually(all_published, timeout=20)
    resync = await late.subscribe(channel, since=1, epoch=subscribed["epoch"])
    assert resync == {"op": "resync", "channel": channel, "seq": total, "epoch": subscribed["epoch"]}
    await emit(channel, n="after")
    after = await late.recv()
    assert after["seq"] == total + 1 and after["data"]["n"] == "after"
    late.close()


async def test_rest_read_position_lets_a_client_miss_nothing(server, api, make_shop, make_member):
    shop = await make_shop()
    member = await make_member(shop.id)
    me = await api.get(f"/api/mobile/{shop.id}/me", token=member.token)
    channel = me.body["channel"]
    assert channel["channel"] == f"member:{member.id}" and channel["seq"] == 0
    await emit(channel["channel"], "order.status", order_id=7, status=1, previous_status=0, refund_status="none")
    client = await WsClient.connect(server.port, member.token)
    await client.recv_op("authenticated")
    subscribed = await client.subscribe(channel["channel"], since=channel["seq"], epoch=channel["epoch"])
    assert subscribed["op"] == "subscribed"
    missed = await client.recv()
    assert missed["op"] == "event" and missed["data"]["order_id"] == 7 and missed["seq"] == 1
    client.close()


async def test_committed_event_is_delivered_even_if_its_relay_never_ran(server):
    """A process that commits and dies before publishing: the poll of a relay delivers it."""
    channel = new_team_channel()
    client = await WsClient.connect(server.port)
    await client.subscribe(channel)
    relay = current().relay
    relay.paused = True  # the committing process's publish step never happens
    try:
        await emit(channel, n=1)
        assert await client.nothing_within(0.3)
        pending = await OutboxEvent.select().where(OutboxEvent.published_at.is_null()
                                                    & (OutboxEvent.channel == channel)).aio_count()
        assert pending == 1
    finally:
        relay.paused = False  # "restart": nobody wakes it; its periodic poll must find the row
    event = await client.recv(timeout=5)
    assert event["seq"] == 1 and event["data"] == {"n": 1}
    client.close()


async def test_rolled_back_transaction_publishes_nothing(server):
    channel = new_team_channel()
    client = await WsClient.connect(server.port)
    await client.subscribe(channel)
    with pytest.raises(RuntimeError):
        async with events.atomic():
            await events.record(channel, "team.progress", {"n": "never"})
            raise RuntimeError("business rule failed")
    await emit(channel, n="real")
    event = await client.recv()
    assert event["data"] == {"n": "real"} and event["seq"] == 1
    client.close()


async def _raw_ws_that_never_reads(port: int, channel: str) -> asyncio.StreamWriter:
    """A WebSocket client that subscribes and then never reads: its socket buffers fill up."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    writer.write(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    assert b" 101 " in await reader.readline()
    mask, payload = b"\x01\x02\x03\x04", json.dumps({"op": "subscribe", "channel": channel}).encode()
    writer.write(b"\x81" + bytes([0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    await writer.drain()
    writer.reader = reader
    return writer


def _server_frames(data: bytes) -> tuple[list[dict], bytes]:
    """The complete unmasked text frames (RFC 6455 5.2) at the start of `data`, as JSON, and what
    is left over (a frame not yet whole)."""
    frames = []
    while len(data) >= 2:
        assert data[0] == 0x81, f"not a final text frame: {data[:16]!r}"
        length, start = data[1], 2
        if length == 126:
            length, start = struct.unpack("!H", data[2:4])[0], 4
        elif length == 127:
            length, start = struct.unpack("!Q", data[2:10])[0], 10
        if len(data) < start + length:
            break
        frames.append(json.loads(data[start:start + length]))
        data = data[start + length:]
    return frames, data


async def test_frames_queued_for_a_slow_reader_are_never_overtaken(server):
    """Fan-out writes a frame straight to the socket only when nothing waits in the server's
    queue for it. A client that reads slowly has frames queued; when it reads, its socket has
    room again before the server's loop has moved the queue into it, and an event arriving at
    that moment must wait behind the queue: the client reads every frame whole, in seq order."""
    channel = new_team_channel()
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", server.port))
    mask, payload = b"\x01\x02\x03\x04", json.dumps({"op": "subscribe", "channel": channel}).encode()
    await loop.sock_sendall(sock, b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
                                  + b"\x81" + bytes([0x80 | len(payload)]) + mask
                                  + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    data = b""
    while b"\r\n\r\n" not in data or not _server_frames(data.split(b"\r\n\r\n", 1)[1])[0]:
        data += await asyncio.wait_for(loop.sock_recv(sock, 4096), 5)
    answer, data = data.split(b"\r\n\r\n", 1)
    assert b" 101 " in answer
    (subscribed,), data = _server_frames(data)
    assert subscribed["op"] == "subscribed"
    handler = next(c for c in connections.live if channel in c.subscriptions)
    handler.ws_connection.stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # queue sooner
    blob = "y" * 6000
    for n in range(1, 21):
        await emit(channel, n=n, blob=blob)
    sub = await eventually(lambda: (s := current().hub.channels[channel][handler]).seq == 20 and s,
                           what="20 events fanned out")
    assert handler.ws_connection.stream.writing(), "nothing waited in the server's queue: the test proves nothing"
    while True:  # the client reads what its socket holds, now, without letting the server's loop run
        try:
            data += sock.recv(1 << 20)
        except BlockingIOError:
            break
    frame = event_frame(channel, 21, "team.progress", json.dumps({"n": 21, "blob": blob}))
    current().hub.deliver(Published(channel, 21, sub.epoch, frame))  # as the bus would, at that moment
    received = []
    while len(received) < 21:
        frames, data = _server_frames(data)
        received += frames
        if len(received) < 21:
            data += await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 10)
    assert [m["seq"] for m in received] == list(range(1, 22))
    assert all(m["data"] == {"n": m["seq"], "blob": blob} for m in received)
    sock.close()


async def test_slow_client_is_dropped_while_others_keep_receiving(server):
    from events.metrics import counters

    channel = new_team_channel()
    slow = await _raw_ws_that_never_reads(server.port, channel)
    normal = await WsClient.connect(server.port)
    await eventually(lambda: any(sub.pending is None for sub in current().hub.channels.get(channel, {}).values()),
                     what="the slow client's subscribe lands first")
    await normal.subscribe(channel)
    dropped_before = counters.slow_clients_dropped
    blob = "x" * 8000
    received = 0
    for batch in range(250):  # up to 20 MB: more than any kernel buffers between the two ends
        async with events.atomic():
            for n in range(10):
                await events.record(channel, "team.progress", {"n": batch * 10 + n, "blob": blob})
        while received < (batch + 1) * 10:
            message = await normal.recv()
            assert message["seq"] == received + 1
            received += 1
        if counters.slow_clients_dropped > dropped_before:
            break
    assert counters.slow_clients_dropped == dropped_before + 1
    # the normal client saw every event in order, and keeps receiving after the drop
    await emit(channel, n="after")
    assert (await normal.recv())["seq"] == received + 1
    # the slow client's connection is closed: reading it reaches EOF instead of timing out
    while await asyncio.wait_for(slow.reader.read(1 << 20), 10):
        pass
    assert slow.reader.at_eof()
    slow.close()
    normal.close()


async def test_malformed_frames_get_error_ops_and_the_connection_survives(server):
    client = await WsClient.connect(server.port)
    cases = [
        ("not json at all", "bad_frame"),
        ("[1, 2, 3]", "bad_op"),
        (json.dumps({"op": "explode"}), "bad_op"),
        (json.dumps({"op": "subscribe"}), "bad_channel"),
        (json.dumps({"op": "subscribe", "channel": "team:1", "since": -4}), "bad_frame"),
        (json.dumps({"op": "subscribe", "channel": "team:1", "since": "7"}), "bad_frame"),
        (json.dumps({"op": "subscribe", "channel": "team:1", "epoch": {"a": 1}}), "bad_frame"),
        (json.dumps({"op": "auth", "token": 12}), "bad_frame"),
        (b"\xff\xfe binary", "bad_frame"),
    ]
    for frame, code in cases:
        await client.connection.write_message(frame, binary=isinstance(frame, bytes))
        reply = await client.recv()
        assert reply["op"] == "error" and reply["code"] == code, (frame, reply)
    await client.send({"op": "ping"})
    assert await client.recv() == {"op": "pong"}

    oversized = await WsClient.connect(server.port)
    await oversized.send("x" * (128 * 1024))
    assert await oversized.recv() is None
    assert oversized.connection.close_code == 1009
    await client.send({"op": "ping"})  # others are unaffected
    assert await client.recv() == {"op": "pong"}
    client.close()


async def test_message_flood_is_rate_limited(server):
    client = await WsClient.connect(server.port)
    for _ in range(150):
        await client.send({"op": "ping"})
    replies = [await client.recv() for _ in range(150)]
    assert any(r.get("code") == "rate_limited" for r in replies)
    assert sum(1 for r in replies if r == {"op": "pong"}) >= 60
    client.close()


async def test_metrics_need_admin_and_count_deliveries(server, api, admin_token, make_shop):
    shop = await make_shop()
    assert (await api.get("/api/admin/metrics", token=shop.owner_token)).status == 401
    metrics = await api.get("/api/admin/metrics", token=admin_token)
    assert metrics.status == 200
    assert metrics.body["frames_delivered"] > 0 and isinstance(metrics.body["relay"]["pending"], int)
    text = await api.http.fetch(f"{api.base}/api/admin/metrics?format=prometheus",
                                headers={"Authorization": f"Bearer {admin_token}"})
    assert b"mall_ws_connections " in text.body


async def test_metrics_time_each_fan_out_to_the_last_subscriber(server, api, admin_token):
    """An operator reads how long an event takes to reach every local subscriber: the fan-out
    done here (one event to three sockets) is in the `ws_fanout_seconds` histogram, in the JSON
    and in the Prometheus text alike."""
    async def histogram() -> dict:
        return (await api.get("/api/admin/metrics", token=admin_token)).body["ws_fanout_seconds"]

    async def prometheus() -> dict[str, float]:
        answer = await api.http.fetch(f"{api.base}/api/admin/metrics?format=prometheus",
                                      headers={"Authorization": f"Bearer {admin_token}"})
        return {name: float(value) for name, _, value in (line.rpartition(" ") for line in answer.body.decode().splitlines())
                if name.startswith("mall_ws_fanout_seconds")}

    channel = new_team_channel()
    clients = [await WsClient.connect(server.port) for _ in range(3)]
    for client in clients:
        assert (await client.subscribe(channel))["op"] == "subscribed"
    before, text_before = await histogram(), await prometheus()
    await emit(channel, n=1)
    for client in clients:
        assert (await client.recv())["seq"] == 1
    after, text_after = await histogram(), await prometheus()
    assert after["count"] >= before["count"] + 1
    assert after["frames"] >= before["frames"] + 3
    assert after["sum"] > before["sum"]
    counts = list(after["buckets"].values())
    assert counts == sorted(counts) and list(after["buckets"])[-1] == "+Inf" and counts[-1] == after["count"]
    assert 0 < after["recent"]["p50"] <= after["recent"]["p99"] <= after["recent"]["max"] <= after["sum"]
    assert text_after["mall_ws_fanout_seconds_count"] >= text_before.get("mall_ws_fanout_seconds_count", 0) + 1
    assert text_after['mall_ws_fanout_seconds_bucket{le="+Inf"}'] == text_after["mall_ws_fanout_seconds_count"]
    assert text_after["mall_ws_fanout_seconds_frames"] >= text_before["mall_ws_fanout_seconds_frames"] + 3
    for client in clients:
        client.close()


@needs_redis
async def test_event_committed_on_process_a_reaches_process_b_with_the_same_seq(server):
    port_b = free_port()
    process_b = await start_server_process(server_env(server.config), port_b)
    try:
        channel = new_team_channel()
        on_a = await WsClient.connect(server.port)
        on_b = await WsClient.connect(port_b)
        sub_a, sub_b = await on_a.subscribe(channel), await on_b.subscribe(channel)
        assert (sub_a["seq"], sub_a["epoch"]) == (sub_b["seq"], sub_b["epoch"])
        for n in range(3):
            await emit(channel, n=n)  # committed through process A (this test's server)
        from_a = [await on_a.recv() for _ in range(3)]
        from_b = [await on_b.recv() for _ in range(3)]
        assert from_a == from_b
        assert [m["seq"] for m in from_b] == [1, 2, 3]
        on_a.close()
        on_b.close()
    finally:
        process_b.terminate()
        process_b.wait(10)


@needs_redis
async def test_redis_restart_keeps_rest_serving_and_resyncs_subscribers(server, api, make_shop, make_member):
    shop = await make_shop()
    member = await make_member(shop.id)
    channel = new_team_channel()
    client = await WsClient.connect(server.port)
    subscribed = await client.subscribe(channel)
    await emit(channel, n=1)
    assert (await client.recv())["seq"] == 1
    old_epoch = subscribed["epoch"]

    redis_cli("shutdown", "nosave")
    try:
        async def bus_down():
            health = await api.get("/api/health")
            return health.status == 503 and health.body
        assert await eventually(bus_down) == {"status": "degraded", "database": "ok", "bus": "down"}
        me = await api.get(f"/api/mobile/{shop.id}/me", token=member.token)
        assert me.status == 200 and me.body["id"] == member.id and me.body["channel"]["seq"] is None
        await emit(channel, n=2)  # committed while the bus is down: kept in the outbox
    finally:
        start_redis()
    resync = await client.recv_op("resync", timeout=20)
    assert resync["channel"] == channel and resync["epoch"] != old_epoch
    # the event committed during the outage is published into the new epoch as its seq 1,
    # never as seq 2 of the old history
    replay = await WsClient.connect(server.port)

    async def outage_event_published():
        # (seq is None while Redis is still coming back: REST answers without a position then)
        return ((await events.position(channel))["seq"] or 0) >= 1
    await eventually(outage_event_published, timeout=10)
    assert (await replay.subscribe(channel, since=0, epoch=resync["epoch"]))["op"] == "subscribed"
    replayed = await replay.recv()
    assert (replayed["seq"], replayed["data"]) == (1, {"n": 2})
    replay.close()
    fresh = await WsClient.connect(server.port)
    now = await fresh.subscribe(channel, since=1, epoch=old_epoch)
    assert now["op"] == "resync" and now["epoch"] != old_epoch
    assert (await api.get("/api/health")).status == 200
    client.close()
    fresh.close()


async def test_admin_test_push_reaches_subscribers(server, api, admin_token, make_shop):
    channel = new_team_channel()
    client = await WsClient.connect(server.port)
    await client.subscribe(channel)
    shop = await make_shop()
    assert (await api.post("/api/admin/events/test", {"channel": channel}, token=shop.owner_token)).status == 401
    bad = await api.post("/api/admin/events/test", {"channel": "orders; DROP TABLE"}, token=admin_token)
    assert_invalid(bad, "channel")
    sent = await api.post("/api/admin/events/test", {"channel": channel, "data": {"hello": "世界"}}, token=admin_token)
    assert sent.status == 202
    event = await client.recv()
    assert (event["type"], event["data"], event["seq"]) == ("system.test", {"hello": "世界"}, 1)
    client.close()


async def test_joining_a_busy_channel_misses_nothing_and_repeats_nothing(server):
    channel = new_team_channel()
    first = await WsClient.connect(server.port)
    await first.subscribe(channel)
    for n in range(3):
        await emit(channel, n=n)
    assert [(await first.recv())["seq"] for _ in range(3)] == [1, 2, 3]
    second = await WsClient.connect(server.port)
    joined = await second.subscribe(channel)  # answered from the hub's live position
    assert joined["op"] == "subscribed" and joined["seq"] == 3
    for n in range(3, 5):
        await emit(channel, n=n)
    assert [(await second.recv())["seq"] for _ in range(2)] == [4, 5]
    resumed = await WsClient.connect(server.port)
    replay = await resumed.subscribe(channel, since=1, epoch=joined["epoch"])
    assert replay["seq"] == 5
    assert [(await resumed.recv())["seq"] for _ in range(4)] == [2, 3, 4, 5]
    assert await second.nothing_within(0.2) and await resumed.nothing_within(0.01)
    for client in (first, second, resumed):
        client.close()


async def test_unsubscribe_stops_events(server):
    channel = new_team_channel()
    client = await WsClient.connect(server.port)
    await client.subscribe(channel)
    await client.send({"op": "unsubscribe", "channel": channel})
    assert await client.recv() == {"op": "unsubscribed", "channel": channel}
    await emit(channel, n=1)
    assert await client.nothing_within(0.5)
    client.close()


async def test_peer_that_never_answers_pings_is_closed_and_one_that_answers_stays(server):
    """The heartbeat pings every connection once per interval: with a 1 s interval a peer that
    reads nothing (so never answers) is closed, while a client whose WebSocket answers pings
    (Tornado's, as browsers do) keeps its connection and its subscription."""
    connections.heartbeat.start(1)
    try:
        silent = await _raw_ws_that_never_reads(server.port, new_team_channel())
        channel = new_team_channel()
        answering = await WsClient.connect(server.port)
        await answering.subscribe(channel)
        started = asyncio.get_running_loop().time()
        while await asyncio.wait_for(silent.reader.read(1 << 16), 10):
            pass
        assert silent.reader.at_eof()
        assert asyncio.get_running_loop().time() - started < 10
        assert asyncio.get_running_loop().time() - started > 1  # not before it had a chance to answer
        await emit(channel, n=1)  # some seconds and pings later
        assert (await answering.recv())["seq"] == 1
    finally:
        connections.heartbeat.start(server.config.ws_ping_interval_seconds)
    silent.close()
    answering.close()


def _recreate_database(url: str) -> None:
    """Drop the database and create it empty, as a staging reset or a restore onto a new server does."""
    from urllib.parse import urlparse

    from tests.conftest import _mysql_admin

    if url.startswith("sqlite:///"):
        path = url.split("sqlite:///", 1)[1]
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path + suffix)
        return
    name = urlparse(url).path.lstrip("/")
    conn = _mysql_admin(url)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    conn.close()


async def _admin_on(port: int, env: dict) -> tuple[Api, str]:
    created = run_cli(["create-admin", "--username", "ops", "--password", "ops-pass-1"], env)
    assert created.returncode == 0, created.stderr
    api = Api(port)
    login = await api.post("/api/admin/auth/login", {"username": "ops", "password": "ops-pass-1"})
    assert login.status == 200, login.body
    return api, login.body["token"]


async def test_recreated_database_on_the_same_redis_still_pushes_live(fresh_database_url):
    """Database X + Redis prefix P publishes; X is dropped and created again (fresh schema, same P):
    a server on it must still deliver events, in a new epoch, and inherit no login lockout.
    (Embedded, a new process has a new in-memory bus anyway; the case that matters is Redis.)"""
    config = make_config(fresh_database_url, redis_prefix=f"{unique('recreate')}:")
    env = server_env(config)
    port = free_port()
    process = await start_server_process(env, port)
    try:
        api, token = await _admin_on(port, env)
        client = await WsClient.connect(port)
        old = await client.subscribe("team:1")
        for n in range(3):
            sent = await api.post("/api/admin/events/test", {"channel": "team:1", "data": {"n": n}}, token=token)
            assert sent.status == 202
        assert [(await client.recv())["seq"] for _ in range(3)] == [old["seq"] + 1, old["seq"] + 2, old["seq"] + 3]
        for _ in range(config.login_failures_per_account):
            await api.post("/api/admin/auth/login", {"username": "ops", "password": "wrong-pass"})
        assert (await api.post("/api/admin/auth/login", {"username": "ops", "password": "ops-pass-1"})).status == 429
        client.close()
    finally:
        process.terminate()
        process.wait(10)

    _recreate_database(fresh_database_url)
    process = await start_server_process(env, port)
    try:
        old_token = token
        api, token = await _admin_on(port, env)  # a fresh database: no lockout carried over
        # the new admin has the old one's id, but a token of the old database is not a key to the new one
        refused = await api.get("/api/admin/shops", token=old_token)
        assert refused.status == 401 and refused.body["error"]["code"] == "token_revoked"
        assert (await api.get("/api/admin/shops", token=token)).status == 200
        client = await WsClient.connect(port)
        new = await client.subscribe("team:1")
        # team 1 of the new database is another team: none of the old history, a new epoch
        assert new["op"] == "subscribed" and new["seq"] == 0 and new["epoch"] != old["epoch"]
        assert (await client.subscribe("team:1", since=3, epoch=old["epoch"]))["op"] == "resync"
        sent = await api.post("/api/admin/events/test", {"channel": "team:1", "data": {"n": "new"}}, token=token)
        assert sent.status == 202
        event = await client.recv(timeout=5)
        assert (event["op"], event["seq"], event["data"]) == ("event", 1, {"n": "new"})
        client.close()
    finally:
        process.terminate()
        process.wait(10)


@needs_redis
async def test_outbox_id_seen_in_another_database_history_is_published_and_reported(server, api, admin_token,
                                                                                     caplog):
    """A database restored from a backup reuses outbox ids that Redis saw published: those rows are
    other events and must go out; the relay says so in the log and the metrics."""
    channel = new_team_channel()
    client = await WsClient.connect(server.port)
    await client.subscribe(channel)
    relay, bus = current().relay, current().bus
    before = (await api.get("/api/admin/metrics", token=admin_token)).body
    relay.paused = True
    try:
        await emit(channel, n=1)
        row = await OutboxEvent.select().where(OutboxEvent.channel == channel).aio_get()
        # the marker another history of this database left for the same row id
        await current().redis.set(f"{bus.prefix}outbox:{row.id}", "row-of-another-history", ex=3600)
    finally:
        relay.paused = False
    relay.wake()
    event = await client.recv(timeout=5)
    assert (event["seq"], event["data"]) == (1, {"n": 1})
    after = (await api.get("/api/admin/metrics", token=admin_token)).body
    assert after["events_id_reused"] == before.get("events_id_reused", 0) + 1
    assert any("restored" in r.getMessage() for r in caplog.records if r.name == "mall.relay")
    client.close()


@needs_redis
async def test_relay_skipping_an_already_published_row_says_so(server, api, admin_token, caplog):
    """A relay that died after publishing but before marking the row: the next relay skips the row
    (no duplicate frame) and reports the skip in the log and the metrics."""
    from events.relay import outgoing

    channel = new_team_channel()
    client = await WsClient.connect(server.port)
    await client.subscribe(channel)
    relay, bus = current().relay, current().bus
    before = (await api.get("/api/admin/metrics", token=admin_token)).body
    relay.paused = True
    try:
        await emit(channel, n=1)
        row = await OutboxEvent.select().where(OutboxEvent.channel == channel).aio_get()
        assert (await bus.publish([outgoing(row)])).published == 1  # published; the "crash" leaves the row unmarked
        event = await client.recv(timeout=5)
        assert (event["seq"], event["data"]) == (1, {"n": 1})
    finally:
        relay.paused = False
    relay.wake()

    async def row_marked():
        return await OutboxEvent.select(OutboxEvent.published_at).where(OutboxEvent.id == row.id).aio_scalar()
    await eventually(row_marked, what="the relay marks the row published")
    assert await client.nothing_within(0.3)
    after = (await api.get("/api/admin/metrics", token=admin_token)).body
    assert after["events_skipped_as_published"] == before["events_skipped_as_published"] + 1
    assert any("already published" in r.getMessage() for r in caplog.records if r.name == "mall.relay")
    client.close()

# ---------------------------------------------------------------- subscriptions bound to who authorized them
async def orders_staff(api, shop, keys=("orders.view",), role_id=None) -> tuple[dict, str]:
    """A staff member the owner creates (with `keys` and a role), and their login token."""
    username = unique("watch")
    body = {"username": username, "password": "watch-pass-1", "permissions": list(keys)}
    if role_id is not None:
        body["role_id"] = role_id
    created = await api.post("/api/merchant/staff", body, token=shop.owner_token)
    assert created.status == 201, created.body
    login = await api.post("/api/merchant/auth/login", {"username": username, "password": "watch-pass-1"})
    return created.body, login.body["token"]


async def watching(port: int, token: str, channel: str) -> WsClient:
    client = await WsClient.connect(port, token)
    await client.recv_op("authenticated")
    assert (await client.subscribe(channel))["op"] == "subscribed"
    return client


async def assert_closed_as_revoked(client: WsClient) -> None:
    assert (await client.recv_op("error", timeout=5))["code"] == "access_revoked"
    assert await client.recv(timeout=5) is None


async def assert_subscription_ended(client: WsClient, channel: str) -> None:
    ended = await client.recv_op("error", timeout=5)
    assert (ended["code"], ended["channel"]) == ("access_revoked", channel)
    await emit(channel, "order.paid", order_id=2)
    assert await client.nothing_within(0.3)


async def test_reauthenticating_cannot_keep_what_the_first_token_authorized(server, api, make_shop, make_member):
    """Defect 10: a second `auth` (garbage, or a member's token) detached the staff member from
    the connection, so disabling them left it open and receiving order events."""
    shop = await make_shop()
    member = await make_member(shop.id)
    channel = f"shop:{shop.id}:orders"
    staff, token = await orders_staff(api, shop)
    garbage = await watching(server.port, token, channel)
    await garbage.send({"op": "auth", "token": "garbage"})
    refused = await garbage.recv()
    assert refused["op"] == "error" and refused["code"] == "invalid_token"  # an error; still the staff member
    await emit(channel, "order.paid", order_id=1)
    assert (await garbage.recv())["data"] == {"order_id": 1}
    disabled = await api.patch(f"/api/merchant/staff/{staff['id']}", {"is_active": False}, token=shop.owner_token)
    assert disabled.status == 200
    await assert_closed_as_revoked(garbage)

    other, other_token = await orders_staff(api, shop)
    as_member = await watching(server.port, other_token, channel)
    await as_member.send({"op": "auth", "token": member.token})
    dropped = await as_member.recv()
    assert (dropped["op"], dropped["code"], dropped["channel"]) == ("error", "forbidden", channel)
    assert (await as_member.recv())["op"] == "authenticated"
    await emit(channel, "order.paid", order_id=2)
    assert await as_member.nothing_within(0.3)  # the member may not read the shop's orders
    assert (await as_member.subscribe(f"member:{member.id}"))["op"] == "subscribed"
    await api.patch(f"/api/merchant/staff/{other['id']}", {"is_active": False}, token=shop.owner_token)
    await emit(channel, "order.paid", order_id=3)
    assert await as_member.nothing_within(0.3)  # a member's connection now: not the staff member's to lose
    as_member.close()


async def test_losing_the_orders_permission_or_the_password_ends_live_access(server, api, make_shop, make_member):
    """Revocation is more than disabling: removed `orders.view` (directly, by role change or by
    editing the role) ends the subscription; a new password closes the member's connections."""
    shop = await make_shop()
    channel = f"shop:{shop.id}:orders"
    role = (await api.post("/api/merchant/roles", {"name": "watchers", "permissions": ["orders.view"]},
                           token=shop.owner_token)).body
    direct, direct_token = await orders_staff(api, shop)
    by_role, by_role_token = await orders_staff(api, shop, keys=(), role_id=role["id"])
    moved, moved_token = await orders_staff(api, shop, keys=(), role_id=role["id"])
    plain = (await api.post("/api/merchant/roles", {"name": "plain", "permissions": ["goods.view"]},
                            token=shop.owner_token)).body
    sockets = {name: await watching(server.port, t, channel)
               for name, t in (("direct", direct_token), ("by_role", by_role_token), ("moved", moved_token))}

    await api.patch(f"/api/merchant/staff/{direct['id']}", {"permissions": ["goods.view"]}, token=shop.owner_token)
    await assert_subscription_ended(sockets["direct"], channel)
    await api.patch(f"/api/merchant/staff/{moved['id']}", {"role_id": plain["id"]}, token=shop.owner_token)
    await assert_subscription_ended(sockets["moved"], channel)
    await api.patch(f"/api/merchant/roles/{role['id']}", {"permissions": ["goods.view"]}, token=shop.owner_token)
    await assert_subscription_ended(sockets["by_role"], channel)
    assert (await sockets["direct"].subscribe(channel))["code"] == "forbidden"  # nor can it come back
    for client in sockets.values():
        client.close()

    member = await make_member(shop.id)
    watcher = await watching(server.port, member.token, f"member:{member.id}")
    changed = await api.post(f"/api/mobile/{shop.id}/me/mobile", {"mobile": member.mobile, "password": "new-pass-12",
                                                                  "current_password": "member-pass-1"}, token=member.token)
    assert changed.status == 200
    await assert_closed_as_revoked(watcher)


@needs_redis
async def test_revocation_on_one_process_ends_subscriptions_on_another(server, api, admin_token, make_shop,
                                                                        make_member):
    """The same, with the change made through process A and the sockets on process B."""
    shop = await make_shop()
    member = await make_member(shop.id)
    channel = f"shop:{shop.id}:orders"
    staff, token = await orders_staff(api, shop)
    narrowed, narrowed_token = await orders_staff(api, shop)
    port_b = free_port()
    process_b = await start_server_process(server_env(server.config), port_b)
    try:
        garbage = await watching(port_b, token, channel)
        await garbage.send({"op": "auth", "token": "garbage"})
        assert (await garbage.recv())["code"] == "invalid_token"
        losing = await watching(port_b, narrowed_token, channel)
        as_member = await watching(port_b, token, channel)
        await as_member.send({"op": "auth", "token": member.token})
        await as_member.recv_op("authenticated")
        assert (await as_member.subscribe(f"member:{member.id}"))["op"] == "subscribed"

        await api.patch(f"/api/merchant/staff/{narrowed['id']}", {"permissions": []}, token=shop.owner_token)
        await assert_subscription_ended(losing, channel)
        await api.patch(f"/api/merchant/staff/{staff['id']}", {"is_active": False}, token=shop.owner_token)
        await assert_closed_as_revoked(garbage)
        changed = await api.post(f"/api/mobile/{shop.id}/me/mobile", {
            "mobile": member.mobile, "password": "new-pass-12", "current_password": "member-pass-1"}, token=member.token)
        assert changed.status == 200
        await assert_closed_as_revoked(as_member)
        suspended = await api.patch(f"/api/admin/shops/{shop.id}", {"status": "suspended"}, token=admin_token)
        assert suspended.status == 200
        await assert_closed_as_revoked(losing)
    finally:
        await api.patch(f"/api/admin/shops/{shop.id}", {"status": "active"}, token=admin_token)
        process_b.terminate()
        process_b.wait(10)
