"""mall — the shop backend. `python server.py [run|migrate|create-admin|seed-demo|import-ewei]`.

`run` (the default) migrates the schema, then serves REST and /ws on MALL_PORT until SIGTERM or
SIGINT, when it stops accepting, lets in-flight requests finish (up to shutdown_grace_seconds),
closes WebSockets and pools, and exits.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import socket
import sys

import peewee
import pymysql
import tornado.httpserver
import tornado.ioloop
import tornado.netutil
from redis.exceptions import RedisError

from lib import runtime as runtime_module
from lib.config import Config, ConfigError, load_config, redact_url, resolve_jwt_secret
from models.db import UNAVAILABLE_ERRORS, open_database
from models.migrations import database_identity, migrate, schema_version
from services.credentials import LoginLimiter, RegistrationLimiter
from services.wiring import wire

log = logging.getLogger("mall.server")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"

# The HTTP layer drops bodies beyond this hard cap without reading them; below it, handlers
# answer 413 with a JSON body once max_body_bytes is exceeded.
HARD_BODY_CAP_FACTOR = 8

# What a dependency that is down, unreachable or refusing us raises at start-up. Anything else is
# a bug and keeps its traceback.
UNREACHABLE = UNAVAILABLE_ERRORS + (peewee.DatabaseError, pymysql.err.MySQLError, RedisError, OSError,
                                    asyncio.TimeoutError)
DATABASE_HINTS = {  # MySQL error number -> what the operator should check
    1044: "that the user may use this database (GRANT)",
    1045: "the user and password in MALL_DATABASE_URL",
    1049: "that the database exists (deploy/README.md creates it) and its name in MALL_DATABASE_URL",
    2003: "that MariaDB/MySQL is running and listening at that host and port (MALL_DATABASE_URL)",
    2005: "the host name in MALL_DATABASE_URL",
    2013: "that MariaDB/MySQL is running and listening at that host and port (MALL_DATABASE_URL)",
}


class StartupError(Exception):
    """A dependency the server cannot start without: one line naming it, its URL without the
    password, the reason and what to check."""


@contextlib.contextmanager
def dependency(name: str, url: str, hint: str):
    try:
        yield
    except UNREACHABLE as exc:
        number = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        reason = " ".join(str(exc).split()) or type(exc).__name__
        if name == "database":
            hint = DATABASE_HINTS.get(number, hint)
        raise StartupError(f"cannot start: the {name} at {redact_url(url)} is unusable: {reason}; check {hint}") from None


def database_dependency(config: Config):
    return dependency("database", config.database_url, "MALL_DATABASE_URL and that the database server is running")


def open_and_migrate(config: Config, pool_size: int = 20):
    """The database, migrated; a database that cannot be reached is a StartupError."""
    with database_dependency(config):
        db = open_database(config.database_url, pool_size)
        migrate(db)
    return db


class MallServer:
    """One serving process: database, bus, HTTP server, timed jobs. Tests start these too."""

    def __init__(self, config: Config):
        wire()  # the cross-domain reactions (services/wiring.py)
        self.config = config
        self.port: int | None = None
        self.http: tornado.httpserver.HTTPServer | None = None
        self.jobs: list = []

    async def start(self, sockets: list[socket.socket] | None = None, migrate_schema: bool = True) -> None:
        config = self.config
        redis = None
        if config.redis_url:
            import redis.asyncio as aioredis
            from redis.asyncio.retry import Retry
            from redis.backoff import ExponentialBackoff
            from redis.exceptions import ConnectionError as RedisConnectionError
            from redis.exceptions import TimeoutError as RedisTimeoutError

            # A blocking pool: a burst of requests waits for a free connection instead of failing.
            # After a Redis restart every pooled connection is stale: a command retries on a fresh
            # one (3 times, backing off from 50 ms) instead of failing the request that found it.
            pool = aioredis.BlockingConnectionPool.from_url(
                config.redis_url, max_connections=config.redis_pool_size, timeout=5, decode_responses=True,
                socket_connect_timeout=2, socket_timeout=5, health_check_interval=15,
                retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 3),
                retry_on_error=[RedisConnectionError, RedisTimeoutError])
            redis = aioredis.Redis(connection_pool=pool)
            with self._redis_dependency():
                await redis.ping()
        if migrate_schema:
            self.db = open_and_migrate(config, config.database_pool_size)
        else:
            self.db = open_database(config.database_url, config.database_pool_size)
        # every Redis key of this deployment lives under the database's identity: a database
        # recreated (or a new one given the same prefix) starts from no seqs, markers or counts
        identity = database_identity(self.db)
        redis_prefix = f"{config.redis_prefix}db-{identity}:"
        self.runtime = runtime_module.Runtime(
            config=config, jwt_secret=resolve_jwt_secret(config), redis=redis, redis_prefix=redis_prefix,
            database_identity=identity,
            limiter=LoginLimiter(redis, redis_prefix, config.login_failures_per_account,
                                 config.login_failures_per_ip, config.login_window_seconds),
            registrations=RegistrationLimiter(redis, redis_prefix, config.registrations_per_ip_per_hour),
        )
        runtime_module.install(self.runtime)
        with self._redis_dependency():
            await self._start_events()

        from handlers.routes import make_app

        self.http = tornado.httpserver.HTTPServer(
            make_app(config), max_body_size=config.max_body_bytes * HARD_BODY_CAP_FACTOR,
            xheaders=bool(config.behind_proxy),
        )
        if sockets is None:
            sockets = tornado.netutil.bind_sockets(config.port, config.host or None)
        self.http.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        from tasks import start_jobs

        self.jobs = start_jobs(self.runtime)
        log.info("serving on port %s (%s, %s bus)", self.port, "sqlite" if config.is_sqlite else "mysql",
                 "redis" if redis else "in-process")
        base = f"http://{config.host if config.host not in ('', '0.0.0.0', '::') else '127.0.0.1'}:{self.port}"
        for what, path in (("home", "/"), ("API docs", "/api/docs"), ("OpenAPI", "/api/openapi.json"),
                           ("AsyncAPI", "/api/asyncapi.json"), ("WebSocket", "/ws"), ("demo", "/demo/"),
                           ("health", "/api/health")):
            log.info("  %-9s %s%s", what, base.replace("http:", "ws:") if path == "/ws" else base, path)

    def _redis_dependency(self):
        return dependency("Redis", self.config.redis_url, "that Redis is running and reachable there "
                                                          "and the password in MALL_REDIS_URL")

    async def _start_events(self) -> None:
        from events import start_events

        await start_events(self.runtime)

    async def stop(self) -> None:
        from handlers.base import InFlight

        if self.http is not None:
            self.http.stop()  # stop accepting; open connections keep being served
        for job in self.jobs:
            job.stop()
        deadline = asyncio.get_running_loop().time() + self.config.shutdown_grace_seconds
        while InFlight.count > 0 and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        log.info("in-flight requests finished (%d left)", InFlight.count)
        from events import stop_events

        await stop_events(self.runtime)
        from services import counters

        try:
            await counters.flush()
        except Exception:
            log.exception("display counters not written at shutdown")
        if self.http is not None:
            await self.http.close_all_connections()
        log.info("connections closed")
        if self.runtime.redis is not None:
            await self.runtime.redis.aclose()
        await self.db.aio_close()
        log.info("pools closed")


class BatchedLog(logging.Handler):
    """Access lines written in batches: written one by one, each was a write() of its own, as
    costly as the answer itself. A warning or error (4xx/5xx) is written at once with the lines
    before it; `serve` writes the rest every second and at exit."""

    def __init__(self, stream, capacity: int = 256):
        super().__init__()
        self.stream, self.capacity, self.lines = stream, capacity, []
        self.setFormatter(logging.Formatter(LOG_FORMAT))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        if len(self.lines) >= self.capacity or record.levelno >= logging.WARNING:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            lines, self.lines = self.lines, []
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()


def buffer_access_log() -> BatchedLog:
    handler = BatchedLog(sys.stderr)
    access = logging.getLogger("mall.access")
    access.addHandler(handler)
    access.propagate = False
    return handler


async def serve(config: Config) -> None:
    server = MallServer(config)
    await server.start()
    # What start-up built (modules, routes, models, pools) lives as long as the process: frozen,
    # the cyclic collector stops re-scanning it on every collection (half the GC time per request).
    # Collected first, so start-up's own garbage is freed rather than frozen.
    gc.collect()
    gc.freeze()
    access_log = buffer_access_log()
    flusher = tornado.ioloop.PeriodicCallback(access_log.flush, 1000)
    flusher.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("shutting down")
    await server.stop()
    flusher.stop()
    access_log.flush()


async def _create_admin(config: Config, username: str, password: str) -> bool:
    db = open_and_migrate(config)
    runtime_module.install(runtime_module.Runtime(config=config, jwt_secret=""))
    from services.platform import create_or_update_admin

    try:
        _, created = await create_or_update_admin(username, password)
    finally:
        await db.aio_close()
    return created


async def _seed_demo(config: Config) -> dict:
    db = open_and_migrate(config)
    runtime_module.install(runtime_module.Runtime(config=config, jwt_secret=resolve_jwt_secret(config)))
    wire()
    from services.demo import seed_demo

    try:
        return await seed_demo(config)
    finally:
        await db.aio_close()


async def _import_ewei(config: Config, args) -> int:
    db = open_and_migrate(config)
    runtime_module.install(runtime_module.Runtime(config=config, jwt_secret=""))
    from services.importer import run_import

    try:
        shop_id, report = await run_import(args.source, args.uniacid, args.shop_id, args.dry_run, args.prefix,
                                           args.merchid, progress=True)
    except ValueError as exc:
        print(f"import-ewei: {exc}", file=sys.stderr)
        return 2
    finally:
        await db.aio_close()
    for line in report.lines(args.dry_run):
        print(line)
    if shop_id is not None:
        print(f"shop {shop_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="server.py", description="mall shop backend")
    parser.add_argument("--config", help="YAML file overriding config.yaml")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="serve REST and WebSocket (default)")
    commands.add_parser("migrate", help="create or upgrade the schema, then exit")
    admin = commands.add_parser("create-admin", help="create the platform admin or reset its password")
    admin.add_argument("--username", required=True)
    admin.add_argument("--password", required=True)
    commands.add_parser("seed-demo", help="create a demo shop with accounts and print them")
    ewei = commands.add_parser("import-ewei", help="import a shop from an ewei_shopv2 (人人商城) database")
    ewei.add_argument("--source", required=True, help="mysql://user:pass@host[:port]/database")
    ewei.add_argument("--uniacid", required=True, type=int, help="the 微擎 account (the shop) to import")
    ewei.add_argument("--shop-id", type=int, help="import into this shop (default: create one, found again on re-runs)")
    ewei.add_argument("--merchid", type=int, default=0, help="the sub-merchant whose goods/orders to import (0: the main shop)")
    ewei.add_argument("--prefix", default="ims_", help="the source's table prefix")
    ewei.add_argument("--dry-run", action="store_true", help="report what would be imported; write nothing")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        config = load_config(args.config)
        if not config.is_sqlite:
            resolve_jwt_secret(config)  # refuse to start a MySQL deployment without a secret
        command = args.command or "run"
        if command == "migrate":
            with database_dependency(config):
                db = open_database(config.database_url)
                applied = migrate(db)
                version = schema_version(db)
            print(f"schema at version {version}" + (f" (applied {applied})" if applied else " (up to date)"))
        elif command == "create-admin":
            if len(args.password) < 6:
                print("password must be at least 6 characters", file=sys.stderr)
                return 2
            created = asyncio.run(_create_admin(config, args.username, args.password))
            print(f"admin {args.username} {'created' if created else 'updated'}")
        elif command == "import-ewei":
            return asyncio.run(_import_ewei(config, args))
        elif command == "seed-demo":
            for line in asyncio.run(_seed_demo(config))["lines"]:
                print(line)
        else:
            asyncio.run(serve(config))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except StartupError as exc:
        print(exc, file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
