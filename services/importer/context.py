"""The state one import run shares between its areas: the source, the target shop, the id map,
and the report (rows read / imported / skipped per table, every row not mapped with its reason,
and the sums that must match)."""
from __future__ import annotations

import dataclasses
import sys
from collections import defaultdict
from typing import Any

from models.base import utcnow
from models.importer import ImportMap
from models.prepared import insert_rows
from services.importer.source import Source

MAX_PROBLEMS_SHOWN = 200
@dataclasses.dataclass
class Counts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # mapped by an earlier (or killed) run and the same at the source: not written again
    skipped: int = 0


class Report:
    def __init__(self) -> None:
        self.tables: dict[str, Counts] = defaultdict(Counts)
        self.problems: list[tuple[str, Any, str]] = []
        self.sums: dict[str, list[int]] = {}  # name -> [source, imported]
        self.notes: list[str] = []

    def read(self, table: str, n: int = 1) -> None:
        self.tables[table].read += n

    def done(self, table: str, created: bool) -> None:
        if created:
            self.tables[table].created += 1
        else:
            self.tables[table].updated += 1

    def skip(self, table: str, source_id: Any, reason: str) -> None:
        self.tables[table].skipped += 1
        self.problems.append((table, source_id, reason))

    def problem(self, table: str, source_id: Any, reason: str) -> None:
        """Imported, but not all of it: said so."""
        self.problems.append((table, source_id, reason))

    def add_sum(self, name: str, source: int, imported: int) -> None:
        pair = self.sums.setdefault(name, [0, 0])
        pair[0] += source
        pair[1] += imported

    def as_dict(self) -> dict:
        return {"tables": {t: dataclasses.asdict(c) for t, c in self.tables.items()},
                "problems": [{"table": t, "source_id": i, "reason": r} for t, i, r in self.problems],
                "sums": {k: {"source": v[0], "imported": v[1]} for k, v in self.sums.items()}, "notes": self.notes}

    def lines(self, dry_run: bool) -> list[str]:
        out = ["DRY RUN: nothing was written; what a real run would do:" if dry_run else "import finished"]
        out.append(f"{'table':<28}{'read':>9}{'created':>9}{'updated':>9}{'unchanged':>10}{'skipped':>9}")
        for table, c in self.tables.items():
            out.append(f"{table:<28}{c.read:>9}{c.created:>9}{c.updated:>9}{c.unchanged:>10}{c.skipped:>9}")
        out.append("reconciliation (fen / points):")
        for name, (source, imported) in self.sums.items():
            out.append(f"  {name:<30} source {source:>14}  imported {imported:>14}  "
                       f"{'OK' if source == imported else 'MISMATCH'}")
        for note in self.notes:
            out.append(f"note: {note}")
        if self.problems:
            out.append(f"rows not mapped or mapped in part ({len(self.problems)}):")
            for table, source_id, reason in self.problems[:MAX_PROBLEMS_SHOWN]:
                out.append(f"  {table} #{source_id}: {reason}")
            if len(self.problems) > MAX_PROBLEMS_SHOWN:
                out.append(f"  ... and {len(self.problems) - MAX_PROBLEMS_SHOWN} more")
        return out


class Context:
    def __init__(self, source: Source, shop_id: int, uniacid: int, merchid: int, dry_run: bool,
                 progress: bool = False) -> None:
        self.source, self.shop_id, self.uniacid, self.merchid = source, shop_id, uniacid, merchid
        self.dry_run = dry_run
        self.progress = progress
        self.report = Report()
        self._maps: dict[str, dict[str, tuple[int, str]]] = {}
        self.member_by_openid: dict[str, int] = {}  # a raw source openid (as orders join on it) -> our member
        self.member_by_source: dict[int, int] = {}  # ewei_shop_member.id -> our member
        self.agent_of: dict[int, int] = {}  # ewei_shop_member.id -> its referrer's ewei id (loops broken)

    async def load_map(self, table: str) -> dict[str, tuple[int, str]]:
        if table not in self._maps:
            rows = await ImportMap.select(ImportMap.source_id, ImportMap.target_id, ImportMap.value).where(
                (ImportMap.shop_id == self.shop_id) & (ImportMap.source_table == table)).aio_execute()
            self._maps[table] = {row.source_id: (row.target_id, row.value) for row in rows}
        return self._maps[table]

    async def page_map(self, table: str, source_ids: list) -> dict[str, tuple[int, str]]:
        """The map rows of one page of a large table (read per page: the whole map of a table
        with millions of rows is not kept in memory)."""
        keys = [str(i) for i in source_ids]
        if not keys:
            return {}
        rows = await ImportMap.select(ImportMap.source_id, ImportMap.target_id, ImportMap.value).where(
            (ImportMap.shop_id == self.shop_id) & (ImportMap.source_table == table)
            & ImportMap.source_id.in_(keys)).aio_execute()
        return {row.source_id: (row.target_id, row.value) for row in rows}

    async def remember_page(self, table: str, fresh: dict[str, tuple[int, str]],
                            moved: dict[str, tuple[int, str]]) -> None:
        """Inside the page's transaction: one multi-row INSERT for the rows this page created,
        an UPDATE for each one it changed (a re-run changes few)."""
        if fresh:
            now = utcnow()
            await insert_rows(ImportMap, [{"shop_id": self.shop_id, "source_table": table, "source_id": key,
                                           "target_id": target, "value": value, "updated_at": now}
                                          for key, (target, value) in fresh.items()])
        for key, (target, value) in moved.items():
            await ImportMap.update(target_id=target, value=value, updated_at=utcnow()).where(
                (ImportMap.shop_id == self.shop_id) & (ImportMap.source_table == table)
                & (ImportMap.source_id == key)).aio_execute()

    async def target(self, table: str, source_id: Any) -> int | None:
        found = (await self.load_map(table)).get(str(source_id))
        return found[0] if found else None

    async def value(self, table: str, source_id: Any) -> str:
        found = (await self.load_map(table)).get(str(source_id))
        return found[1] if found else ""

    async def remember(self, table: str, source_id: Any, target_id: int, value: str = "") -> None:
        """Record (or move) source row -> our row, inside the caller's transaction."""
        mapping = await self.load_map(table)
        key = str(source_id)
        if key in mapping:
            if mapping[key] != (target_id, value):
                await ImportMap.update(target_id=target_id, value=value, updated_at=utcnow()).where(
                    (ImportMap.shop_id == self.shop_id) & (ImportMap.source_table == table)
                    & (ImportMap.source_id == key)).aio_execute()
        else:
            await ImportMap.insert(shop_id=self.shop_id, source_table=table, source_id=key, target_id=target_id,
                                   value=value).aio_execute()
        mapping[key] = (target_id, value)

    async def upsert(self, table: str, source_id: Any, model, values: dict, value: str = "") -> tuple[int, bool]:
        """Create the row for a source row, or update the one an earlier run created: (id, created)."""
        existing = await self.target(table, source_id)
        if existing is not None:
            changed = await model.update(**values).where((model.id == existing)
                                                         & (model.shop_id == self.shop_id)).aio_execute()
            if changed:
                await self.remember(table, source_id, existing, value)
                self.report.done(table, created=False)
                return existing, False
        row = await model.aio_create(shop_id=self.shop_id, **values)
        await self.remember(table, source_id, row.id, value)
        self.report.done(table, created=True)
        return row.id, True

    def forget_cache(self) -> None:
        """After a rolled-back page the cached map may name rows that are gone: read it again."""
        self._maps.clear()

    def progress_bar(self, table: str, total: int):
        """A rich bar on a terminal; elsewhere (a log, a pipe) a line at every tenth done."""
        if not self.progress:
            return _NoBar()
        if not sys.stderr.isatty():
            return _LineBar(table, total)
        from rich.progress import Progress

        bar = Progress(transient=False)
        bar.start()
        task = bar.add_task(table, total=total)
        return _Bar(bar, task)


class _NoBar:
    def advance(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


class _LineBar:
    def __init__(self, table: str, total: int) -> None:
        self.table, self.total, self.done, self.shown = table, total, 0, -1

    def advance(self, n: int) -> None:
        self.done += n
        tenth = self.done * 10 // self.total if self.total else 10
        if tenth != self.shown:
            self.shown = tenth
            print(f"{self.table}: {self.done}/{self.total} ({self.done * 100 // max(self.total, 1)}%)",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class _Bar:
    def __init__(self, bar, task) -> None:
        self.bar, self.task = bar, task

    def advance(self, n: int) -> None:
        self.bar.advance(self.task, n)

    def close(self) -> None:
        self.bar.stop()
