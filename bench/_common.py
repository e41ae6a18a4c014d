"""Shared bits of the benchmarks: machine description, BENCHMARKS.md sections, server processes."""
from __future__ import annotations

import os
import platform
import re
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"
# where every benchmark runs its servers (a fresh database per run; Redis db 14 and a run prefix)
MYSQL_URL = os.environ.get("MALL_BENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test")
REDIS_URL = os.environ.get("MALL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    mem_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    import tornado

    return (f"{os.cpu_count()} cores ({cpu.group(1).strip() if cpu else platform.machine()}), "
            f"{mem_kib / 1024 / 1024:.0f} GiB RAM, Python {platform.python_version()}, Tornado {tornado.version}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far: a figure per request that other load on a
    shared machine barely moves, unlike a rate."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def write_section(name: str, body: str) -> None:
    """Replace (or append) the `## name` section of BENCHMARKS.md."""
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n\nEach section is written by its script in `bench/`.\n"
    section = f"## {name}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(name)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(section + "\n", text) if pattern.search(text) else text.rstrip() + "\n\n" + section
    BENCHMARKS.write_text(text.rstrip() + "\n")


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stdout.read() if process.stdout else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not start")


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True)


def insert_buyers(conn, shop_id: int, count: int, secret: str, balance_fen: int = 0) -> list[tuple[str, int]]:
    """Members with an address straight into the database, each with a member token (hashing
    passwords for hundreds of buyers would only time argon2). Returns (token, address id) pairs."""
    import jwt

    buyers = []
    with conn.cursor() as cur:
        cur.execute("SELECT value FROM database_identity LIMIT 1")  # tokens carry it (services/credentials.py)
        identity = cur.fetchone()[0]
        for i in range(count):
            cur.execute("INSERT INTO member (shop_id, nickname, avatar, balance_fen, points, gender, total_spent_fen, "
                        "commission_fen, commission_frozen_fen, is_blacklisted, tags, is_active, token_version, "
                        "created_at) VALUES (%s, %s, '', %s, 0, 0, 0, 0, 0, 0, '[]', 1, 1, NOW())",
                        (shop_id, f"b{i}", balance_fen))
            member_id = cur.lastrowid
            cur.execute("INSERT INTO address (shop_id, member_id, name, mobile, province, city, district, detail, "
                        "is_default, created_at) VALUES (%s, %s, 'b', '13800000000', 'p', 'c', 'd', 'x', 1, NOW())",
                        (shop_id, member_id))
            now = int(time.time())
            token = jwt.encode({"aud": "member", "sub": str(member_id), "ver": 1, "iat": now, "exp": now + 3600,
                                "shop_id": shop_id, "dbi": identity}, secret, algorithm="HS256")
            buyers.append((token, cur.lastrowid))
    return buyers


class MallProcess:
    """`server.py` in a process of its own on MariaDB + Redis with a fresh database, an admin, and a
    shop with its owner signed in. `call()` is a blocking JSON client for setting things up."""

    def __init__(self, name: str, mysql_url: str, redis_url: str, pool_size: int = 20, command_prefix: str = ""):
        import uuid
        from urllib.parse import urlparse

        import pymysql

        self.run_id = uuid.uuid4().hex[:8]
        parsed = urlparse(mysql_url)
        self.db_params = dict(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username or "root",
                              password=parsed.password or "")
        self.db = f"bench_{name}_{self.run_id}"
        self.admin = pymysql.connect(autocommit=True, **self.db_params)
        self.admin.cursor().execute(f"CREATE DATABASE `{self.db}` CHARACTER SET utf8mb4")
        self.secret = uuid.uuid4().hex * 2
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MALL_")}
        self.env.update(MALL_DATABASE_URL=parsed._replace(path=f"/{self.db}").geturl(), MALL_REDIS_URL=redis_url,
                        MALL_REDIS_PREFIX=f"bench-{self.run_id}:", MALL_JWT_SECRET=self.secret, MALL_HOST="127.0.0.1",
                        MALL_DATABASE_POOL_SIZE=str(pool_size))
        self.port = free_port()
        self.siblings: list[subprocess.Popen] = []
        run(["server.py", "create-admin", "--username", "bench", "--password", "bench-password"], self.env)
        (ROOT / "data").mkdir(exist_ok=True)
        self.process = subprocess.Popen([sys.executable, *command_prefix.split(), "server.py"], cwd=ROOT,
                                        env={**self.env, "MALL_PORT": str(self.port)},
                                        stdout=open(ROOT / "data" / f"bench-{name}-server.log", "w"),
                                        stderr=subprocess.STDOUT)
        try:
            wait_listening(self.port, self.process)
            admin_token = self.call("POST", "/api/admin/auth/login",
                                    {"username": "bench", "password": "bench-password"})["token"]
            self.shop = self.call("POST", "/api/admin/shops", {"name": "Bench", "owner_username": f"bench_{self.run_id}",
                                                               "owner_password": "bench-password"}, admin_token)
            self.owner = self.call("POST", "/api/merchant/auth/login",
                                   {"username": f"bench_{self.run_id}", "password": "bench-password"})["token"]
        except BaseException:
            self.close()
            raise

    def call(self, method: str, path: str, body=None, token: str | None = None) -> dict:
        import json
        import urllib.request

        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json",
                                                  **({"Authorization": f"Bearer {token}"} if token else {})})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"{}")

    def connect(self):
        import pymysql

        return pymysql.connect(autocommit=True, database=self.db, **self.db_params)

    def sibling(self) -> subprocess.Popen:
        """Another server.py on the same database and Redis prefix (the scaled-out form); listening
        on `.port` when this returns. Stopped by `close()`."""
        port = free_port()
        process = subprocess.Popen([sys.executable, "server.py"], cwd=ROOT, env={**self.env, "MALL_PORT": str(port)},
                                   stdout=open(ROOT / "data" / f"bench-sibling-{port}.log", "w"), stderr=subprocess.STDOUT)
        process.port = port
        wait_listening(port, process)
        self.siblings.append(process)
        return process

    def close(self) -> None:
        for process in [self.process, *self.siblings]:
            process.terminate()
        for process in [self.process, *self.siblings]:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                print("server did not stop within 60 s of SIGTERM; killed", flush=True)
                process.kill()
                process.wait(10)
        self.admin.cursor().execute(f"DROP DATABASE IF EXISTS `{self.db}`")


def nginx_config(directory: Path, listen_port: int, upstream_ports: list[int], worker_connections: int = 4096) -> str:
    """deploy/nginx/mall.conf with these ports, inside a minimal nginx.conf that keeps every file
    nginx writes in `directory` (the deployment test runs the shipped site the same way)."""
    import re

    site = (ROOT / "deploy" / "nginx" / "mall.conf").read_text()
    shipped = re.findall(r"\n *server 127\.0\.0\.1:\d+[^\n]*", site)
    assert len(shipped) >= len(upstream_ports), "deploy/nginx/mall.conf names fewer upstream servers"
    for index, line in enumerate(shipped):  # ours in the shipped lines; the ones beyond removed
        site = site.replace(line, re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{upstream_ports[index]}", line)
                            if index < len(upstream_ports) else "", 1)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{listen_port};")
    temp = " ".join(f"{kind}_temp_path {directory}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    path = directory / "nginx.conf"
    # worker_connections counts the upstream side too: a proxied WebSocket takes two
    files = f"worker_rlimit_nofile {worker_connections + 64};\n" if worker_connections > 4096 else ""
    path.write_text(f"worker_processes 1;\n{files}pid {directory}/nginx.pid;\nerror_log {directory}/error.log warn;\n"
                    f"events {{ worker_connections {worker_connections}; }}\nhttp {{\naccess_log off;\n{temp}\n{site}\n}}\n")
    os.chmod(directory, 0o777)
    return str(path)


class Nginx:
    """Debian's nginx running the shipped site in front of `upstream_ports`, on `.port`."""

    def __init__(self, upstream_ports: list[int], worker_connections: int = 4096):
        import shutil
        import tempfile

        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.directory = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.port = free_port()
        self.process = subprocess.Popen([binary, "-g", "daemon off;", "-c",
                                         nginx_config(self.directory, self.port, upstream_ports,
                                                      worker_connections)])
        wait_listening(self.port, self.process)

    def pids(self) -> list[int]:
        """The master and its workers (the workers do the proxying), for cpu_seconds()."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return [self.process.pid, *map(int, children)]

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def chart(name: str, draw) -> str:
    """Draw a PNG with matplotlib into docs/bench/{name}.png (`draw(axes)` fills it) and return the
    Markdown that shows it in BENCHMARKS.md. People read a chart faster than a table."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = ROOT / "docs" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(figsize=(7, 3.6), dpi=110)
    draw(axes)
    axes.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(folder / f"{name}.png")
    plt.close(figure)
    return f"![{name}](docs/bench/{name}.png)"


# ---------------------------------------------------------------- sampling profiles (py-spy)
# Where a sample's innermost frame lives -> the layer it is counted against. First match wins.
LAYERS = [  # py-spy frames read "function (package/module.py:line)"
    ("MySQL driver (aiomysql, pymysql)", ("(aiomysql/", "(pymysql/")),
    ("SQL building (peewee, peewee-async)", ("(peewee.py", "(peewee_async/", "(playhouse/")),
    ("Redis client", ("(redis/",)),
    ("validation (pydantic)", ("(pydantic",)),
    ("JSON", ("(json/", "(orjson")),
    ("tokens (PyJWT)", ("(jwt/",)),
    ("HTTP server (tornado)", ("(tornado/",)),
    ("asyncio event loop", ("(asyncio/", "(selectors.py")),
    ("mall code", ("(handlers/", "(services/", "(models/", "(events/", "(lib/", "(tasks/", "(server.py")),
]


class Profiler:
    """`py-spy record` attached to a running process, as folded stacks; `layers()` says where
    the CPU time went, `functions()` which of our functions (inclusive) took it."""

    def __init__(self, pid: int, path: Path, rate: int = 250):
        import shutil

        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.path = path
        self.process = subprocess.Popen([spy, "record", "--pid", str(pid), "--rate", str(rate), "--format", "raw",
                                         "--output", str(path), "--nonblocking"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)  # attached before the load starts

    def stop(self) -> list[tuple[list[str], int]]:
        import signal

        self.process.send_signal(signal.SIGINT)
        self.process.wait(60)
        stacks = []
        for line in self.path.read_text().splitlines():
            frames, _, count = line.rpartition(" ")
            if frames:
                stacks.append((frames.split(";"), int(count)))
        return stacks

    @staticmethod
    def layers(stacks) -> list[tuple[str, float]]:
        totals: dict[str, int] = {}
        for frames, count in stacks:
            leaf = frames[-1]
            layer = next((name for name, marks in LAYERS if any(m in leaf for m in marks)), "other (stdlib, C)")
            totals[layer] = totals.get(layer, 0) + count
        everything = sum(totals.values()) or 1
        return sorted(((name, 100 * n / everything) for name, n in totals.items()), key=lambda x: -x[1])

    @staticmethod
    def functions(stacks, marks=("(services/", "(handlers/", "(events/", "(models/"), top: int = 12):
        totals: dict[str, int] = {}
        for frames, count in stacks:
            names = {re.sub(r":\d+\)$", ")", f) for f in frames if any(m in f for m in marks)}
            for name in names:
                totals[name] = totals.get(name, 0) + count
        everything = sum(count for _, count in stacks) or 1
        return sorted(((name, 100 * n / everything) for name, n in totals.items()), key=lambda x: -x[1])[:top]
