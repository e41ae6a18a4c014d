"""Group-buy: from the last seat's payment to `team.success` at every subscriber of the team.

    python bench/groups.py [--subscribers 1000] [--teams 20] [--interval-ms 500]

On MariaDB + Redis, one `server.py` process. `--teams` teams of 2 are opened and their leaders
pay; `--subscribers` WebSocket clients (in separate processes) subscribe to every one of those
team channels. Then, one team at a time, the second member's order is paid by balance: the clock
starts just before that payment request is sent (its transaction takes the last seat and commits
`team.success` through the outbox) and stops when a subscriber reads `team.success`.
Baseline, in the same run on the same clients: a bare Tornado server that writes one pre-encoded
frame to all sockets when it receives a POST (bench/ws_fanout.py --baseline-server), timed the
same way. Writes the "Group-buy: last seat to team.success" section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    MYSQL_URL,
    REDIS_URL,
    ROOT,
    MallProcess,
    chart,
    free_port,
    insert_buyers,
    machine,
    raise_fd_limit,
    wait_listening,
    write_section,
)

CONNECT_CONCURRENCY = 100
CLIENT_TIMEOUT_S = 120
SOCKETS_PER_PROCESS = 500


def client_process(port: int, count: int, channels: list[str], ready, go, results) -> None:
    """`count` sockets, each subscribed to `channels` (none: the baseline broadcasts to all).
    Reports when each socket saw each team's success: {team_id: [arrival times]}."""
    raise_fd_limit()
    import asyncio

    import tornado.websocket

    async def main():
        arrivals: dict[int, list[float]] = {}
        limiter = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one():
            async with limiter:
                conn = await tornado.websocket.websocket_connect(f"ws://127.0.0.1:{port}/ws", max_message_size=1 << 20)
                for channel in channels:
                    await conn.write_message(json.dumps({"op": "subscribe", "channel": channel}))
                    reply = json.loads(await conn.read_message())
                    if reply["op"] != "subscribed":
                        raise RuntimeError(f"subscribe refused: {reply}")
            return conn

        conns = await asyncio.gather(*(one() for _ in range(count)))
        ready.put(count)
        teams = len(channels) or int(await asyncio.get_running_loop().run_in_executor(None, go.get))

        async def reader(conn):
            seen = 0
            while seen < teams:
                raw = await conn.read_message()
                if raw is None:
                    return
                now = time.time()
                message = json.loads(raw)
                if message.get("op") == "event" and message["type"] in ("team.success", "system.test"):
                    arrivals.setdefault(message["data"]["team_id"], []).append(now)
                    seen += 1

        try:
            await asyncio.wait_for(asyncio.gather(*(reader(c) for c in conns)), CLIENT_TIMEOUT_S)
        except asyncio.TimeoutError:
            pass
        for c in conns:
            c.close()
        results.put(arrivals)

    asyncio.run(main())


def measure(port: int, subscribers: int, channels: list[str], teams: list[int], interval_s: float, complete) -> dict:
    """Start the clients, then complete one team per interval; latency per (subscriber, team)."""
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Queue(), context.Queue(), context.Queue()
    processes = max(1, -(-subscribers // SOCKETS_PER_PROCESS))
    shares = [subscribers // processes + (1 if i < subscribers % processes else 0) for i in range(processes)]
    workers = [context.Process(target=client_process, args=(port, n, channels, ready, go, results)) for n in shares]
    for w in workers:
        w.start()
    for _ in workers:
        ready.get(timeout=CLIENT_TIMEOUT_S * 2)
    for _ in workers:
        go.put(len(teams))
    time.sleep(0.5)
    started: dict[int, float] = {}
    request_ms = []
    for i, team_id in enumerate(teams):
        started[team_id] = time.time()
        complete(team_id)
        request_ms.append((time.time() - started[team_id]) * 1000)
        if (i + 1) % 5 == 0 or i + 1 == len(teams):
            print(f"  {i + 1}/{len(teams)} teams completed", flush=True)
        time.sleep(interval_s)
    collected = [results.get(timeout=CLIENT_TIMEOUT_S + 10) for _ in workers]
    for w in workers:
        w.join(10)
    latencies = sorted((arrival - started[team_id]) * 1000 for c in collected
                       for team_id, times in c.items() for arrival in times)
    return {"received": len(latencies), "expected": subscribers * len(teams),
            "p50_ms": statistics.median(latencies) if latencies else float("nan"),
            "p99_ms": latencies[max(0, int(len(latencies) * 0.99) - 1)] if latencies else float("nan"),
            "request_p50_ms": statistics.median(request_ms)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--interval-ms", type=float, default=500)
    args = parser.parse_args()
    raise_fd_limit()

    base_port = free_port()
    baseline = subprocess.Popen([sys.executable, str(ROOT / "bench" / "ws_fanout.py"), "--baseline-server", str(base_port)],
                                cwd=ROOT)
    mall = MallProcess("groups", MYSQL_URL, REDIS_URL)
    try:
        wait_listening(base_port, baseline)
        print(f"setting up {args.teams} teams of 2", flush=True)
        goods = mall.call("POST", "/api/merchant/goods", {"title": "拼团 bench", "price_fen": 5900,
                                                          "stock": args.teams * 2, "status": "on_sale"}, mall.owner)
        activity = mall.call("POST", "/api/merchant/groups/activities", {
            "title": "bench", "goods_id": goods["id"], "duration_seconds": 3600,
            "tiers": [{"team_size": 2, "price_fen": 3900}]}, mall.owner)
        conn = mall.connect()
        buyers = insert_buyers(conn, mall.shop["id"], args.teams * 2, mall.secret, balance_fen=10**6)
        shop = f"/api/mobile/{mall.shop['id']}"
        last_orders: dict[int, tuple[str, int]] = {}
        for leader, joiner in zip(buyers[::2], buyers[1::2]):
            opened = mall.call("POST", f"{shop}/groups/teams", {"activity_id": activity["id"], "team_size": 2,
                                                                "address_id": leader[1]}, leader[0])
            mall.call("POST", f"{shop}/orders/{opened['order']['id']}/pay", {"method": "balance"}, leader[0])
            joined = mall.call("POST", f"{shop}/groups/teams/{opened['team']['id']}/join", {"address_id": joiner[1]},
                               joiner[0])
            last_orders[opened["team"]["id"]] = (joiner[0], joined["order"]["id"])
        teams = list(last_orders)

        def pay_last_seat(team_id):
            token, order_id = last_orders[team_id]
            paid = mall.call("POST", f"{shop}/orders/{order_id}/pay", {"method": "balance"}, token)
            assert paid["status"] == 1, paid

        def publish(team_id):
            request = urllib.request.Request(f"http://127.0.0.1:{base_port}/publish", method="POST",
                                             data=json.dumps({"team_id": team_id}).encode())
            urllib.request.urlopen(request, timeout=30).read()

        interval = args.interval_ms / 1000
        print(f"baseline: {args.subscribers} sockets", flush=True)
        base = measure(base_port, args.subscribers, [], teams, interval, publish)
        print(f"mall: {args.subscribers} sockets x {len(teams)} team channels", flush=True)
        ours = measure(mall.port, args.subscribers, [f"team:{t}" for t in teams], teams, interval, pay_last_seat)
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM group_team WHERE status = 'success' AND paid_count = team_size")
            succeeded = cur.fetchone()[0]
        assert succeeded == len(teams), f"{succeeded} of {len(teams)} teams succeeded"
    finally:
        mall.close()
        baseline.terminate()
        baseline.wait(30)

    for name, row in (("baseline", base), ("mall", ours)):
        print(f"{name}: p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, "
              f"delivered {row['received']}/{row['expected']}, request p50 {row['request_p50_ms']:.1f} ms")
    picture = chart("groups", lambda ax: (
        ax.bar(["bare broadcast p50", "mall p50", "bare broadcast p99", "mall p99"],
               [base["p50_ms"], ours["p50_ms"], base["p99_ms"], ours["p99_ms"]], color=["#999", "#e4393c"] * 2),
        ax.set_ylabel("ms"), ax.set_title(f"last seat paid -> team.success at {args.subscribers} subscribers")))
    write_section("Group-buy: last seat to team.success", f"""
Machine: {machine()}. MariaDB + Redis on the same machine; one `server.py` process.
Command: `python bench/groups.py {' '.join(sys.argv[1:])}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).

{len(teams)} teams of 2, {args.subscribers} WebSocket subscribers on every team's channel (client
processes separate from the server). One team completed every {args.interval_ms:g} ms by paying its
last seat with balance. Clock: from just before the payment request is sent (its transaction
takes the seat, flips the team to `success` and commits the events) to a subscriber reading
`team.success`. Baseline: a bare Tornado server writing a pre-encoded frame to the same number
of sockets on a POST, clocked the same way.

| | p50 ms | p99 ms | delivered | request p50 ms |
| --- | ---: | ---: | ---: | ---: |
| baseline (bare Tornado broadcast) | {base['p50_ms']:.1f} | {base['p99_ms']:.1f} | {base['received']}/{base['expected']} | {base['request_p50_ms']:.1f} |
| mall (pay last seat -> team.success) | {ours['p50_ms']:.1f} | {ours['p99_ms']:.1f} | {ours['received']}/{ours['expected']} | {ours['request_p50_ms']:.1f} |

Ratio of p50 latencies (mall / baseline): {ours['p50_ms'] / base['p50_ms']:.1f}x. The mall figure includes
the payment itself (balance debit, seat, order state, ledger, outbox), and each subscriber gets
two frames per completed team (`team.progress`, then `team.success`) where the baseline writes one.

{picture}
""")


if __name__ == "__main__":
    main()
