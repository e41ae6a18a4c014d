"""WebSocket fan-out: one channel, N subscribers, events committed through the real server.

    python bench/ws_fanout.py [--subscribers 1,1000,5000] [--events 40] [--interval-ms 50]
                              [--clients 2] [--backend mysql|sqlite] [--servers 1] [--profile]

For each N, the same client processes (separate from the server) subscribe N sockets, then the
driver sends `--events` events at a fixed pace and every client records, per event, the time
from just before the event was committed to its arrival ("commit -> screen"). The clients use
picows (a WebSocket client in Cython: about a microsecond of client CPU per frame, reported
below), so on a machine where they share the server's cores the server, not the clients, is
what the latency measures. Measured in the same run on the same clients:
- baseline: a bare Tornado app (this file, --baseline-server) that encodes the frame once and
  writes those bytes to every socket with Tornado's `IOStream.write` when it receives POST
  /publish, timing each fan-out itself;
- mall: `server.py` (MySQL + Redis by default), events committed through the outbox by
  POST /api/admin/events/test and delivered by relay -> bus -> hub; its server-side fan-out time
  is the `ws_fanout_seconds` histogram of /api/admin/metrics, read before and after each run;
- with `--servers K` (K > 1, MySQL + Redis): instead of mall direct, mall with 1 process and
  with K processes, each behind the shipped nginx site (deploy/nginx), so an operator sees what
  more processes buy on one machine.
Reported per run: frames/s delivered, p50/p99 commit -> screen, server-side fan-out time per
event (mean and p99) and per frame, server CPU per frame (user + system time of the server
processes over the run / frames: a figure other load on a shared machine barely moves), nginx
CPU per frame, client CPU per frame. Writes the "WebSocket fan-out" section of BENCHMARKS.md
(or "WebSocket fan-out, K processes behind nginx", or `--section`).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import resource
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
    Nginx,
    Profiler,
    chart,
    cpu_seconds,
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
    fanouts: list[float] = []  # seconds per POST /publish, read (and cleared) by GET /stats

    class Ws(tornado.websocket.WebSocketHandler):
        def open(self):
            sockets.add(self)

        def on_close(self):
            sockets.discard(self)

    class Publish(tornado.web.RequestHandler):
        def post(self):
            """Encode the event's WebSocket frame once (unmasked text frame, RFC 6455 5.2) and
            write the same bytes to every socket's stream: what Tornado offers for a fan-out."""
            started = time.perf_counter()
            frame = ('{"op":"event","channel":"%s","seq":0,"type":"system.test","data":%s}'
                     % (CHANNEL, self.request.body.decode())).encode()
            size = len(frame)
            header = struct.pack("!BB", 0x81, size) if size < 126 else struct.pack("!BBH", 0x81, 126, size)
            wire = header + frame
            for ws in list(sockets):
                if ws.ws_connection is not None and not ws.ws_connection.is_closing():
                    ws.ws_connection.stream.write(wire).add_done_callback(lambda f: f.exception())
            if sockets:
                fanouts.append(time.perf_counter() - started)
            self.set_status(202)

    class Stats(tornado.web.RequestHandler):
        def get(self):
            self.write({"fanouts": fanouts[:]})
            fanouts.clear()

    async def main():
        tornado.web.Application([(r"/ws", Ws), (r"/publish", Publish), (r"/stats", Stats)],
                                log_function=lambda handler: None).listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())


# ---------------------------------------------------------------- client processes
def client_process(port: int, count: int, events: int, wait_s: float, subscribe: bool, ready, results) -> None:
    """`count` picows sockets; each text frame after subscribing is kept as (arrival time, bytes)
    and parsed only after the run, so a frame costs the client a clock read and an append."""
    raise_fd_limit()
    from picows import WSListener, WSMsgType, ws_connect

    subscribe_frame = json.dumps({"op": "subscribe", "channel": CHANNEL}).encode()

    async def main():
        loop = asyncio.get_running_loop()
        arrivals: list[tuple[float, bytes]] = []
        expected = events * count
        done = asyncio.Event()
        clock = time.time

        class Listener(WSListener):
            reply = None  # a future while waiting for the answer to subscribe

            def on_ws_frame(self, transport, frame):
                if frame.msg_type != WSMsgType.TEXT:
                    if frame.msg_type == WSMsgType.CLOSE:
                        transport.disconnect()
                    return
                if self.reply is not None:
                    self.reply.set_result(frame.get_payload_as_bytes())
                    self.reply = None
                    return
                arrivals.append((clock(), frame.get_payload_as_bytes()))
                if len(arrivals) == expected:
                    done.set()

        limiter = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one():
            async with limiter:
                transport, listener = await ws_connect(Listener, f"ws://127.0.0.1:{port}/ws")
                if subscribe:
                    listener.reply = loop.create_future()
                    transport.send(WSMsgType.TEXT, subscribe_frame)
                    reply = json.loads(await asyncio.wait_for(listener.reply, CLIENT_TIMEOUT_S))
                    if reply["op"] != "subscribed":
                        raise RuntimeError(f"subscribe refused: {reply}")
            return transport

        try:
            transports = await asyncio.gather(*(one() for _ in range(count)))
        except Exception as exc:
            ready.put(f"a client process could not connect and subscribe: {exc!r}")
            raise
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = usage.ru_utime + usage.ru_stime
        ready.put(count)
        try:
            await asyncio.wait_for(done.wait(), wait_s)
        except asyncio.TimeoutError:
            pass
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime - cpu_before
        for transport in transports:
            transport.disconnect()
        sent_at: dict[bytes, float] = {}  # the same event's frames are equal bytes: parse each once
        latencies = []
        for arrived, payload in arrivals:
            sent = sent_at.get(payload)
            if sent is None:
                message = json.loads(payload)
                sent = sent_at[payload] = message["data"]["t"] if message.get("op") == "event" else -1.0
            if sent >= 0:
                latencies.append((arrived - sent) * 1000)
        results.put({"received": len(latencies), "latencies": latencies, "cpu_s": cpu,
                     "last_arrival": max((a for a, _ in arrivals), default=0.0)})

    asyncio.run(main())


def measure(port: int, subscribers: int, events: int, interval_s: float, publish, subscribe: bool,
            clients: int, server_pids: list[int], nginx_pids: list[int] = (), profile: Path | None = None) -> dict:
    """Connect and subscribe every socket, then send the events (py-spy, when `profile` names its
    output, samples the first server process during the events only, not while sockets connect)."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Queue(), context.Queue()
    processes = max(1, min(clients, subscribers))
    shares = [subscribers // processes + (1 if i < subscribers % processes else 0) for i in range(processes)]
    wait_s = CLIENT_TIMEOUT_S + events * interval_s
    workers = [context.Process(target=client_process, args=(port, n, events, wait_s, subscribe, ready, results))
               for n in shares]
    for w in workers:
        w.start()
    for _ in workers:
        connected = ready.get(timeout=CLIENT_TIMEOUT_S * 2)
        if isinstance(connected, str):
            for w in workers:
                w.terminate()
            raise RuntimeError(connected)
    time.sleep(0.5)
    profiler = Profiler(server_pids[0], profile) if profile else None
    cpu_before = [cpu_seconds(pid) for pid in server_pids], [cpu_seconds(pid) for pid in nginx_pids]
    first_send = time.time()
    for i in range(events):
        publish({"t": time.time(), "i": i})
        time.sleep(max(0.0, first_send + (i + 1) * interval_s - time.time()))
    collected = [results.get(timeout=wait_s + 10) for _ in workers]
    server_cpu = sum(cpu_seconds(pid) for pid in server_pids) - sum(cpu_before[0])
    nginx_cpu = sum(cpu_seconds(pid) for pid in nginx_pids) - sum(cpu_before[1])
    stacks = profiler.stop() if profiler else []
    for w in workers:
        w.join(10)
    latencies = sorted(x for c in collected for x in c["latencies"])
    received = sum(c["received"] for c in collected)
    elapsed = max(c["last_arrival"] for c in collected) - first_send
    per_frame = 1e6 / received if received else float("nan")
    return {
        "received": received, "expected": subscribers * events,
        "events_per_s": received / elapsed if elapsed > 0 else 0.0,
        "p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] if latencies else float("nan"),
        "server_cpu_us_per_frame": server_cpu * per_frame,
        "nginx_cpu_us_per_frame": nginx_cpu * per_frame if nginx_pids else None,
        "client_cpu_us_per_frame": sum(c["cpu_s"] for c in collected) * per_frame,
        "stacks": stacks,
    }


# ---------------------------------------------------------------- server-side fan-out time
def histogram_delta(before: dict, after: dict) -> dict:
    """Mean and p99 (interpolated inside its bucket, as Prometheus' histogram_quantile does) of
    the fan-outs observed between two reads of `ws_fanout_seconds`, and the time per frame."""
    count = after["count"] - before["count"]
    if count <= 0:
        return {"fanouts": 0, "mean_ms": float("nan"), "p99_ms": float("nan"), "us_per_frame": float("nan")}
    frames = after["frames"] - before["frames"]
    spent = after["sum"] - before["sum"]
    rank, lower, below = 0.99 * count, 0.0, 0
    p99 = float("nan")
    for bound, cumulative in after["buckets"].items():
        in_bucket = cumulative - before["buckets"][bound]
        if in_bucket >= rank:
            upper = float(bound) if bound != "+Inf" else lower
            inside = in_bucket - below
            p99 = lower + (upper - lower) * ((rank - below) / inside if inside else 1.0)
            break
        lower, below = float(bound), in_bucket
    return {"fanouts": count, "mean_ms": 1000 * spent / count, "p99_ms": 1000 * p99,
            "us_per_frame": 1e6 * spent / frames if frames else float("nan")}


def baseline_fanouts(fanouts: list[float], sockets: int) -> dict:
    """The bare server's own timings of its write loop (one frame per socket each)."""
    ordered = sorted(fanouts)
    if not ordered:
        return {"fanouts": 0, "mean_ms": float("nan"), "p99_ms": float("nan"), "us_per_frame": float("nan")}
    mean = statistics.fmean(ordered)
    return {"fanouts": len(ordered), "mean_ms": 1000 * mean, "us_per_frame": 1e6 * mean / sockets,
            "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]}


# ---------------------------------------------------------------- driver
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", default="1,1000,5000")
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--interval-ms", type=float, default=50)
    parser.add_argument("--clients", type=int, default=2, help="client processes the sockets are spread over")
    parser.add_argument("--backend", choices=["mysql", "sqlite"], default="mysql")
    parser.add_argument("--servers", type=int, default=1,
                        help="> 1: mall with 1 and with this many processes, each behind the shipped nginx site")
    parser.add_argument("--profile", action="store_true",
                        help="sample the (first) mall server with py-spy during its run at the largest N")
    parser.add_argument("--section", default=None,
                        help="BENCHMARKS.md section (and chart) to write, for runs at another pace")
    parser.add_argument("--baseline-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_fd_limit()
    if args.baseline_server:
        baseline_server(args.baseline_server)
        return
    if args.servers > 1 and args.backend != "mysql":
        parser.error("--servers > 1 needs the mysql backend (processes share MariaDB and Redis)")
    section = args.section or ("WebSocket fan-out" if args.servers == 1
                               else f"WebSocket fan-out, {args.servers} processes behind nginx")

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
    sizes = [int(x) for x in args.subscribers.split(",")]

    def start_mall(port: int, log_name: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "server.py"], cwd=ROOT, env={**env, "MALL_PORT": str(port)},
                                stdout=open(ROOT / "data" / log_name, "w"), stderr=subprocess.STDOUT)

    base_port = free_port()
    (ROOT / "data").mkdir(exist_ok=True)
    run(["server.py", "create-admin", "--username", "bench", "--password", "bench-password"], env)
    mall_ports = [free_port() for _ in range(args.servers)]
    malls = [start_mall(port, "bench-server.log" if i == 0 else f"bench-server-{i}.log")
             for i, port in enumerate(mall_ports)]
    baseline = subprocess.Popen([sys.executable, __file__, "--baseline-server", str(base_port)], cwd=ROOT)
    fronts: list[Nginx] = []
    try:
        for port, process in zip(mall_ports, malls):
            wait_listening(port, process)
        wait_listening(base_port, baseline)
        if args.servers > 1:  # the same shipped site in front of one process, and in front of all of them
            connections = 2 * max(sizes) + 1024  # each proxied socket is two connections to nginx
            fronts = [Nginx(mall_ports[:1], connections), Nginx(mall_ports, connections)]

        def post(url, body, token=None):
            request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                             headers={"Content-Type": "application/json",
                                                      **({"Authorization": f"Bearer {token}"} if token else {})})
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")

        def get(url, token=None):
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())

        tokens = [post(f"http://127.0.0.1:{port}/api/admin/auth/login",
                       {"username": "bench", "password": "bench-password"})["token"] for port in mall_ports]

        def histograms(ports) -> list[dict]:
            return [get(f"http://127.0.0.1:{port}/api/admin/metrics", tokens[mall_ports.index(port)])
                    ["ws_fanout_seconds"] for port in ports]

        publish_mall = lambda data: post(f"http://127.0.0.1:{mall_ports[0]}/api/admin/events/test",  # noqa: E731
                                         {"channel": CHANNEL, "data": data}, tokens[0])
        publish_base = lambda data: post(f"http://127.0.0.1:{base_port}/publish", data)  # noqa: E731
        # (label, port the clients connect to, mall ports behind it, nginx)
        setups = ([("mall", mall_ports[0], mall_ports[:1], None)] if args.servers == 1 else
                  [("mall, 1 process + nginx", fronts[0].port, mall_ports[:1], fronts[0]),
                   (f"mall, {args.servers} processes + nginx", fronts[1].port, mall_ports, fronts[1])])
        pid_of = dict(zip(mall_ports, (p.pid for p in malls)))

        rows = []  # (subscribers, label, client figures, server-side fan-out figures)
        stacks = []
        for n in sizes:
            get(f"http://127.0.0.1:{base_port}/stats")
            base = measure(base_port, n, args.events, args.interval_ms / 1000, publish_base, False, args.clients,
                           [baseline.pid])
            rows.append((n, "bare Tornado", base, baseline_fanouts(get(f"http://127.0.0.1:{base_port}/stats")["fanouts"], n)))
            print(f"{n:>6} subscribers  {'bare Tornado':<26} {line(base, rows[-1][3])}", flush=True)
            for label, port, behind, front in setups:
                profiled = args.profile and n == sizes[-1]
                before = histograms(behind)
                ours = measure(port, n, args.events, args.interval_ms / 1000, publish_mall, True, args.clients,
                               [pid_of[p] for p in behind], front.pids() if front else [],
                               ROOT / "data" / "bench-fanout.folded" if profiled else None)
                server_side = [histogram_delta(b, a) for b, a in zip(before, histograms(behind))]
                stacks += ours["stacks"]
                rows.append((n, label, ours, worst(server_side)))
                print(f"{n:>6} subscribers  {label:<26} {line(ours, rows[-1][3])}", flush=True)
    finally:
        for front in fronts:
            front.close()
        for process in malls:
            process.terminate()
        baseline.terminate()
        for process in malls:
            process.wait(60)
        baseline.wait(60)
        if args.backend == "mysql":
            admin_conn.cursor().execute(f"DROP DATABASE IF EXISTS `{db_name}`")

    command = "python bench/ws_fanout.py " + " ".join(sys.argv[1:])
    table = ["| subscribers | server | frames/s | commit -> screen p50 / p99 ms | server-side fan-out mean / p99 ms "
             "| server-side per frame | server CPU per frame | nginx CPU per frame | client CPU per frame | delivered |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n, label, figures, side in rows:
        nginx = figures["nginx_cpu_us_per_frame"]
        table.append(f"| {n} | {label} | {figures['events_per_s']:.0f} | {figures['p50_ms']:.1f} / {figures['p99_ms']:.1f} | "
                     f"{side['mean_ms']:.2f} / {side['p99_ms']:.2f} | "
                     f"{side['us_per_frame']:.1f} us | {figures['server_cpu_us_per_frame']:.1f} us | "
                     f"{'—' if nginx is None else f'{nginx:.1f} us'} | {figures['client_cpu_us_per_frame']:.1f} us | "
                     f"{figures['received']}/{figures['expected']} |")
    labels = list(dict.fromkeys(label for _, label, _, _ in rows))
    colours = dict(zip(labels, ["#555", "#e4393c", "#1f77b4", "#2ca02c"]))

    def draw(ax):
        for label in labels:
            mine = [(n, figures) for n, name, figures, _ in rows if name == label]
            ax.plot([n for n, _ in mine], [f["p50_ms"] for _, f in mine], "o--", color=colours[label],
                    label=f"{label} p50")
            ax.plot([n for n, _ in mine], [f["p99_ms"] for _, f in mine], "s-", color=colours[label],
                    label=f"{label} p99")
        ax.axhline(100, color="black", linestyle=":", label="goal: p99 100 ms")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("subscribers")
        ax.set_ylabel("commit -> screen ms")
        ax.legend(fontsize=7)

    slug = "ws_fanout" + re.sub(r"[^a-z0-9]+", "_", section.lower().removeprefix("websocket fan-out")).rstrip("_")
    picture = chart(slug, draw)
    setup = ("one `server.py` process, clients connected to it directly" if args.servers == 1 else
             f"`server.py` processes behind the shipped nginx site (deploy/nginx, one worker): 1, then {args.servers} "
             f"(same database, Redis and clients; the event committed on the first, delivered by every process to "
             f"its own sockets)")
    write_section(section, f"""
Machine: {machine()}. Backend: {args.backend}{' + Redis' if args.backend == 'mysql' else ' + in-process bus'}; {setup}.
Command: `{command}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).

One channel, N subscribers in {args.clients} picows client processes (separate from the server, on the
same machine), {args.events} events sent {args.interval_ms:g} ms apart. Commit -> screen: from just
before the commit (mall: the HTTP request that commits the event through the outbox; baseline:
the request that makes the bare Tornado server write a pre-encoded frame with `IOStream.write`)
to arrival at the client. Server-side fan-out: from the bus handing the event to the hub to the
last subscriber's frame handed to its socket (mall: the `ws_fanout_seconds` histogram of
`/api/admin/metrics`, p99 interpolated in its bucket, the slowest process when several; baseline:
timed around its write loop); per frame: that time / frames. Server CPU per frame: user + system
time of the server process(es) during the run / frames delivered (it includes the HTTP request,
outbox and relay of each event); nginx and the clients likewise. Frames/s: frames delivered /
(last arrival - first send), capped by the offered load of N x {1000 / args.interval_ms:g}/s.
Goals (issue 21): 5,000 subscribers served in at most 25 ms server-side per event, and
commit -> screen p99 under 100 ms at 5,000.

{chr(10).join(table)}

{picture}
{profile_text(stacks, sizes[-1])}""")


def line(figures: dict, side: dict) -> str:
    return (f"{figures['events_per_s']:>8.0f} frames/s  p50 {figures['p50_ms']:6.1f}  p99 {figures['p99_ms']:6.1f} ms | "
            f"server-side mean {side['mean_ms']:6.2f}  p99 {side['p99_ms']:6.2f} ms  {side['us_per_frame']:.1f} us/frame | "
            f"CPU/frame server {figures['server_cpu_us_per_frame']:.1f} us"
            + (f"  nginx {figures['nginx_cpu_us_per_frame']:.1f} us" if figures["nginx_cpu_us_per_frame"] is not None
               else "")
            + f"  client {figures['client_cpu_us_per_frame']:.1f} us | delivered {figures['received']}/{figures['expected']}")


def worst(per_process: list[dict]) -> dict:
    """The process that took longest (every process fans out each event to its own sockets)."""
    return max(per_process, key=lambda side: (side["fanouts"] > 0, side["mean_ms"] if side["fanouts"] else 0))


def profile_text(stacks, subscribers: int) -> str:
    """The py-spy sample of the mall server while it fanned out to the most subscribers."""
    if not stacks:
        return ""
    layers = "\n".join(f"| {name} | {share:.0f}% |" for name, share in Profiler.layers(stacks))
    functions = "\n".join(f"| `{name}` | {share:.0f}% |" for name, share in
                          Profiler.functions(stacks, marks=("(events/", "(handlers/", "(services/")))
    print(f"where the server's CPU went:\n{layers}\n{functions}", flush=True)
    return f"""
Profile (`--profile`: py-spy samples of the mall server while the events of the {subscribers}-subscriber run went out,
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
