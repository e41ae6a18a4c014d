"""import-ewei throughput: a 人人商城 (ewei_shopv2) source with a large order table, imported by the
command an operator runs, into a fresh database; then the same command again (what a resumed or
repeated run costs when nothing changed at the source).

The source (tests/ewei_source.py, built by MariaDB from its sequence tables) has 2,000 members
(one distributor who referred the rest), one goods and N orders of one line each with level-1
commission in every ewei state. Rows/s is source orders read / wall time of the whole command
(start-up, catalogue, members and the reconciliation included); the written rows per order are
the order, its line, its source facts, its commission, their id-map rows.

    python bench/import_ewei.py [--orders 200000] [--sqlite] [--write]
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pymysql  # noqa: E402

from bench._common import MYSQL_URL, ROOT, machine, write_section  # noqa: E402
from tests.ewei_source import DDL, generate_orders  # noqa: E402


def admin():
    return pymysql.connect(host="127.0.0.1", user="root", autocommit=True, charset="utf8mb4")


def import_once(source_url: str, target_url: str) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALL_")}
    env.update(MALL_DATABASE_URL=target_url, MALL_REDIS_URL="", MALL_JWT_SECRET=f"bench-{uuid.uuid4().hex}-0123456789")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "server.py", "import-ewei", "--source", source_url, "--uniacid", "7"],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--sqlite", action="store_true", help="import into SQLite instead of MariaDB")
    parser.add_argument("--write", action="store_true", help="write the figures into BENCHMARKS.md")
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    source, target = f"ewei_bench_{run}", f"mall_import_{run}"
    conn = admin()
    cur = conn.cursor()
    folder = tempfile.TemporaryDirectory()
    try:
        started = time.perf_counter()
        cur.execute(f"CREATE DATABASE `{source}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{source}`")
        for statement in DDL:
            cur.execute(statement)
        generate_orders(cur, args.orders)
        print(f"source: {args.orders} orders generated in {time.perf_counter() - started:.1f} s", flush=True)
        if args.sqlite:
            target_url = f"sqlite:///{folder.name}/mall.db"
        else:
            cur.execute(f"CREATE DATABASE `{target}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            target_url = MYSQL_URL.rsplit("/", 1)[0] + f"/{target}"
        source_url = MYSQL_URL.rsplit("/", 1)[0] + f"/{source}"
        first, out = import_once(source_url, target_url)
        print(out)
        sums = re.findall(r"^\s+(.+?)\s+source\s+(-?\d+)\s+imported\s+(-?\d+)\s+(OK|MISMATCH)$", out, re.M)
        if any(state != "OK" for *_, state in sums):
            raise SystemExit("the reconciliation does not match")
        again, out_again = import_once(source_url, target_url)
        unchanged = re.search(r"^order\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", out_again, re.M)
        print(f"first run {first:.1f} s ({args.orders / first:,.0f} orders/s); "
              f"run again {again:.1f} s ({args.orders / again:,.0f} orders/s, unchanged {unchanged.group(4)})")
    finally:
        cur.execute(f"DROP DATABASE IF EXISTS `{source}`")
        cur.execute(f"DROP DATABASE IF EXISTS `{target}`")
        conn.close()
        folder.cleanup()
    if args.write:
        backend = "SQLite" if args.sqlite else "MariaDB"
        table = "\n".join([
            "| run | orders | wall time | orders/s |", "| --- | ---: | ---: | ---: |",
            f"| first import | {args.orders:,} | {first:.1f} s | {args.orders / first:,.0f} |",
            f"| same command again (nothing changed: every order compared, none written) | {args.orders:,} | "
            f"{again:.1f} s | {args.orders / again:,.0f} |"])
        reconciliation = "\n".join(f"| {name} | {src} | {imp} | {state} |" for name, src, imp, state in sums)
        write_section(f"import-ewei ({backend} target)",
                      f"Machine: {machine()}. Source and target on the same MariaDB.\n"
                      f"Command: `python bench/import_ewei.py --orders {args.orders}"
                      f"{' --sqlite' if args.sqlite else ''} --write` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).\n\n"
                      f"{__doc__.split(chr(10) + chr(10), 1)[1].rsplit(chr(10) + chr(10), 1)[0]}\n\n{table}\n\n"
                      f"Reconciliation printed by the first run (fen / points):\n\n"
                      f"| sum | source | imported | |\n| --- | ---: | ---: | --- |\n{reconciliation}")


if __name__ == "__main__":
    main()
