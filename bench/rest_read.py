"""REST read: `GET /api/mobile/{shop}/goods/{id}` on one server process, against a bare Tornado
hello-world handler measured in the same run with the same load generator.

    python bench/rest_read.py [--seconds 10] [--connections 64]

The mall process also serves the baseline's hello handler at `/bench/hello` (added to its routes
by this script, never by server.py), so a third row splits the gap: what the mall process costs
any handler (its access log, gzip transform, route table, heap) and what our handlers and the
page add on top.

Load: wrk (`apt-get install wrk`), 2 threads, `--connections` keep-alive connections, after a
2-second warm-up. The goods has 6 SKUs, images and a description, as a real product page.
Writes the "REST read" section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import re
import shutil
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
    Profiler,
    chart,
    cpu_seconds,
    free_port,
    machine,
    wait_listening,
    write_section,
)


def hello_handler():
    import tornado.web

    class Hello(tornado.web.RequestHandler):
        def get(self):
            self.set_header("Content-Type", "application/json; charset=UTF-8")
            self.finish(b'{"hello": "world"}')

    return Hello


def mall_with_hello() -> None:
    """server.py with the baseline's handler added at /bench/hello."""
    import handlers.routes
    import server

    handlers.routes.ROUTES.insert(0, (r"/bench/hello", hello_handler()))
    sys.argv = ["server.py"]
    server.main()


def hello_server(port: int) -> None:
    import asyncio

    import tornado.web

    Hello = hello_handler()

    async def main():
        tornado.web.Application([(r"/hello", Hello)]).listen(port, "127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main())


def wrk(url: str, seconds: int, connections: int) -> dict:
    subprocess.run(["wrk", "-t2", f"-c{connections}", "-d2s", url], check=True, capture_output=True)  # warm-up
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rate, "p99_ms": float(p99.group(1)) * scale, "non_2xx": int(errors.group(1)) if errors else 0,
            "requests": requests}


def measured(pid: int, url: str, seconds: int, connections: int) -> dict:
    """wrk's figures plus the server's CPU per request (steadier than a rate on a shared machine)."""
    before = cpu_seconds(pid)
    result = wrk(url, seconds, connections)
    return {**result, "cpu_us": (cpu_seconds(pid) - before) * 1e6 / result["requests"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--profile", action="store_true", help="sample the server with py-spy during the mall run")
    parser.add_argument("--hello-server", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mall-with-hello", action="store_true", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args()
    if args.mall_with_hello:
        mall_with_hello()
        return
    if args.hello_server:
        hello_server(args.hello_server)
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    hello_port = free_port()
    hello = subprocess.Popen([sys.executable, __file__, "--hello-server", str(hello_port)], cwd=ROOT)
    mall = MallProcess("rest", MYSQL_URL, REDIS_URL, command_prefix="bench/rest_read.py --mall-with-hello")
    try:
        wait_listening(hello_port, hello)
        goods = mall.call("POST", "/api/merchant/goods", {
            "title": "纯棉T恤 Cotton tee", "price_fen": 9900, "status": "on_sale", "stock": 0,
            "images": [f"https://img.example.com/tee-{i}.jpg" for i in range(4)], "description": "<p>100% 棉</p>" * 20,
            "specs": [{"name": "颜色", "values": ["白", "黑"]}, {"name": "尺码", "values": ["M", "L", "XL"]}],
            "skus": [{"spec_values": [c, s], "price_fen": 9900, "stock": 50} for c in ("白", "黑") for s in ("M", "L", "XL")]},
            mall.owner)
        url = f"http://127.0.0.1:{mall.port}/api/mobile/{mall.shop['id']}/goods/{goods['id']}"
        print(f"baseline: bare Tornado, {args.connections} connections, {args.seconds} s", flush=True)
        base = measured(hello.pid, f"http://127.0.0.1:{hello_port}/hello", args.seconds, args.connections)
        print(f"  {base['rps']:.0f} req/s, p99 {base['p99_ms']:.1f} ms, {base['cpu_us']:.0f} us CPU per request", flush=True)
        print("the same hello handler inside the mall process", flush=True)
        inside = measured(mall.process.pid, f"http://127.0.0.1:{mall.port}/bench/hello", args.seconds, args.connections)
        print(f"  {inside['rps']:.0f} req/s, p99 {inside['p99_ms']:.1f} ms, {inside['cpu_us']:.0f} us CPU per request", flush=True)
        print("mall: goods detail", flush=True)
        profiler = Profiler(mall.process.pid, ROOT / "data" / "bench-rest.folded") if args.profile else None
        ours = measured(mall.process.pid, url, args.seconds, args.connections)
        if profiler:
            stacks = profiler.stop()
            for name, share in Profiler.layers(stacks) + Profiler.functions(stacks):
                print(f"  {share:4.0f}%  {name}")
        print(f"  {ours['rps']:.0f} req/s, p99 {ours['p99_ms']:.1f} ms, {ours['cpu_us']:.0f} us CPU per request, "
              f"non-2xx {ours['non_2xx']}", flush=True)
    finally:
        mall.close()
        hello.terminate()
        hello.wait(30)
    assert ours["non_2xx"] == 0, "the goods page answered errors under load"
    ratio = ours["rps"] / base["rps"]
    picture = chart("rest_read", lambda ax: (
        ax.bar(["bare Tornado", "mall goods detail"], [base["rps"], ours["rps"]], color=["#999", "#e4393c"]),
        ax.set_ylabel("requests/s"), ax.set_title(f"REST read: {ratio:.2f}x the baseline")))
    write_section("REST read", f"""
Machine: {machine()}. MariaDB + Redis on the same machine; one `server.py` process; wrk on the same 2 cores.
Command: `python bench/rest_read.py {' '.join(sys.argv[1:])}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}).

`GET /api/mobile/{{shop}}/goods/{{id}}` (6 SKUs, images, description, the goods channel's seq/epoch)
against a bare Tornado handler answering a constant JSON body, both with wrk -t2 -c{args.connections}
for {args.seconds} s after a 2 s warm-up.

| | requests/s | p99 ms | server CPU per request |
| --- | ---: | ---: | ---: |
| bare Tornado hello | {base['rps']:.0f} | {base['p99_ms']:.1f} | {base['cpu_us']:.0f} us |
| the same hello handler in the mall process | {inside['rps']:.0f} | {inside['p99_ms']:.1f} | {inside['cpu_us']:.0f} us |
| mall goods detail | {ours['rps']:.0f} | {ours['p99_ms']:.1f} | {ours['cpu_us']:.0f} us |

Ratio: {ratio:.2f}x the baseline's requests/s (target 0.8x); by CPU per request, {base['cpu_us'] / ours['cpu_us']:.2f}x.
Of the extra CPU per request, {100 * (inside['cpu_us'] - base['cpu_us']) / max(1, ours['cpu_us'] - base['cpu_us']):.0f}% is the mall process's
(the hello handler costs it {inside['cpu_us'] - base['cpu_us']:.0f} us more there than in a bare process) and the rest our handlers and the page.

{picture}
""")


if __name__ == "__main__":
    main()
