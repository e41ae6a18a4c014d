"""Cross-process delivery: an order paid on server process A, its `order.paid` alert read by a
merchant connected to process B (two `server.py` processes sharing MariaDB and Redis).

    python bench/cross_process.py [--orders 100]

Clock: from just before the balance payment request is sent to A, to the alert's arrival at the
WebSocket client on B. Baseline in the same run: the same client connected to A itself, so the
ratio is what crossing processes through Redis adds. Writes the "Cross-process delivery" section
of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (  # noqa: E402
    MYSQL_URL,
    REDIS_URL,
    MallProcess,
    chart,
    insert_buyers,
    machine,
    write_section,
)


async def run(pay_port: int, watch_port: int, shop_id: int, owner: str, member: tuple[str, int], goods_id: int,
              orders: int) -> list[float]:
    import tornado.httpclient
    import tornado.websocket

    client = tornado.httpclient.AsyncHTTPClient()
    socket = await tornado.websocket.websocket_connect(f"ws://127.0.0.1:{watch_port}/ws?token={owner}")
    assert json.loads(await socket.read_message())["op"] == "authenticated"
    await socket.write_message(json.dumps({"op": "subscribe", "channel": f"shop:{shop_id}:orders"}))
    assert json.loads(await socket.read_message())["op"] == "subscribed"
    token, address_id = member
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    latencies = []
    for _ in range(orders):
        created = await client.fetch(f"http://127.0.0.1:{pay_port}/api/mobile/{shop_id}/orders", method="POST",
                                     headers=headers, body=json.dumps({"items": [{"goods_id": goods_id, "quantity": 1}],
                                                                       "address_id": address_id}))
        order = json.loads(created.body)
        started = time.perf_counter()
        await client.fetch(f"http://127.0.0.1:{pay_port}/api/mobile/{shop_id}/orders/{order['id']}/pay", method="POST",
                           headers=headers, body=json.dumps({"method": "balance"}))
        while True:
            message = json.loads(await asyncio.wait_for(socket.read_message(), 10))
            if message.get("type") == "order.paid" and message["data"]["order_id"] == order["id"]:
                latencies.append((time.perf_counter() - started) * 1000)
                break
    socket.close()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100)
    args = parser.parse_args()
    mall = MallProcess("cross", MYSQL_URL, REDIS_URL)
    try:
        second_port = mall.sibling().port
        goods = mall.call("POST", "/api/merchant/goods", {"title": "bench", "price_fen": 100, "stock": args.orders * 3,
                                                          "status": "on_sale"}, mall.owner)
        conn = mall.connect()
        member = insert_buyers(conn, mall.shop["id"], 1, mall.secret, balance_fen=10**9)[0]
        shop_id = mall.shop["id"]
        print(f"same process: {args.orders} orders", flush=True)
        same = asyncio.run(run(mall.port, mall.port, shop_id, mall.owner, member, goods["id"], args.orders))
        print(f"cross process: {args.orders} orders", flush=True)
        cross = asyncio.run(run(mall.port, second_port, shop_id, mall.owner, member, goods["id"], args.orders))
    finally:
        mall.close()

    def p(values, q):
        return sorted(values)[min(len(values) - 1, int(len(values) * q))]

    rows = [(name, statistics.median(v), p(v, 0.99)) for name, v in (("same process (A -> A)", same),
                                                                     ("cross process (A -> B)", cross))]
    for name, p50, p99 in rows:
        print(f"{name}: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    picture = chart("cross_process", lambda ax: (
        ax.bar([r[0] for r in rows], [r[1] for r in rows], label="p50", color="#e4393c"),
        ax.scatter([r[0] for r in rows], [r[2] for r in rows], label="p99", color="black", zorder=3),
        ax.set_ylabel("ms from payment request to alert"), ax.legend()))
    write_section("Cross-process delivery", f"""
Machine: {machine()}. MariaDB + Redis; two `server.py` processes on the same database and Redis.
Command: `python bench/cross_process.py {' '.join(sys.argv[1:])}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).

{args.orders} orders paid with balance on process A, one after another. Clock: from just before the
payment request to A until the merchant's WebSocket client reads `order.paid`; on A itself
(baseline) and on B (through Redis).

| subscriber on | p50 ms | p99 ms |
| --- | ---: | ---: |
{chr(10).join(f"| {name} | {p50:.1f} | {p99:.1f} |" for name, p50, p99 in rows)}

Ratio (cross / same, p50): {rows[1][1] / rows[0][1]:.2f}x. Both include the payment itself; the relay of
the paying process publishes to Redis right after the commit, and every process's listener fans out.

{picture}
""")


if __name__ == "__main__":
    main()
