"""Merchant dashboard on a shop with 1,000,000 orders (MariaDB + Redis, one server process).

    python bench/dashboard.py [--orders 1000000] [--requests 30]

Loads `--orders` paid orders (one line each, spread over the last 60 days, 50,000 members, 200
goods) straight into the database with MariaDB's sequence engine, then times
GET /api/merchant/dashboard (today, 7 and 30 days: orders, GMV, paid members, new members,
group-buy success rate, top goods) from the daily rollups plus today live. Baseline, in the same
run: the naive way — the same metrics as 15 aggregate statements over the orders themselves, sent
straight through aiomysql (no HTTP, no Python per row).
Writes the "Dashboard on 1M orders" section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiomysql  # noqa: E402

from bench._common import (  # noqa: E402
    MYSQL_URL,
    REDIS_URL,
    MallProcess,
    chart,
    machine,
    write_section,
)


def fill(cur, table: str, values: dict[str, str], source: str) -> None:
    """INSERT ... SELECT with `values` (SQL expressions) for the named columns and a neutral value
    for every other NOT NULL column (peewee's defaults live in Python, not in the schema)."""
    cur.execute("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = %s AND column_name <> 'id'", (table,))
    columns = {}
    for name, kind, nullable in cur.fetchall():
        if name in values:
            columns[name] = values[name]
        elif nullable == "NO":
            columns[name] = "NOW()" if kind in ("datetime", "timestamp") else \
                "''" if kind in ("varchar", "text", "longtext", "char") else "0"
    names = ", ".join(f"`{c}`" for c in columns)
    cur.execute(f"INSERT INTO `{table}` ({names}) SELECT {', '.join(columns.values())} FROM {source}")


def load(mall: MallProcess, orders: int) -> float:
    started = time.perf_counter()
    shop = mall.shop["id"]
    conn = mall.connect()
    with conn.cursor() as cur:
        cur.execute("SET SESSION unique_checks = 0")
        fill(cur, "member", {"shop_id": str(shop), "nickname": "CONCAT('m', seq)", "token_version": "1",
                             "is_active": "1", "tags": "'[]'",
                             "created_at": "NOW() - INTERVAL (seq % 90) DAY"}, "seq_1_to_50000")
        fill(cur, "goods", {"shop_id": str(shop), "title": "CONCAT('goods ', seq)", "price_fen": "1000 + seq",
                            "stock": "100000", "images": "'[]'", "specs": "'[]'", "status": "'on_sale'"}, "seq_1_to_200")
        cur.execute("SELECT MIN(id) FROM member WHERE shop_id = %s", (shop,))
        first_member = cur.fetchone()[0]
        cur.execute("SELECT MIN(id) FROM goods WHERE shop_id = %s", (shop,))
        first_goods = cur.fetchone()[0]
        for start in range(1, orders + 1, 200_000):  # batches keep the undo log small
            end = min(orders, start + 199_999)
            print(f"  orders {start:,}..{end:,}", flush=True)
            fill(cur, "order", {
                "shop_id": str(shop), "member_id": f"{first_member} + seq % 50000", "order_no": "CONCAT('B', seq)",
                "status": "IF(seq % 10 = 0, 3, 1)", "refund_status": "'none'", "goods_total_fen": "1000 + seq % 5000",
                "total_fen": "1000 + seq % 5000", "address": "'{}'", "discounts": "'[]'", "pay_method": "'balance'",
                "expires_at": "NOW()", "paid_at": "NOW() - INTERVAL (seq % 5184000) SECOND",
                "created_at": "NOW() - INTERVAL (seq % 5184000) SECOND"}, f"seq_{start}_to_{end}")
            cur.execute("SELECT MIN(id) FROM `order` WHERE order_no = %s", (f"B{start}",))
            first_order = cur.fetchone()[0]
            fill(cur, "order_item", {
                "shop_id": str(shop), "order_id": f"{first_order} + seq - {start}", "goods_id": f"{first_goods} + seq % 200",
                "title": "CONCAT('goods ', seq % 200)", "price_fen": "1000 + seq % 5000", "quantity": "1 + seq % 3",
                "total_fen": "1000 + seq % 5000"}, f"seq_{start}_to_{end}")
        print("  members' last payment", flush=True)
        cur.execute("UPDATE member m JOIN (SELECT member_id, MAX(paid_at) AS last FROM `order` WHERE shop_id = %s "
                    "GROUP BY member_id) o ON o.member_id = m.id SET m.last_paid_at = o.last", (shop,))
        cur.execute("ANALYZE TABLE `order`, order_item, member")
    conn.close()
    return time.perf_counter() - started


async def time_requests(port: int, token: str, count: int) -> list[float]:
    import tornado.httpclient

    client = tornado.httpclient.AsyncHTTPClient()
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.fetch(f"http://127.0.0.1:{port}/api/merchant/dashboard",
                                      headers={"Authorization": f"Bearer {token}"}, request_timeout=120)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.code == 200
    return timings


async def time_raw(mall: MallProcess, statements: list[str], count: int) -> list[float]:
    conn = await aiomysql.connect(db=mall.db, **mall.db_params)
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        async with conn.cursor() as cur:
            for sql in statements:
                await cur.execute(sql)
                await cur.fetchall()
        timings.append((time.perf_counter() - started) * 1000)
    conn.close()
    return timings


def dashboard_sql(shop: int) -> list[str]:
    """The statements the dashboard runs, for the baseline (3 windows x 5 queries)."""
    statements = []
    for days in (0, 7, 30):
        start = f"UTC_DATE() - INTERVAL {max(0, days - 1)} DAY"
        statements += [
            f"SELECT COUNT(id), COALESCE(SUM(total_fen), 0), COUNT(DISTINCT member_id) FROM `order` "
            f"WHERE shop_id = {shop} AND paid_at >= {start}",
            f"SELECT COUNT(*) FROM member WHERE shop_id = {shop} AND created_at >= {start}",
            f"SELECT COUNT(*) FROM group_team WHERE shop_id = {shop} AND succeeded_at >= {start}",
            f"SELECT COUNT(*) FROM group_team WHERE shop_id = {shop} AND failed_at >= {start}",
            f"SELECT i.goods_id, MAX(i.title), SUM(i.quantity), SUM(i.total_fen) FROM order_item i "
            f"JOIN `order` o ON o.id = i.order_id WHERE o.shop_id = {shop} AND o.paid_at >= {start} "
            f"GROUP BY i.goods_id ORDER BY SUM(i.quantity) DESC, i.goods_id LIMIT 5"]
    return statements


def wait_for_rollups(mall: MallProcess, timeout_s: float = 300) -> None:
    """The server's `rollup_stats` job rolls up closed days (31 per run); wait until yesterday is done."""
    import datetime

    yesterday = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)).date()
    conn = mall.connect()
    deadline = time.time() + timeout_s
    with conn.cursor() as cur:
        while time.time() < deadline:
            cur.execute("SELECT MAX(day) FROM rollup_day")
            latest = cur.fetchone()[0]
            if latest is not None and latest >= yesterday:
                break
            time.sleep(1)
        else:
            raise RuntimeError("the rollup job did not catch up")
    conn.close()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    mall = MallProcess("dashboard", MYSQL_URL, REDIS_URL)
    try:
        print(f"loading {args.orders:,} orders", flush=True)
        load_s = load(mall, args.orders)
        print(f"loaded in {load_s:.0f} s; waiting for the server's rollup job to close the past days", flush=True)
        wait_for_rollups(mall)
        print("timing", flush=True)
        asyncio.run(time_requests(mall.port, mall.owner, 2))  # warm caches and pools
        api = asyncio.run(time_requests(mall.port, mall.owner, args.requests))
        raw = asyncio.run(time_raw(mall, dashboard_sql(mall.shop["id"]), args.requests))
    finally:
        mall.close()
    api_p50, raw_p50 = statistics.median(api), statistics.median(raw)
    print(f"dashboard p50 {api_p50:.0f} ms p95 {pct(api, 0.95):.0f} ms | raw SQL p50 {raw_p50:.0f} ms "
          f"p95 {pct(raw, 0.95):.0f} ms")
    picture = chart("dashboard", lambda ax: (
        ax.bar(["naive SQL p50", "API p50", "naive SQL p95", "API p95"],
               [raw_p50, api_p50, pct(raw, 0.95), pct(api, 0.95)], color=["#999", "#e4393c"] * 2),
        ax.set_yscale("log"), ax.set_ylabel("ms (log)"), ax.set_title(f"dashboard on {args.orders:,} orders")))
    write_section("Dashboard on 1M orders", f"""
Machine: {machine()}. MariaDB + Redis on the same machine; one `server.py` process.
Command: `python bench/dashboard.py {' '.join(sys.argv[1:])}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).

{args.orders:,} paid orders (one line each) over 60 days, 50,000 members, 200 goods in one shop,
loaded in {load_s:.0f} s. `GET /api/merchant/dashboard` computes today, 7 and 30 days (orders, GMV,
paid members, new members, group-buy success rate, top 5 goods): closed days from the daily
rollups the server's `rollup_stats` job wrote (the bench waits for it), today counted live once,
paid members as a range count on (shop_id, last_paid_at). Baseline: the naive dashboard, the same
metrics as 15 aggregate statements over the orders (covering index (shop_id, paid_at, member_id,
total_fen)), sent straight through aiomysql in the same run. {args.requests} sequential requests each.

| | p50 ms | p95 ms |
| --- | ---: | ---: |
| naive aggregates, raw SQL (aiomysql) | {raw_p50:.0f} | {pct(raw, 0.95):.0f} |
| GET /api/merchant/dashboard | {api_p50:.0f} | {pct(api, 0.95):.0f} |

Ratio (API / naive raw SQL, p50): {api_p50 / raw_p50:.3f}x. What is left is today's live part
(one day of orders, about 1/60 of the table here: its top-goods join) and HTTP/ORM overhead.

{picture}
""")


if __name__ == "__main__":
    main()
