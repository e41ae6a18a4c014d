"""Prepared statements for the hot paths: reads by key and multi-row INSERTs.

The hot paths (every shopper request reads its member; every order its goods and address)
read one row by key. Building that SQL with peewee on every call and turning the row into a
model through its cursor wrapper costs several times the round trip itself: on MariaDB a member
by id took 873 us of CPU through `aio_get_or_none` against 294 us for the same SQL sent as text
(`bench/orders.py --profile` shows the share). `PreparedGet` builds the SQL once through peewee,
so quoting and placeholders stay each backend's own and the query reads like any other, and
converts the row's columns with the fields' own `python_value`.

Every column of the model is selected: what callers get is the same model instance a peewee
read gives, never a partial row whose missing fields would silently read as None.

`insert_rows` is the write side: peewee builds a multi-row INSERT value by value (about 4-14 us a
value; an order row has 43 columns), so the statement is written once as placeholders and the
values converted by the model's own fields. Every order batch, every transaction's outbox events
and the importer's pages go through it.
"""
from __future__ import annotations

import functools
import operator
from typing import Generic, TypeVar

import peewee

from models.db import database

M = TypeVar("M", bound=peewee.Model)


class PreparedGet(Generic[M]):
    """`model` rows where every `keys` field equals the value given (and `where`, a condition
    without parameters, e.g. `Goods.deleted_at.is_null()`, holds)."""

    def __init__(self, model: type[M], *keys: peewee.Field, where: peewee.Expression | None = None):
        self.model, self.keys, self.where = model, keys, where
        self.fields = model._meta.sorted_fields
        self._built: dict[type, str] = {}  # the SQL per kind of database (its quoting and placeholders)

    def _sql(self) -> str:
        db = database.obj
        sql = self._built.get(type(db))
        if sql is None:
            placeholder = peewee.SQL(db.param)
            condition = functools.reduce(operator.and_, [key == placeholder for key in self.keys])
            if self.where is not None:
                condition &= self.where
            sql, params = self.model.select(*self.fields).where(condition).limit(1).sql()
            if params != [1]:  # only LIMIT's own: conditions must carry no values of their own
                raise ValueError(f"{self.model.__name__}: `where` must not carry parameters")
            self._built[type(db)] = sql
        return sql

    async def get(self, *values) -> M | None:
        row = await database.aio_execute_sql(self._sql(), [*values, 1], fetch_results=_fetch_one)
        if row is None:
            return None
        instance = self.model(__no_default__=1, **{field.name: value if value is None else field.python_value(value)
                                                   for field, value in zip(self.fields, row)})
        instance._dirty.clear()  # as peewee's own reads leave it: nothing changed yet
        return instance


MAX_PARAMS_PER_INSERT = 20_000  # under SQLite's 32,766 bound variables


async def insert_rows(model: type[peewee.Model], rows: list[dict]) -> None:
    """INSERT the rows (dicts of model field names, as `Model(...).__data__` holds them; a field
    left out takes its default, a callable one called per row as peewee does) in as few
    statements as fit. A name the model has no field for is a ValueError, not silently dropped."""
    if not rows:
        return
    db = database.obj
    key = model._meta.primary_key
    fields = [f for f in model._meta.sorted_fields if f is not key or key.name in rows[0]]
    unknown = {name for row in rows for name in row} - model._meta.fields.keys()
    if unknown:
        raise ValueError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    quote = db.quote[0]
    columns = ", ".join(f"{quote}{f.column_name}{quote}" for f in fields)
    one = "(" + ", ".join([db.param] * len(fields)) + ")"
    per_statement = max(1, MAX_PARAMS_PER_INSERT // len(fields))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        params = [f.db_value(row[f.name] if f.name in row else _default(f)) for row in chunk for f in fields]
        sql = f"INSERT INTO {quote}{model._meta.table_name}{quote} ({columns}) VALUES {', '.join([one] * len(chunk))}"
        await db.aio_execute_sql(sql, params)


def _default(field: peewee.Field):
    return field.default() if callable(field.default) else field.default


async def _fetch_one(db, cursor):
    return await cursor.fetchone()
