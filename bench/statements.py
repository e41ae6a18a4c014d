"""SQL statements per order: how many statements (BEGIN/COMMIT aside) the server runs to place
an order, pay it from the balance, and settle a WeChat Pay notification for another one.

Runs a real server in this process on a fresh database (SQLite by default, `--mysql` for
MariaDB + Redis) and counts every statement peewee-async sends while each request is served.
Round trips are what an order costs the database; this is the figure the core redesign
promised to lower (the order read once, its items once). The last step places 20 orders at once
(the group commit shares transactions among them) and gives the statements per order.

    python bench/statements.py [--mysql] [--write]
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import tornado.httpclient  # noqa: E402
import tornado.netutil  # noqa: E402
from peewee_async.databases import AioDatabase  # noqa: E402

from bench._common import MYSQL_URL, REDIS_URL, machine, write_section  # noqa: E402
from lib.config import Config  # noqa: E402
from server import MallServer  # noqa: E402

counted: collections.Counter | None = None
TOGETHER = 20  # concurrent orders in the last step
original = AioDatabase.aio_execute_sql


async def counting_execute_sql(self, sql, params=None, fetch_results=None):
    if counted is not None:
        counted[sql.split(None, 1)[0].upper()] += 1
    return await original(self, sql, params, fetch_results)


AioDatabase.aio_execute_sql = counting_execute_sql


async def measure(database_url: str, redis_url: str) -> dict[str, collections.Counter]:
    global counted
    run = uuid.uuid4().hex[:8]
    config = Config(port=0, host="127.0.0.1", database_url=database_url, redis_url=redis_url,
                    redis_prefix=f"mall-stmt-{run}:", jwt_secret=f"bench-secret-{run}-0123456789abcdefghij",
                    job_interval_seconds=3600)
    mall = MallServer(config)
    await mall.start(sockets=tornado.netutil.bind_sockets(0, "127.0.0.1"))
    http = tornado.httpclient.AsyncHTTPClient()
    base = f"http://127.0.0.1:{mall.port}"

    async def call(method, path, body=None, token=None):
        headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
        response = await http.fetch(base + path, method=method, headers=headers, raise_error=False,
                                    body=json.dumps(body) if body is not None else (b"" if method == "POST" else None))
        assert response.code < 300, (path, response.code, response.body)
        return json.loads(response.body) if response.body else {}

    try:
        from services.platform import create_or_update_admin

        await create_or_update_admin("bench_admin", "bench-pass-1")
        admin = (await call("POST", "/api/admin/auth/login", {"username": "bench_admin", "password": "bench-pass-1"}))["token"]
        shop = await call("POST", "/api/admin/shops",
                          {"name": "S", "owner_username": f"o{run}", "owner_password": "owner-pass-1"}, admin)
        owner = (await call("POST", "/api/merchant/auth/login", {"username": f"o{run}", "password": "owner-pass-1"}))["token"]
        goods = await call("POST", "/api/merchant/goods", {"title": "Tea", "price_fen": 1000, "stock": 1000,
                                                           "status": "on_sale"}, owner)
        member = await call("POST", f"/api/mobile/{shop['id']}/auth/register", {"mobile": "13900000001",
                                                                               "password": "member-pass-1"})
        token = member["token"]
        await call("POST", f"/api/merchant/members/{member['member']['id']}/balance", {"delta_fen": 100000}, owner)
        address = await call("POST", f"/api/mobile/{shop['id']}/addresses", {
            "name": "A", "mobile": "13900000001", "province": "P", "city": "C", "district": "D", "detail": "x"}, token)
        body = {"items": [{"goods_id": goods["id"], "quantity": 1}], "address_id": address["id"]}
        await call("POST", f"/api/mobile/{shop['id']}/orders", body, token)  # warm the caches once
        results = {}
        for name in ("place an order", "pay it from the balance", f"place {TOGETHER} orders at once, per order"):
            counted = collections.Counter()
            if name == "place an order":
                order = await call("POST", f"/api/mobile/{shop['id']}/orders", body, token)
            elif name.startswith("pay"):
                await call("POST", f"/api/mobile/{shop['id']}/orders/{order['id']}/pay", {"method": "balance"}, token)
            else:  # the group commit shares one transaction among them
                await asyncio.gather(*(call("POST", f"/api/mobile/{shop['id']}/orders", body, token)
                                       for _ in range(TOGETHER)))
                counted = collections.Counter({kind: round(n / TOGETHER, 1) for kind, n in counted.items()})
            results[name], counted = counted, None
        return results
    finally:
        await mall.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mysql", action="store_true", help="MariaDB + Redis instead of SQLite")
    parser.add_argument("--write", action="store_true", help="write the figures into BENCHMARKS.md")
    args = parser.parse_args()
    if args.mysql:
        import pymysql

        name = f"mall_stmt_{uuid.uuid4().hex[:8]}"
        admin = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
        admin.cursor().execute(f"CREATE DATABASE `{name}`")
        try:
            results = asyncio.run(measure(MYSQL_URL.rsplit("/", 1)[0] + f"/{name}", REDIS_URL))
        finally:
            admin.cursor().execute(f"DROP DATABASE `{name}`")
    else:
        with tempfile.TemporaryDirectory() as folder:
            results = asyncio.run(measure(f"sqlite:///{folder}/mall.db", ""))
    lines = ["| step | statements | by kind |", "| --- | ---: | --- |"]
    for name, counter in results.items():
        kinds = ", ".join(f"{kind} {n}" for kind, n in counter.most_common())
        lines.append(f"| {name} | {sum(counter.values()):g} | {kinds} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        backend = "MariaDB + Redis" if args.mysql else "SQLite"
        write_section(f"Statements per order ({backend})", f"`python bench/statements.py{' --mysql' if args.mysql else ''}`"
                      f" on {machine()}; BEGIN/COMMIT not counted.\n\n{table}")


if __name__ == "__main__":
    main()
