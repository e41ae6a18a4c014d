"""Import a running 人人商城 (ewei_shopv2 on 微擎) shop: `python server.py import-ewei`.

One source `uniacid` becomes one shop here (created on the first run, found again after).
Areas run in dependency order, each page of source rows in its own transaction together with
its id-map rows, so a killed run resumes by running again, and a second run updates what the
first created. `dry_run` runs the same code inside one transaction that is rolled back: it
counts and reports exactly what a real run would do, and writes nothing."""
from __future__ import annotations

from events import atomic
from models.importer import ImportMap
from models.shop import Shop
from services.importer import catalog, distribution, groups, members, orders, promotions
from services.importer.context import Context, Report
from services.importer.source import Source

__all__ = ["run_import"]

AREAS = [catalog.import_categories, catalog.import_goods, members.import_levels, members.import_members,
         members.import_fans_only, members.import_addresses, members.reconcile_balances, distribution.import_tree,
         distribution.import_distributors, promotions.import_coupons, promotions.import_member_coupons,
         promotions.import_sale_rules,
         groups.import_campaigns, orders.import_orders, groups.import_group_orders, distribution.import_withdrawals,
         distribution.reconcile_commission]


class _RolledBack(Exception):
    pass


async def _shop_for(uniacid: int, shop_id: int | None, name: str) -> int:
    if shop_id is not None:
        if await Shop.aio_get_or_none(Shop.id == shop_id) is None:
            raise ValueError(f"--shop-id {shop_id}: no such shop")
        return shop_id
    known = await ImportMap.select(ImportMap.target_id).where(
        (ImportMap.shop_id == 0) & (ImportMap.source_table == "uniacid")
        & (ImportMap.source_id == str(uniacid))).aio_first()
    if known is not None:
        return known.target_id
    shop = await Shop.aio_create(name=name[:100])
    await ImportMap.insert(shop_id=0, source_table="uniacid", source_id=str(uniacid), target_id=shop.id).aio_execute()
    return shop.id


async def run_import(source_url: str, uniacid: int, shop_id: int | None = None, dry_run: bool = False,
                     prefix: str = "ims_", merchid: int = 0, progress: bool = False) -> tuple[int | None, Report]:
    """Returns (the shop's id, or None on a dry run without --shop-id; the report)."""
    source = Source(source_url, prefix)
    try:
        if not source.has("ewei_shop_member"):
            raise ValueError(f"no {prefix}ewei_shop_member table in the source: is the prefix right (--prefix)?")
        names = source.rows("account_wechats", ["name"], {"uniacid": uniacid}) if source.has("account_wechats") else []
        name = (names[0]["name"] if names and names[0]["name"] else f"ewei uniacid {uniacid}")
        result: dict = {}

        async def everything() -> None:
            ctx = Context(source, await _shop_for(uniacid, shop_id, name), uniacid, merchid, dry_run, progress)
            result["ctx"] = ctx
            for area in AREAS:
                await area(ctx)

        if dry_run:
            try:
                async with atomic():
                    await everything()
                    raise _RolledBack
            except _RolledBack:
                pass
        else:
            await everything()
        ctx = result["ctx"]
        return (None if dry_run and shop_id is None else ctx.shop_id), ctx.report
    finally:
        source.close()
