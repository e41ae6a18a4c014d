"""Memory per idle WebSocket connection with one subscription, at `--connections` connections.

    python bench/ws_memory.py [--connections 10000]

The server's resident set (VmRSS from /proc) is read before the clients connect and once all of
them are connected and subscribed (and again after a short settle), for mall (MariaDB + Redis,
each socket subscribed to its own `team:{n}` channel, so the hub holds one subscription per
socket) and, in the same run with the same client processes, a bare Tornado WebSocket server that
only keeps the sockets. Writes the "WebSocket memory" section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    MYSQL_URL,
    REDIS_URL,
    ROOT,
    MallProcess,
    chart,
    free_port,
    machine,
    raise_fd_limit,
    wait_listening,
    write_section,
)

PER_PROCESS = 2500
CONNECT_CONCURRENCY = 100


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def clients(port: int, first: int, count: int, subscribe: bool, ready, done) -> None:
    raise_fd_limit()
    import asyncio

    import tornado.websocket

    async def main():
        limiter = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one(n: int):
            async with limiter:
                conn = await tornado.websocket.websocket_connect(f"ws://127.0.0.1:{port}/ws")
                if subscribe:
                    await conn.write_message(json.dumps({"op": "subscribe", "channel": f"team:{n}"}))
                    reply = json.loads(await conn.read_message())
                    assert reply["op"] == "subscribed", reply
                return conn

        conns = await asyncio.gather(*(one(first + i) for i in range(count)))
        ready.put(len(conns))
        await asyncio.get_running_loop().run_in_executor(None, done.get)
        for conn in conns:
            conn.close()

    asyncio.run(main())


def measure(port: int, pid: int, connections: int, subscribe: bool) -> dict:
    context = multiprocessing.get_context("spawn")
    ready, done = context.Queue(), context.Queue()
    time.sleep(1)
    before = rss_kib(pid)
    shares = [min(PER_PROCESS, connections - start) for start in range(0, connections, PER_PROCESS)]
    workers = [context.Process(target=clients, args=(port, sum(shares[:i]) + 1, n, subscribe, ready, done))
               for i, n in enumerate(shares)]
    for w in workers:
        w.start()
    connected = sum(ready.get(timeout=300) for _ in workers)
    time.sleep(3)  # let buffers settle
    after = rss_kib(pid)
    for _ in workers:
        done.put(True)
    for w in workers:
        w.join(60)
    return {"connected": connected, "before_kib": before, "after_kib": after,
            "per_connection_kib": (after - before) / connected}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=10_000)
    args = parser.parse_args()
    raise_fd_limit()
    base_port = free_port()
    baseline = subprocess.Popen([sys.executable, str(ROOT / "bench" / "ws_fanout.py"), "--baseline-server", str(base_port)],
                                cwd=ROOT)
    mall = MallProcess("wsmem", MYSQL_URL, REDIS_URL)
    try:
        wait_listening(base_port, baseline)
        print(f"baseline: {args.connections} idle sockets", flush=True)
        base = measure(base_port, baseline.pid, args.connections, subscribe=False)
        print(f"  {base['per_connection_kib']:.1f} KiB each", flush=True)
        print(f"mall: {args.connections} sockets, one subscription each", flush=True)
        ours = measure(mall.port, mall.process.pid, args.connections, subscribe=True)
        print(f"  {ours['per_connection_kib']:.1f} KiB each", flush=True)
    finally:
        mall.close()
        baseline.terminate()
        baseline.wait(30)
    picture = chart("ws_memory", lambda ax: (
        ax.bar(["bare Tornado", "mall"], [base["per_connection_kib"], ours["per_connection_kib"]], color=["#999", "#e4393c"]),
        ax.axhline(20, color="black", linestyle="--", label="target 20 KiB"), ax.legend(),
        ax.set_ylabel("KiB per connection"), ax.set_title(f"{args.connections:,} idle WebSocket connections")))
    write_section("WebSocket memory", f"""
Machine: {machine()}. MariaDB + Redis; one `server.py` process.
Command: `python bench/ws_memory.py {' '.join(sys.argv[1:])}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).

Server RSS (VmRSS) before the clients connect and 3 s after {args.connections:,} connections are open
(mall: each subscribed to its own `team:{{n}}` channel), divided by the connections. Baseline: a bare
Tornado WebSocket server holding the same number of idle sockets, in the same run.

| | connections | RSS before MiB | RSS after MiB | per connection KiB |
| --- | ---: | ---: | ---: | ---: |
| bare Tornado | {base['connected']:,} | {base['before_kib'] / 1024:.0f} | {base['after_kib'] / 1024:.0f} | {base['per_connection_kib']:.1f} |
| mall (1 subscription each) | {ours['connected']:,} | {ours['before_kib'] / 1024:.0f} | {ours['after_kib'] / 1024:.0f} | {ours['per_connection_kib']:.1f} |

Target: under 20 KiB per connection. Ratio to the baseline: {ours['per_connection_kib'] / base['per_connection_kib']:.2f}x.

{picture}
""")


if __name__ == "__main__":
    main()
