"""Schema migrations: an ordered list of (version, name, step), each applied once and recorded
in `schema_version`. Run on every start and by `server.py migrate`; running again is a no-op.

Steps are written to be idempotent themselves (`create_tables` is "if not exists",
`add_column` skips a column that is there), because a fresh database gets tables in their
current shape from an early step and later steps must then find nothing to do.
Several processes starting at once are serialised by a MySQL named lock.
"""
from __future__ import annotations

import contextlib
import logging

import peewee

from models.db import is_mysql
from models.migrations.schema import create_tables
from models.migrations.steps import MIGRATIONS
from models.system import DatabaseIdentity, SchemaVersion

log = logging.getLogger("mall.migrate")

MIGRATION_LOCK_TIMEOUT_S = 120  # a peer applying a long migration may hold the lock this long


@contextlib.contextmanager
def _migration_lock(db: peewee.Database):
    if not is_mysql():
        yield
        return
    got = db.execute_sql("SELECT GET_LOCK(%s, %s)", ("mall_migrate", MIGRATION_LOCK_TIMEOUT_S)).fetchone()[0]
    if got != 1:
        raise RuntimeError("could not take the migration lock; is another process migrating?")
    try:
        yield
    finally:
        db.execute_sql("SELECT RELEASE_LOCK(%s)", ("mall_migrate",))


def migrate(db: peewee.Database) -> list[int]:
    """Apply pending migrations; returns the versions applied now (empty when up to date)."""
    applied_now: list[int] = []
    with db.allow_sync(), _migration_lock(db):
        create_tables(db, SchemaVersion)
        done = {row[0] for row in SchemaVersion.select(SchemaVersion.version).tuples()}
        for version, name, step in MIGRATIONS:
            if version in done:
                continue
            log.info("applying migration %s %s", version, name)
            step(db)
            SchemaVersion.insert(version=version, name=name).execute()
            applied_now.append(version)
    return applied_now


def schema_version(db: peewee.Database) -> int:
    with db.allow_sync():
        return SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0


def database_identity(db: peewee.Database) -> str:
    """This database's random identity (drawn by migration 14 when its schema was created)."""
    with db.allow_sync():
        return DatabaseIdentity.select(DatabaseIdentity.value).order_by(DatabaseIdentity.id).scalar()
