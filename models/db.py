"""One database handle for both backends, opened from a URL.

`sqlite:///path` runs embedded; `mysql://user:pass@host:port/db` runs on an aiomysql pool.
Models bind to `database` (a proxy) so that the same code runs on either.

SQLite allows one writer at a time. Within our single embedded process we therefore serialise
write transactions with an asyncio lock and open them with BEGIN IMMEDIATE: a deferred BEGIN
that reads first and writes later can fail with SQLITE_BUSY_SNAPSHOT when another connection
committed in between, and busy_timeout does not retry that case.
"""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any, AsyncIterator
from urllib.parse import unquote, urlparse

import aiosqlite
import peewee
import pymysql
from peewee_async import MySQLDatabase, SqliteDatabase
from peewee_async.connection import connection_context
from peewee_async.pool import PoolBackend
from peewee_async.transactions import Transaction
from pymysql.constants import CLIENT

from lib.config import ROOT, ConfigError

database = peewee.DatabaseProxy()

# Errors meaning "the database is unreachable or went away", answered with 503, never 500.
# pymysql's own classes too: a ROLLBACK on a connection that just died raises them unwrapped
# (peewee-async's Transaction runs it outside peewee's exception wrapper).
UNAVAILABLE_ERRORS = (peewee.OperationalError, peewee.InterfaceError, pymysql.err.OperationalError,
                      pymysql.err.InterfaceError)

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    # a reader/writer outside the write lock waits this long (ms) for the lock holder
    "PRAGMA busy_timeout=10000",
)
SQLITE_POOL_SIZE = 8  # idle connections kept open; each aiosqlite connection is a thread


class SqlitePoolBackend(PoolBackend):
    """Keeps aiosqlite connections open (peewee-async opens a new thread per query otherwise)."""

    required_modules = ["aiosqlite"]

    async def create(self) -> None:
        self.pool = self
        self.closed = False
        self._idle: list[aiosqlite.Connection] = []
        self._in_use = 0

    async def acquire(self) -> Any:
        if self.pool is None:
            await self.connect()
        if self.closed:
            raise peewee.InterfaceError("database is closed")
        self._in_use += 1
        if self._idle:
            return self._idle.pop()
        conn = await aiosqlite.connect(self.database, isolation_level=None, **self.connect_params)
        for pragma in SQLITE_PRAGMAS:
            await conn.execute(pragma)
        return conn

    async def release(self, conn: Any) -> None:
        self._in_use -= 1
        if self.closed or len(self._idle) >= SQLITE_POOL_SIZE:
            await conn.close()
        else:
            self._idle.append(conn)

    def has_acquired_connections(self) -> bool:
        return self._in_use > 0

    async def close(self) -> None:
        if self.pool is None:
            return
        self.closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
        self.pool = None


class _ImmediateTransaction(Transaction):
    async def begin(self) -> None:
        await self.execute(f"SAVEPOINT {self.savepoint}" if self.savepoint else "BEGIN IMMEDIATE")


class EmbeddedDatabase(SqliteDatabase):
    pool_backend_cls = SqlitePoolBackend

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, pragmas=[("foreign_keys", 1), ("journal_mode", "wal"), ("busy_timeout", 10000)], **kwargs)
        self._write_lock: asyncio.Lock | None = None

    @contextlib.asynccontextmanager
    async def _aio_atomic(self, use_savepoint: bool = False) -> AsyncIterator[None]:
        ctx = connection_context.get()
        if ctx is not None and ctx.transaction_is_opened:
            if not use_savepoint:
                raise peewee.OperationalError("Transaction already opened")
            async with Transaction(ctx.connection, is_savepoint=True):
                yield
            return
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        async with self._write_lock, self.aio_connection() as connection:
            ctx = connection_context.get()
            ctx.transaction_is_opened = True
            try:
                async with _ImmediateTransaction(connection):
                    yield
            finally:
                ctx.transaction_is_opened = False


class ServerDatabase(MySQLDatabase):
    """MySQL/MariaDB over aiomysql. READ COMMITTED: our writes are conditional updates that
    re-check their own condition, so we need no gap locks, and they cost deadlocks under load."""

    def init_pool_params_defaults(self) -> None:
        super().init_pool_params_defaults()
        self.pool_params.update({
            "charset": "utf8mb4",
            "init_command": "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
        })


def open_database(url: str, pool_size: int = 20) -> peewee.Database:
    """Build (not connect) the database for a URL and bind the models' proxy to it."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = Path(url.split("sqlite:///", 1)[1])
        path = path if path.is_absolute() else ROOT / path
        path.parent.mkdir(parents=True, exist_ok=True)
        db = EmbeddedDatabase(str(path))
    elif parsed.scheme in ("mysql", "mariadb"):
        db = ServerDatabase(
            parsed.path.lstrip("/"),
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 3306,
            user=unquote(parsed.username or "root"),
            password=unquote(parsed.password or ""),
            charset="utf8mb4",
            connect_timeout=5,
            # rows "matched", not "changed", as SQLite counts: a conditional UPDATE that matches
            # a row reports 1 even when the values happen to be unchanged
            client_flag=CLIENT.FOUND_ROWS,
            pool_params={"minsize": 1, "maxsize": pool_size, "pool_recycle": 3600},
        )
    else:
        raise ConfigError(f"MALL_DATABASE_URL: unsupported scheme {parsed.scheme!r} (sqlite:/// or mysql://)")
    database.initialize(db)
    return db


def is_mysql() -> bool:
    return isinstance(database.obj, MySQLDatabase)


# MySQL: deadlock victim, lock wait timeout. The whole transaction was rolled back; run it again.
RETRYABLE_MYSQL_ERRORS = (1213, 1205)
SAVEPOINT_GONE = 1305  # "SAVEPOINT ... does not exist"

# peewee wraps the driver's errors for statements it runs; a transaction's BEGIN, COMMIT and
# ROLLBACK (TO SAVEPOINT) go straight to the driver and raise its own class
OPERATIONAL_ERRORS = (peewee.OperationalError, pymysql.err.OperationalError)


def _code(exc: BaseException | None) -> int | None:
    return exc.args[0] if isinstance(exc, OPERATIONAL_ERRORS) and exc.args else None


def _retryable(exc: BaseException) -> bool:
    """A deadlock, or a deadlock hidden behind the failed rollback of a savepoint: MySQL rolls
    the whole transaction back on a deadlock, savepoints included, so the savepoint's ROLLBACK TO
    (run while the deadlock propagates) fails with 1305 and carries the deadlock as its context."""
    if _code(exc) in RETRYABLE_MYSQL_ERRORS:
        return True
    if _code(exc) != SAVEPOINT_GONE:
        return False
    cause = exc.__context__
    while cause is not None and _code(cause) not in RETRYABLE_MYSQL_ERRORS:
        cause = cause.__context__
    return cause is not None


async def retry_on_deadlock(operation, attempts: int = 4):
    """Run `operation` (a coroutine function that opens its own transaction) again when MySQL
    chose it as a deadlock victim; SQLite serialises writers and never needs this. Services use
    `events.transaction`, which calls this only for the outermost transaction."""
    import random

    for attempt in range(attempts):
        try:
            return await operation()
        except OPERATIONAL_ERRORS as exc:
            if not _retryable(exc) or attempt + 1 == attempts:
                raise
            await asyncio.sleep(random.uniform(0.005, 0.02) * (2 ** attempt))
