"""WebSocket fan-out: one channel, N subscribers, events committed through the real server.

    python bench/ws_fanout.py [--subscribers 1,1000,5000] [--events 40] [--interval-ms 50] [--backend mysql|sqlite]

For each N, the same client processes (separate from the server) subscribe N sockets, then the
driver sends `--events` events at a fixed pace and every client records, per event, the time
from just before the event was committed to its arrival. Two servers are measured in the same
run on the same clients:
- baseline: a bare Tornado app (this file, --baseline-server) that encodes the frame once and
  writes those bytes straight to every socket's stream when it receives POST /publish;
- mall: `server.py` (MySQL + Redis by default), events committed through the outbox by
  POST /api/admin/events/test and delivered by relay -> bus -> hub.
Reported: delivered events/s (frames to clients / time from first send to last arrival), p50 and
p99 latency in ms, and mall/baseline ratios. Writes the "WebSocket fan-out" section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import statistics
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    MYSQL_URL,
    REDIS_URL,
    ROOT,
    Profiler,
    chart,
    free_port,
    machine,
    raise_fd_limit,
    run,
    wait_listening,
    write_section,
)

CHANNEL = "team:1"
CONNECT_CONCURRENCY = 200
CLIENT_TIMEOUT_S = 60


# ---------------------------------------------------------------- baseline server
def baseline_server(port: int) -> None:
    import tornado.ioloop
    import tornado.web
    import tornado.websocket

    sockets: set = set()

    class Ws(tornado.websocket.WebSocketHandler):
        def open(self):
            sockets.add(self)

        def on_close(self):
            sockets.discard(self)

    class Publish(tornado.web.RequestHandler):
        def post(self):
            """Encode the event's WebSocket frame once (unmasked text frame, RFC 6455 5.2) and
            write the same bytes to every socket's stream: the least work a fan-out can do."""
            frame = ('{"op":"event","channel":"%s","seq":0,"type":"system.test","data":%s}'
                     % (CHANNEL, self.request.body.decode())).encode()
            size = len(frame)
            header = struct.pack("!BB", 0x81, size) if size < 126 else struct.pack("!BBH", 0x81, 126, size)
            wire = header + frame
            for ws in list(sockets):
                if ws.ws_connection is not None and not ws.ws_connection.is_closing():
                    ws.ws_connection.stream.write(wire).add_done_callback(lambda f: f.exception())
            self.set_status(202)

    async def main():
        tornado.web.Application([(r"/ws", Ws), (r"/publish", Publish)]).listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())


# ---------------------------------------------------------------- client processes
def client_process(port: int, count: int, expected: int, subscribe: bool, ready, results) -> None:
    raise_fd_limit()
    import tornado.websocket

    async def main():
        latencies: list[float] = []
        last_arrival = [0.0]
        received = [0]
        done = asyncio.Event()
        limiter = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one():
            async with limiter:
                conn = await tornado.websocket.websocket_connect(f"ws://127.0.0.1:{port}/ws")
                if subscribe:
                    await conn.write_message(json.dumps({"op": "subscribe", "channel": CHANNEL}))
                    reply = json.loads(await conn.read_message())
                    if reply["op"] != "subscribed":
                        raise RuntimeError(f"subscribe refused: {reply}")
            return conn

        conns = await asyncio.gather(*(one() for _ in range(count)))
        ready.put(count)

        async def reader(conn):
            got = 0
            while got < expected:
                raw = await conn.read_message()
                if raw is None:
                    return
                now = time.time()
                message = json.loads(raw)
                if message.get("op") != "event":
                    continue
                got += 1
                received[0] += 1
                latencies.append((now - message["data"]["t"]) * 1000)
                last_arrival[0] = max(last_arrival[0], now)
            if received[0] == expected * count:
                done.set()

        tasks = [asyncio.create_task(reader(c)) for c in conns]
        try:
            await asyncio.wait_for(done.wait(), CLIENT_TIMEOUT_S)
        except asyncio.TimeoutError:
            pass
        for t in tasks:
            t.cancel()
        for c in conns:
            c.close()
        results.put({"received": received[0], "latencies": latencies, "last_arrival": last_arrival[0]})

    asyncio.run(main())


def measure(port: int, subscribers: int, events: int, interval_s: float, publish, subscribe: bool) -> dict:
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    processes = max(1, min(4, subscribers // 1000))
    shares = [subscribers // processes + (1 if i < subscribers % processes else 0) for i in range(processes)]
    workers = [context.Process(target=client_process, args=(port, n, events, subscribe, ready, results))
               for n in shares]
    for w in workers:
        w.start()
    for _ in workers:
        ready.get(timeout=CLIENT_TIMEOUT_S)
    time.sleep(0.5)
    first_send = time.time()
    for i in range(events):
        publish({"t": time.time(), "i": i})
        time.sleep(max(0.0, first_send + (i + 1) * interval_s - time.time()))
    collected = [results.get(timeout=CLIENT_TIMEOUT_S + 10) for _ in workers]
    for w in workers:
        w.join(10)
    latencies = sorted(x for c in collected for x in c["latencies"])
    received = sum(c["received"] for c in collected)
    elapsed = max(c["last_arrival"] for c in collected) - first_send
    return {
        "received": received, "expected": subscribers * events,
        "events_per_s": received / elapsed if elapsed > 0 else 0.0,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
    }


# ---------------------------------------------------------------- driver
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", default="1,1000,5000")
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--interval-ms", type=float, default=50)
    parser.add_argument("--backend", choices=["mysql", "sqlite"], default="mysql")
    parser.add_argument("--profile", action="store_true",
                        help="sample the mall server with py-spy during its run at the largest N")
    parser.add_argument("--section", default="WebSocket fan-out",
                        help="BENCHMARKS.md section (and chart) to write, for runs at another pace")
    parser.add_argument("--baseline-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_fd_limit()
    if args.baseline_server:
        baseline_server(args.baseline_server)
        return

    import urllib.request

    run_id = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALL_")}
    if args.backend == "mysql":
        from urllib.parse import urlparse

        import pymysql

        parsed = urlparse(MYSQL_URL)
        db_name = f"bench_mall_{run_id}"
        admin_conn = pymysql.connect(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username or "root",
                                     password=parsed.password or "", autocommit=True)
        admin_conn.cursor().execute(f"CREATE DATABASE `{db_name}` CHARACTER SET utf8mb4")
        env.update(MALL_DATABASE_URL=parsed._replace(path=f"/{db_name}").geturl(), MALL_REDIS_URL=REDIS_URL,
                   MALL_REDIS_PREFIX=f"bench-{run_id}:")
    else:
        tmp = ROOT / "data" / f"bench-{run_id}"
        env.update(MALL_DATABASE_URL=f"sqlite:///{tmp}/mall.db")
    env.update(MALL_JWT_SECRET=uuid.uuid4().hex * 2, MALL_HOST="127.0.0.1")

    mall_port, base_port = free_port(), free_port()
    run(["server.py", "create-admin", "--username", "bench", "--password", "bench-password"], env)
    mall = subprocess.Popen([sys.executable, "server.py"], cwd=ROOT, env={**env, "MALL_PORT": str(mall_port)},
                            stdout=open(ROOT / "data" / "bench-server.log", "w"), stderr=subprocess.STDOUT)
    baseline = subprocess.Popen([sys.executable, __file__, "--baseline-server", str(base_port)], cwd=ROOT)
    try:
        wait_listening(mall_port, mall)
        wait_listening(base_port, baseline)

        def post(url, body, token=None):
            request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                             headers={"Content-Type": "application/json",
                                                      **({"Authorization": f"Bearer {token}"} if token else {})})
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")

        token = post(f"http://127.0.0.1:{mall_port}/api/admin/auth/login",
                     {"username": "bench", "password": "bench-password"})["token"]
        publish_mall = lambda data: post(f"http://127.0.0.1:{mall_port}/api/admin/events/test",  # noqa: E731
                                         {"channel": CHANNEL, "data": data}, token)
        publish_base = lambda data: post(f"http://127.0.0.1:{base_port}/publish", data)  # noqa: E731

        rows = []
        interval = args.interval_ms / 1000
        sizes = [int(x) for x in args.subscribers.split(",")]
        stacks = []
        for n in sizes:
            base = measure(base_port, n, args.events, interval, publish_base, subscribe=False)
            profiled = args.profile and n == sizes[-1]
            profiler = Profiler(mall.pid, ROOT / "data" / "bench-fanout.folded") if profiled else None
            ours = measure(mall_port, n, args.events, interval, publish_mall, subscribe=True)
            stacks += profiler.stop() if profiler else []
            rows.append((n, base, ours))
            print(f"{n:>6} subscribers  baseline {base['events_per_s']:>9.0f} ev/s p50 {base['p50_ms']:.1f} "
                  f"p99 {base['p99_ms']:.1f} ms | mall {ours['events_per_s']:>9.0f} ev/s p50 {ours['p50_ms']:.1f} "
                  f"p99 {ours['p99_ms']:.1f} ms | delivered {ours['received']}/{ours['expected']}", flush=True)
    finally:
        mall.terminate()
        baseline.terminate()
        mall.wait(60)
        baseline.wait(60)
        if args.backend == "mysql":
            admin_conn.cursor().execute(f"DROP DATABASE IF EXISTS `{db_name}`")

    command = "python bench/ws_fanout.py " + " ".join(sys.argv[1:])
    table = ["| subscribers | baseline events/s | mall events/s | ratio | baseline p50 / p99 ms | mall p50 / p99 ms | mall delivered |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n, base, ours in rows:
        ratio = ours["events_per_s"] / base["events_per_s"] if base["events_per_s"] else float("nan")
        table.append(f"| {n} | {base['events_per_s']:.0f} | {ours['events_per_s']:.0f} | {ratio:.2f}x | "
                     f"{base['p50_ms']:.1f} / {base['p99_ms']:.1f} | {ours['p50_ms']:.1f} / {ours['p99_ms']:.1f} | "
                     f"{ours['received']}/{ours['expected']} |")
    counts = [n for n, _, _ in rows]

    def draw(ax):
        ax.plot(counts, [b["p50_ms"] for _, b, _ in rows], "o--", color="#999", label="bare Tornado p50")
        ax.plot(counts, [b["p99_ms"] for _, b, _ in rows], "s--", color="#555", label="bare Tornado p99")
        ax.plot(counts, [o["p50_ms"] for _, _, o in rows], "o-", color="#e4393c", label="mall p50")
        ax.plot(counts, [o["p99_ms"] for _, _, o in rows], "s-", color="#900", label="mall p99")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("subscribers")
        ax.set_ylabel("commit -> client ms")
        ax.legend(fontsize=8)

    slug = "ws_fanout" + re.sub(r"[^a-z0-9]+", "_", args.section.lower().removeprefix("websocket fan-out")).rstrip("_")
    picture = chart(slug, draw)
    write_section(args.section, f"""
Machine: {machine()}. Backend: {args.backend}{' + Redis' if args.backend == 'mysql' else ' + in-process bus'}.
Command: `{command}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).

One channel, N subscribers (client processes separate from the server, on the same machine),
{args.events} events sent {args.interval_ms:g} ms apart. Latency: from just before the commit
(mall: the HTTP request that commits the event through the outbox; baseline: the request that
makes the bare Tornado server write a pre-encoded frame) to arrival at the client. Events/s:
frames delivered to clients / (last arrival - first send), so it is capped by the offered load
of N x {1000 / args.interval_ms:g}/s.

{chr(10).join(table)}

{picture}
{profile_text(stacks, sizes[-1])}""")


def profile_text(stacks, subscribers: int) -> str:
    """The py-spy sample of the mall server while it fanned out to the most subscribers."""
    if not stacks:
        return ""
    layers = "\n".join(f"| {name} | {share:.0f}% |" for name, share in Profiler.layers(stacks))
    functions = "\n".join(f"| `{name}` | {share:.0f}% |" for name, share in
                          Profiler.functions(stacks, marks=("(events/", "(handlers/", "(services/")))
    print(f"where the server's CPU went:\n{layers}\n{functions}", flush=True)
    return f"""
Profile (`--profile`: py-spy samples of the mall server during the {subscribers}-subscriber run,
{sum(c for _, c in stacks)} samples). CPU by the layer of the innermost frame:

| layer | share of samples |
| --- | ---: |
{layers}

Our functions, inclusive (lower bounds: samples in transport callbacks carry no frame of ours):

| function | share of samples |
| --- | ---: |
{functions}
"""


if __name__ == "__main__":
    main()
