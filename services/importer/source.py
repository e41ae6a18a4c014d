"""Reading an ewei_shopv2 (人人商城, on 微擎) database: the columns that exist in this version,
keyset pages, and the conversions every area needs (yuan -> fen, unix time, PHP-serialized
columns, prefixed openids)."""
from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Iterator
from urllib.parse import unquote, urlparse

import phpserialize
import pymysql
import pymysql.cursors

PAGE_SIZE = 1000
# openid prefixes ewei writes for members who came from another app: mini-program, WeChat
# open-platform app, QQ. A bare openid is the official account's.
OPENID_PREFIXES = {"sns_wa_": "wa", "sns_wx_": "wx", "sns_qq_": "qq"}


class Source:
    """One source database, read with pymysql. Tables are named without the prefix."""

    def __init__(self, url: str, prefix: str = "ims_"):
        parsed = urlparse(url)
        if parsed.scheme not in ("mysql", "mariadb"):
            raise ValueError("--source must be a mysql://user:pass@host[:port]/database URL")
        self.prefix = prefix
        self.conn = pymysql.connect(
            host=parsed.hostname or "127.0.0.1", port=parsed.port or 3306, user=unquote(parsed.username or "root"),
            password=unquote(parsed.password or ""), database=parsed.path.lstrip("/"), charset="utf8mb4",
            cursorclass=pymysql.cursors.DictCursor, autocommit=True)
        self.columns: dict[str, set[str]] = {}
        for row in self.query("SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM INFORMATION_SCHEMA.COLUMNS "
                              "WHERE TABLE_SCHEMA = DATABASE()"):
            if row["t"].startswith(prefix):
                self.columns.setdefault(row["t"][len(prefix):], set()).add(row["c"])

    def close(self) -> None:
        self.conn.close()

    def query(self, sql: str, params: tuple | list = ()) -> list[dict]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def has(self, table: str, column: str | None = None) -> bool:
        cols = self.columns.get(table)
        return cols is not None and (column is None or column in cols)

    def _select(self, table: str, wanted: list[str]) -> str:
        present = [c for c in wanted if c in self.columns.get(table, ())]
        return ", ".join(f"`{c}`" for c in present) or "*"

    def _where(self, table: str, where: dict) -> tuple[str, list]:
        """Equality filters on the columns this version has (a filter on a missing column is dropped)."""
        parts, params = [], []
        for column, value in where.items():
            if not self.has(table, column):
                continue
            if isinstance(value, (list, tuple, set)):
                if not value:
                    return "1 = 0", []
                parts.append(f"`{column}` IN ({', '.join(['%s'] * len(value))})")
                params.extend(value)
            else:
                parts.append(f"`{column}` = %s")
                params.append(value)
        return " AND ".join(parts) or "1 = 1", params

    def count(self, table: str, where: dict) -> int:
        if not self.has(table):
            return 0
        clause, params = self._where(table, where)
        return self.query(f"SELECT COUNT(*) AS n FROM `{self.prefix}{table}` WHERE {clause}", params)[0]["n"]

    def rows(self, table: str, columns: list[str], where: dict) -> list[dict]:
        """All matching rows (for small tables and IN-lists of one page); missing columns read as None."""
        if not self.has(table):
            return []
        clause, params = self._where(table, where)
        found = self.query(f"SELECT {self._select(table, columns)} FROM `{self.prefix}{table}` WHERE {clause}", params)
        return [{c: row.get(c) for c in columns} for row in found]

    def pages(self, table: str, columns: list[str], where: dict, key: str = "id",
              size: int = PAGE_SIZE) -> Iterator[list[dict]]:
        """Keyset pages in `key` order: constant cost per page however large the table."""
        if not self.has(table):
            return
        clause, params = self._where(table, where)
        select = self._select(table, list(dict.fromkeys([key, *columns])))
        last: Any = None
        while True:
            after = "" if last is None else f" AND `{key}` > %s"
            page = self.query(f"SELECT {select} FROM `{self.prefix}{table}` WHERE {clause}{after} "
                              f"ORDER BY `{key}` LIMIT {int(size)}", params + ([] if last is None else [last]))
            if not page:
                return
            yield [{c: row.get(c) for c in dict.fromkeys([key, *columns])} for row in page]
            last = page[-1][key]


def fen(value: Any) -> int:
    """decimal yuan (Decimal, or a string such as '19.90') -> integer fen, exactly; never float."""
    if value is None or value == "":
        return 0
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        return 0
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def whole(value: Any) -> int:
    """A points count stored as decimal(10,2): whole points (a fraction is dropped, and reported by the caller)."""
    if value is None or value == "":
        return 0
    return int(Decimal(str(value)).to_integral_value(rounding="ROUND_DOWN"))


def moment(ts: Any) -> datetime.datetime | None:
    """unix seconds -> naive UTC; 0 or empty means "never"."""
    try:
        seconds = int(ts or 0)
    except (TypeError, ValueError):
        return None
    if seconds <= 0:
        return None
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).replace(tzinfo=None)


def unphp(text: Any) -> Any:
    """A PHP-serialized column, unserialized with phpserialize (never eval); None when it is not one."""
    if text is None or text == "":
        return None
    raw = text.encode() if isinstance(text, str) else bytes(text)
    try:
        return phpserialize.loads(raw, decode_strings=True)
    except Exception:
        return None


def php_list(value: Any) -> list:
    """A PHP array that is a list ({0: a, 1: b}) as a Python list."""
    if isinstance(value, dict):
        return [value[k] for k in sorted(value, key=lambda k: (not isinstance(k, int), k))]
    return list(value) if isinstance(value, (list, tuple)) else []


def split_openid(raw: str | None) -> tuple[str, str]:
    """('oa' | 'wa' | 'wx' | 'qq' | '', bare openid): which app an ewei openid belongs to."""
    if not raw:
        return "", ""
    for prefix, kind in OPENID_PREFIXES.items():
        if raw.startswith(prefix):
            return kind, raw[len(prefix):]
    return "oa", raw


def clip(value: Any, length: int) -> str:
    return str(value or "")[:length]
