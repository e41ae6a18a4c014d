"""Idempotent schema operations the migration steps are written with: each does nothing when
the database already has what it would create (a fresh database gets tables in their current
shape from an early step, and later steps must then find nothing to do)."""
from __future__ import annotations

import peewee
from playhouse import migrate as pw_migrate

from models.db import is_mysql

MYSQL_TABLE_SETTINGS = ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4", "COLLATE=utf8mb4_unicode_ci"]


def create_tables(db: peewee.Database, *models) -> None:
    for model in models:
        if is_mysql():
            model._meta.table_settings = MYSQL_TABLE_SETTINGS
    db.create_tables(models, safe=True)


def add_column(db: peewee.Database, model, field_name: str) -> None:
    """Add a column declared on `model` unless the table already has it."""
    table = model._meta.table_name
    field = model._meta.fields[field_name]
    if field.column_name in {c.name for c in db.get_columns(table)}:
        return
    migrator = pw_migrate.MySQLMigrator(db) if is_mysql() else pw_migrate.SqliteMigrator(db)
    pw_migrate.migrate(migrator.add_column(table, field.column_name, field))


def add_indexes(db: peewee.Database, model) -> None:
    """Create the indexes declared on `model` that the table does not have yet."""
    have = {index.name for index in db.get_indexes(model._meta.table_name)}
    for index in model._meta.fields_to_index():
        if index._name not in have:
            db.execute(index)


def drop_not_null(db: peewee.Database, model, field_name: str) -> None:
    """Let a column declared `null=True` on `model` hold NULL, unless it already may."""
    table = model._meta.table_name
    column = model._meta.fields[field_name].column_name
    if next(c for c in db.get_columns(table) if c.name == column).null:
        return
    migrator = pw_migrate.MySQLMigrator(db) if is_mysql() else pw_migrate.SqliteMigrator(db)
    pw_migrate.migrate(migrator.drop_not_null(table, column))


def drop_index(db: peewee.Database, model, index_name: str) -> None:
    """Drop an index `model` no longer declares, if the table still has it."""
    table = model._meta.table_name
    if index_name not in {index.name for index in db.get_indexes(table)}:
        return
    migrator = pw_migrate.MySQLMigrator(db) if is_mysql() else pw_migrate.SqliteMigrator(db)
    pw_migrate.migrate(migrator.drop_index(table, index_name))
