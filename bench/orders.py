"""Order throughput end to end through the API, against a raw aiomysql baseline, on MariaDB + Redis.

    python bench/orders.py [--buyers 200] [--hot-stock 1000] [--spread-goods 50] [--spread-stock 20]

Scenarios (each with `--buyers` concurrent buyers, each buying 1 unit per request until sold out):
- hot: one goods row with `--hot-stock` units — every order contends for the same row;
- spread: `--spread-goods` goods with `--spread-stock` units each, buyers pick at random.
mall: POST /api/mobile/{shop}/orders on one `server.py` process (pricing, stock, order, items,
log, outbox events). Baseline: the same conditional UPDATE + order/item INSERTs in one
transaction straight through aiomysql with as many connections as the server's pool.
Zero oversell is asserted: orders == stock sold, stock never below zero.
Writes the "Orders" section of BENCHMARKS.md. BENCH_PROFILE="-m cProfile -o FILE" runs the
server under a profiler (its server log goes to data/bench-orders-server.log).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
import aiomysql  # noqa: E402

from bench._common import (  # noqa: E402
    MYSQL_URL,
    REDIS_URL,
    ROOT,
    MallProcess,
    Nginx,
    Profiler,
    chart,
    cpu_seconds,
    free_port,
    insert_buyers,
    machine,
    raise_fd_limit,
    wait_listening,
    write_section,
)

POOL_SIZE = 20


def connect(db: str | None = None):
    parsed = urlparse(MYSQL_URL)
    return dict(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username or "root",
                password=parsed.password or "", **({"db": db} if db else {}))


async def http_scenario(port: int, shop_id: int, tokens: list[tuple[str, int]], goods_ids: list[int]) -> dict:
    """Each buyer loops over keep-alive connections (as a browser or app does), one unit per
    request, until every goods answers 409."""
    sold_out: set[int] = set()
    created = failed = 0
    url = f"http://127.0.0.1:{port}/api/mobile/{shop_id}/orders"

    async def buyer(http, token: str, address_id: int):
        nonlocal created, failed
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        while len(sold_out) < len(goods_ids):
            goods_id = random.choice([g for g in goods_ids if g not in sold_out] or [goods_ids[0]])
            body = json.dumps({"items": [{"goods_id": goods_id, "quantity": 1}], "address_id": address_id})
            async with http.post(url, data=body, headers=headers) as response:
                answer = await response.read()
            if response.status == 201:
                created += 1
            elif response.status == 409:
                sold_out.add(goods_id)
            else:
                failed += 1
                if failed > 100:
                    raise RuntimeError(f"unexpected {response.status}: {answer[:300]!r}")

    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=len(tokens)), timeout=timeout) as http:
        started = time.perf_counter()
        await asyncio.gather(*(buyer(http, token, address_id) for token, address_id in tokens))
        return {"orders": created, "seconds": time.perf_counter() - started, "errors": failed}


def bare_server(port: int) -> None:
    """The HTTP floor: a bare Tornado handler that parses the order body and answers 201 with a
    small JSON body, until the given number of units is sold (then 409), no database."""
    import tornado.web

    units = {"left": 0}

    class Orders(tornado.web.RequestHandler):
        def post(self, shop_id):
            body = json.loads(self.request.body)
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            if units["left"] <= 0 or not self.request.headers.get("Authorization"):
                self.set_status(409)
                self.finish(b'{"error": {"code": "out_of_stock"}}')
                return
            units["left"] -= 1
            self.set_status(201)
            self.finish(json.dumps({"id": units["left"], "status": "unpaid", "items": body["items"]}))

        def put(self, shop_id):
            units["left"] = int(self.request.body)

    async def serve():
        tornado.web.Application([(r"/api/mobile/(\d+)/orders", Orders)], log_function=lambda handler: None).listen(
            port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(serve())


async def bare_scenario(port: int, tokens: list[tuple[str, int]], units: int) -> dict:
    async with aiohttp.ClientSession() as http:
        await http.put(f"http://127.0.0.1:{port}/api/mobile/1/orders", data=str(units))
    return await http_scenario(port, 1, tokens, [1])


async def raw_scenario(db: str, buyers: int, goods_ids: list[int]) -> dict:
    pool = await aiomysql.create_pool(minsize=POOL_SIZE, maxsize=POOL_SIZE, autocommit=False, **connect(db))
    sold_out: set[int] = set()
    created = 0

    async def buyer(member_id: int):
        nonlocal created
        while len(sold_out) < len(goods_ids):
            goods_id = random.choice([g for g in goods_ids if g not in sold_out] or [goods_ids[0]])
            async with pool.acquire() as conn, conn.cursor() as cur:
                await cur.execute("UPDATE raw_goods SET stock = stock - 1 WHERE id = %s AND stock >= 1", (goods_id,))
                if cur.rowcount != 1:
                    await conn.rollback()
                    sold_out.add(goods_id)
                    continue
                await cur.execute("INSERT INTO raw_order (member_id, order_no, total_fen) VALUES (%s, %s, %s)",
                                  (member_id, uuid.uuid4().hex[:20], 1000))
                await cur.execute("INSERT INTO raw_item (order_id, goods_id, quantity) VALUES (%s, %s, 1)",
                                  (cur.lastrowid, goods_id))
                await conn.commit()
                created += 1

    started = time.perf_counter()
    await asyncio.gather(*(buyer(i) for i in range(buyers)))
    elapsed = time.perf_counter() - started
    pool.close()
    await pool.wait_closed()
    return {"orders": created, "seconds": elapsed, "errors": 0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--hot-stock", type=int, default=1000)
    parser.add_argument("--spread-goods", type=int, default=50)
    parser.add_argument("--spread-stock", type=int, default=20)
    parser.add_argument("--profile", action="store_true",
                        help="sample the server with py-spy during the mall runs and report where its CPU time goes")
    parser.add_argument("--servers", type=int, default=1, help="server.py processes, behind the shipped nginx site when > 1")
    parser.add_argument("--nginx", action="store_true", help="through the shipped nginx site even with one process")
    parser.add_argument("--bare-server", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        bare_server(args.bare_server)
        return
    raise_fd_limit()
    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, __file__, "--bare-server", str(bare_port)], cwd=ROOT)
    wait_listening(bare_port, bare)

    mall = MallProcess("orders", MYSQL_URL, REDIS_URL, POOL_SIZE, os.environ.get("BENCH_PROFILE", ""))
    shop, db = mall.shop, mall.db
    servers = [mall.process] + [mall.sibling() for _ in range(args.servers - 1)]
    front = Nginx([mall.port] + [s.port for s in servers[1:]]) if args.servers > 1 or args.nginx else None
    port = front.port if front else mall.port
    rows = []
    try:
        def goods(stock):
            return mall.call("POST", "/api/merchant/goods", {"title": "Bench goods", "price_fen": 1000, "stock": stock,
                                                             "status": "on_sale"}, mall.owner)["id"]

        conn = mall.connect()
        tokens = insert_buyers(conn, shop["id"], args.buyers, mall.secret)
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE raw_goods (id INT PRIMARY KEY AUTO_INCREMENT, stock INT NOT NULL) ENGINE=InnoDB")
            cur.execute("CREATE TABLE raw_order (id BIGINT PRIMARY KEY AUTO_INCREMENT, member_id INT, order_no VARCHAR(32) "
                        "UNIQUE, total_fen BIGINT) ENGINE=InnoDB")
            cur.execute("CREATE TABLE raw_item (id BIGINT PRIMARY KEY AUTO_INCREMENT, order_id BIGINT, goods_id INT, "
                        "quantity INT, KEY (order_id)) ENGINE=InnoDB")

        def raw_goods(count, stock):
            with conn.cursor() as cur:
                ids = []
                for _ in range(count):
                    cur.execute("INSERT INTO raw_goods (stock) VALUES (%s)", (stock,))
                    ids.append(cur.lastrowid)
                return ids

        scenarios = [("hot SKU", 1, args.hot_stock), ("spread SKUs", args.spread_goods, args.spread_stock)]
        stacks = []
        for name, count, stock in scenarios:
            mall_goods = [goods(stock) for _ in range(count)]
            profiler = Profiler(mall.process.pid, ROOT / "data" / "bench-orders.folded") if args.profile else None
            cpu_before = sum(cpu_seconds(p.pid) for p in servers)
            ours = asyncio.run(http_scenario(port, shop["id"], tokens, mall_goods))
            ours["cpu_ms"] = (sum(cpu_seconds(p.pid) for p in servers) - cpu_before) * 1000 / ours["orders"]
            stacks += profiler.stop() if profiler else []
            base = asyncio.run(raw_scenario(db, args.buyers, raw_goods(count, stock)))
            floor = asyncio.run(bare_scenario(bare_port, tokens, count * stock))
            with conn.cursor() as cur:
                marks = ",".join(["%s"] * len(mall_goods))
                cur.execute(f"SELECT MIN(stock), SUM(stock) FROM goods WHERE id IN ({marks})", mall_goods)
                min_stock, left = cur.fetchone()
                cur.execute(f"SELECT COALESCE(SUM(quantity), 0) FROM order_item WHERE goods_id IN ({marks})", mall_goods)
                sold = int(cur.fetchone()[0])
            assert min_stock == 0 and int(left) == 0, f"{name}: stock left {left}, min {min_stock}"
            assert sold == ours["orders"] == count * stock, f"{name}: oversell or loss: sold {sold}, orders {ours['orders']}"
            assert base["orders"] == floor["orders"] == count * stock
            rows.append((name, count, stock, ours, base, floor))
            print(f"{name}: mall {ours['orders'] / ours['seconds']:.0f} orders/s ({ours['cpu_ms']:.2f} ms server CPU per "
                  f"order), raw aiomysql "
                  f"{base['orders'] / base['seconds']:.0f} orders/s, bare Tornado POST "
                  f"{floor['orders'] / floor['seconds']:.0f}/s", flush=True)
    finally:
        mall.close()
        bare.terminate()
        if front:
            front.close()

    table = ["| scenario | goods x stock | buyers | mall orders/s | server CPU per order | raw aiomysql orders/s | mall / raw | "
             "bare Tornado POST/s | mall / bare | oversell |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, count, stock, ours, base, floor in rows:
        mall_rate, raw_rate = ours["orders"] / ours["seconds"], base["orders"] / base["seconds"]
        bare_rate = floor["orders"] / floor["seconds"]
        table.append(f"| {name} | {count} x {stock} | {args.buyers} | {mall_rate:.0f} | {ours['cpu_ms']:.2f} ms | {raw_rate:.0f} | "
                     f"{mall_rate / raw_rate:.2f}x | {bare_rate:.0f} | {mall_rate / bare_rate:.2f}x | 0 |")
    setup = (f"{args.servers} `server.py` processes behind the shipped nginx site (deploy/nginx)" if front and args.servers > 1
             else "one `server.py` process behind the shipped nginx site" if front else "one `server.py` process")
    section = "Orders" if not front else f"Orders, {args.servers} process{'es' if args.servers > 1 else ''} behind nginx"
    picture = chart("orders" if not front else f"orders_{args.servers}_nginx", lambda ax: (
        ax.bar([f"{name}\nbare POST" for name, *_ in rows], [f["orders"] / f["seconds"] for *_, f in rows], color="#ccc"),
        ax.bar([f"{name}\nraw aiomysql" for name, *_ in rows], [b["orders"] / b["seconds"] for *_, b, _ in rows], color="#999"),
        ax.bar([f"{name}\nmall API" for name, *_ in rows], [o["orders"] / o["seconds"] for *_, o, _, _ in rows],
               color="#e4393c"),
        ax.set_ylabel("orders/s")))
    write_section(section, f"""
Machine: {machine()}. MariaDB + Redis on the same machine; {setup} (pool {POOL_SIZE} each);
server CPU is the sum over the server processes (nginx not counted).
Command: `python bench/orders.py {' '.join(sys.argv[1:])}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).

Each buyer loops: one unit per request until every goods answers 409 `out_of_stock`. mall: full
API path (auth, pricing, conditional stock UPDATE, order + items + log + stock ledger + outbox
events, relay to Redis). Baseline: the conditional UPDATE and two INSERTs per order in one
transaction over aiomysql, same pool size, same client concurrency. Zero oversell asserted
(units sold = orders = stock, no stock below zero).

{chr(10).join(table)}

{picture}
{profile_text(stacks)}""")


def profile_text(stacks) -> str:
    """The py-spy sample of the server during the mall runs, by layer and by our functions."""
    if not stacks:
        return ""
    layers = "\n".join(f"| {name} | {share:.0f}% |" for name, share in Profiler.layers(stacks))
    functions = "\n".join(f"| `{name}` | {share:.0f}% |" for name, share in Profiler.functions(stacks))
    print(f"where the server's CPU went:\n{layers}\n{functions}", flush=True)
    return f"""
Profile (`--profile`: py-spy samples of the server process, {sum(c for _, c in stacks)} samples
over both mall runs). CPU by the layer of the innermost frame:

| layer | share of samples |
| --- | ---: |
{layers}

Our functions, inclusive (a sample counts for every one of them on its stack; samples taken in
transport callbacks, where the driver parses results, carry no frame of ours, so these are lower
bounds):

| function | share of samples |
| --- | ---: |
{functions}
"""


if __name__ == "__main__":
    main()
