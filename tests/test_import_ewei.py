"""import-ewei: a small ewei_shopv2 database built on MariaDB (the columns the importer reads, with
the types of ewei_shopv2's install.php), with the traps the importer must handle, imported into a
shop and checked over the merchant and shopper APIs and in the stored rows."""
from __future__ import annotations

import os
import time
import uuid
from decimal import Decimal

import phpserialize
import pymysql
import pytest

from models.finance import CreditLedger
from models.importer import ImportedOrder
from models.member import Address, Member
from models.order import Order, OrderItem
from services.importer import run_import
from services.importer.source import fen
from tests.builders import ADDRESS as SHOPPER_ADDRESS
from tests.builders import configure_wechat
from tests.ewei_source import DDL

SOURCE_URL = os.environ.get("MALL_TEST_EWEI_SOURCE", "mysql://root@127.0.0.1:3306")
U = 7  # the uniacid


ADDRESS = ('a:5:{s:8:"realname";s:6:"张三";s:6:"mobile";s:11:"13800000001";s:8:"province";s:9:"浙江省";'
           's:4:"city";s:9:"杭州市";s:7:"address";s:4:"1号";}')
COMMISSIONS = 'a:2:{s:6:"level1";s:4:"1.90";s:6:"level2";s:4:"0.95";}'

# the sale plugin's shop-wide promotions, PHP-serialized (recharge tiers serialized once more inside)
SALE = phpserialize.dumps({"sale": {
    "enoughmoney": "100.00", "enoughdeduct": "10.00",
    "enoughs": {0: {"enough": "200.00", "give": "30.00"}, 1: {"enough": "5.00", "give": "9.00"}},
    "enoughfree": "1", "enoughorder": "88.00",
    "recharges": phpserialize.dumps({0: {"enough": "100", "give": "10"}, 1: {"enough": "500", "give": "5%"}}).decode(),
}}).decode()

ROWS = [
    "INSERT INTO ims_ewei_shop_category (id, uniacid, name, parentid) VALUES (1, 7, '服装', 0), (2, 7, 'T恤', 1)",
    # goods: a float-like price, options as SKUs, unlimited stock, a sub-merchant's goods
    """INSERT INTO ims_ewei_shop_goods (id, uniacid, pcate, ccate, title, marketprice, productprice, total, hasoption,
       merchid, thumb) VALUES (10, 7, 1, 2, 'T恤', '19.90', '29.90', 0, 1, 0, 'a.jpg'),
       (11, 7, 1, 0, '贴纸', '0.10', '0.10', -1, 0, 0, ''), (12, 7, 1, 0, '商户的货', '5.00', '5.00', 3, 0, 4, '')""",
    "INSERT INTO ims_ewei_shop_goods_spec (id, uniacid, goodsid, title) VALUES (1, 7, 10, '颜色')",
    "INSERT INTO ims_ewei_shop_goods_spec_item (id, uniacid, specid, title, displayorder) VALUES (5, 7, 1, '红', 0), "
    "(6, 7, 1, '蓝', 1)",
    "INSERT INTO ims_ewei_shop_goods_option (id, uniacid, goodsid, title, marketprice, stock, specs) VALUES "
    "(100, 7, 10, '红', '19.90', 5, '5'), (101, 7, 10, '蓝', '0.10', 7, '6')",
    "INSERT INTO ims_ewei_shop_member_level (id, uniacid, levelname, ordermoney, discount) VALUES "
    "(3, 7, '金卡', '1000.00', '9.50')",
    # members: 1 on the 微擎 side too (credits both places: mc_members wins), 2 a mini-program user,
    # 3 and 4 a referral loop, 5 a distributor
    """INSERT INTO ims_ewei_shop_member (id, uniacid, uid, level, agentid, openid, openid_wa, mobile, nickname,
       credit1, credit2, isagent, status) VALUES
       (1, 7, 500, 3, 5, 'oA1', NULL, '13800000001', '甲', '999.00', '999.99', 0, 0),
       (2, 7, 0, 0, 1, 'sns_wa_oW2', NULL, '', '乙', '12.00', '0.10', 0, 0),
       (3, 7, 0, 0, 4, 'oA3', 'oW3', '13800000003', '丙', '0.00', '19.90', 1, 1),
       (4, 7, 0, 0, 3, 'sns_wx_oX4', NULL, '13800000004', '丁', '0.00', '0.00', 0, 0),
       (5, 7, 0, 0, 0, 'oA5', NULL, '13800000005', '戊', '0.00', '0.00', 1, 1)""",
    "INSERT INTO ims_mc_members (uid, uniacid, mobile, credit1, credit2, nickname) VALUES "
    "(500, 7, '13800000001', '40.00', '10.01', '甲'), (501, 7, '13800000009', '5.00', '2.50', '只在微擎')",
    "INSERT INTO ims_mc_mapping_fans (uniacid, uid, openid, unionid, nickname) VALUES "
    "(7, 500, 'oA1', 'U1', '甲'), (7, 501, 'oA9', 'U9', '只在微擎')",
    "INSERT INTO ims_ewei_shop_member_address (id, uniacid, openid, realname, mobile, province, city, area, address) "
    "VALUES (1, 7, 'oA1', '张三', '13800000001', '浙江省', '杭州市', '西湖区', '1号'), "
    "(2, 7, 'oGONE', '某', '1', 'x', 'y', 'z', 'w')",
    f"""INSERT INTO ims_ewei_shop_order (id, uniacid, openid, agentid, ordersn, price, goodsprice, status, paytype,
       transid, createtime, paytime, sendtime, expresscom, expresssn, address, merchid) VALUES
       (1, 7, 'oA1', 5, 'SH{{run}}1', '19.90', '19.90', 2, 21, '4200{{run}}1', 1600000000, 1600000100, 1600000200,
        '顺丰', 'SF1', '{ADDRESS}', 0),
       (2, 7, 'sns_wa_oW2', 0, 'SH{{run}}2', '0.10', '0.10', 0, 0, '', 1600000000, 0, 0, '', '', '', 0),
       (3, 7, 'oGONE', 0, 'SH{{run}}3', '5.00', '5.00', 3, 1, '', 1600000000, 1600000100, 0, '', '', '', 0),
       (4, 7, 'oA1', 0, 'SH{{run}}4', '5.00', '5.00', 3, 1, '', 1600000000, 1600000100, 0, '', '', '', 4)""",
    f"""INSERT INTO ims_ewei_shop_order_goods (id, uniacid, orderid, goodsid, price, total, optionid, optionname,
       realprice, commissions, status1, status2) VALUES
       (1, 7, 1, 10, '19.90', 1, 100, '红', '19.90', '{COMMISSIONS}', 3, 1),
       (2, 7, 2, 11, '0.10', 1, 0, '', '0.10', NULL, 0, 0)""",
    f"INSERT INTO ims_ewei_shop_sysset (uniacid, sets, plugins) VALUES (7, '', '{SALE}'), (8, '', 'a:0:{{}}')",
    # 乙's paid (balance), not yet shipped order: read-only here
    """INSERT INTO ims_ewei_shop_order (id, uniacid, openid, ordersn, price, goodsprice, status, paytype, createtime,
       paytime, address) VALUES (5, 7, 'sns_wa_oW2', 'SH{run}5', '0.10', '0.10', 1, 1, 1600000000, 1600000100, '')""",
    "INSERT INTO ims_ewei_shop_order_goods (id, uniacid, orderid, goodsid, price, total, realprice) VALUES "
    "(5, 7, 5, 11, '0.10', 1, '0.10')",
    # commission earned by 丙 (#3) on 丁's (#4) orders, in every state: 0 on an order completed long
    # ago (withdrawable), 0 on one completed yesterday and on a shipped one (frozen), 1 applied for,
    # 3 paid out, -1 invalid
    """INSERT INTO ims_ewei_shop_order (id, uniacid, openid, agentid, ordersn, price, goodsprice, status, paytype,
       createtime, paytime, finishtime) VALUES
       (10, 7, 'sns_wx_oX4', 3, 'SH{run}10', '10.00', '10.00', 3, 21, 1600000000, 1600000100, 1600000500),
       (11, 7, 'sns_wx_oX4', 3, 'SH{run}11', '10.00', '10.00', 3, 21, 1600000000, 1600000100, {yesterday}),
       (12, 7, 'sns_wx_oX4', 3, 'SH{run}12', '10.00', '10.00', 2, 21, 1600000000, 1600000100, 0),
       (13, 7, 'sns_wx_oX4', 3, 'SH{run}13', '10.00', '10.00', 3, 21, 1600000000, 1600000100, 1600000500),
       (14, 7, 'sns_wx_oX4', 3, 'SH{run}14', '10.00', '10.00', 3, 21, 1600000000, 1600000100, 1600000500),
       (15, 7, 'sns_wx_oX4', 3, 'SH{run}15', '10.00', '10.00', 3, 21, 1600000000, 1600000100, 1600000500),
       (16, 7, 'sns_wx_oX4', 0, 'SH{run}15', '7.00', '7.00', 3, 21, 1600000000, 1600000100, 1600000500)""",
    """INSERT INTO ims_ewei_shop_order_goods (id, uniacid, orderid, goodsid, price, total, realprice, commissions,
       status1) VALUES
       (10, 7, 10, 11, '10.00', 1, '10.00', 'a:1:{s:6:"level1";s:4:"3.33";}', 0),
       (11, 7, 11, 11, '10.00', 1, '10.00', 'a:1:{s:6:"level1";s:4:"1.11";}', 0),
       (12, 7, 12, 11, '10.00', 1, '10.00', 'a:1:{s:6:"level1";s:4:"2.22";}', 0),
       (13, 7, 13, 11, '10.00', 1, '10.00', 'a:1:{s:6:"level1";s:4:"4.44";}', 1),
       (14, 7, 14, 11, '10.00', 1, '10.00', 'a:1:{s:6:"level1";s:4:"5.55";}', 3),
       (15, 7, 15, 11, '10.00', 1, '10.00', 'a:1:{s:6:"level1";s:4:"6.66";}', -1)""",
    # withdrawals: 戊's and 丙's paid ones, 丙's pending one, an orphan's
    """INSERT INTO ims_ewei_shop_commission_apply (id, uniacid, mid, type, commission, status, applytime, paytime)
       VALUES (1, 7, 5, 1, '1.90', 3, 1600000600, 1600000700), (2, 7, 3, 1, '4.44', 1, 1600000600, 0),
       (3, 7, 3, 0, '5.55', 3, 1600000600, 1600000700), (4, 7, 99, 1, '1.00', 3, 1600000600, 1600000700)""",
    # coupons: 5 yuan off 50 for 30 days from claim; 15% off the T恤 in a fixed window; a recharge
    # coupon and a sub-merchant's (neither has a counterpart here)
    """INSERT INTO ims_ewei_shop_coupon (id, uniacid, couponname, gettype, getmax, enough, timelimit, coupontype,
       timedays, timestart, timeend, discount, deduct, backtype, total, status, merchid, limitgoodtype, limitgoodids)
       VALUES (1, 7, '满50减5', 1, 2, '50.00', 0, 0, 30, 0, 0, '0.00', '5.00', 0, 100, 1, 0, 0, ''),
       (2, 7, 'T恤85折', 0, 1, '0.00', 1, 0, 0, {soon}, {later}, '8.50', '0.00', 1, -1, 1, 0, 1, '10,999'),
       (3, 7, '充值券', 1, 1, '0.00', 0, 1, 7, 0, 0, '0.00', '1.00', 0, 10, 1, 0, 0, ''),
       (4, 7, '商户券', 1, 1, '0.00', 0, 0, 7, 0, 0, '0.00', '1.00', 0, 10, 1, 4, 0, '')""",
    """INSERT INTO ims_ewei_shop_coupon_data (id, uniacid, openid, couponid, used, gettime, usetime) VALUES
       (1, 7, 'oA1', 1, 0, {yesterday}, 0), (2, 7, 'oA1', 1, 1, 1600000000, 1600000100),
       (3, 7, 'sns_wa_oW2', 2, 0, {yesterday}, 0), (4, 7, 'oGONE', 1, 0, {yesterday}, 0),
       (5, 7, 'sns_wa_oW2', 3, 0, {yesterday}, 0)""",
    # group-buy: a campaign on the T恤 (teams of 3 at 15.00, alone 19.90, 48 hours), a ladder on the
    # sticker (2 at 0.08, 5 at 0.05), an old standalone one without shop goods
    """INSERT INTO ims_ewei_shop_groups_goods (id, uniacid, title, groupsprice, singleprice, single, endtime, groupnum,
       status, gid, is_ladder, purchaselimit) VALUES (1, 7, '拼T恤', '15.00', '19.90', 1, 48, 3, 1, 10, 0, 2),
       (2, 7, '阶梯贴纸', '0.00', '0.10', 0, 24, 2, 1, 11, 1, 0), (3, 7, '老拼团', '1.00', '2.00', 0, 24, 2, 1, 0, 0, 0)""",
    "INSERT INTO ims_ewei_shop_groups_ladder (uniacid, goods_id, ladder_num, ladder_price) VALUES "
    "(7, 2, 5, '0.05'), (7, 2, 2, '0.08')",
    # teams: #1 filled (甲 leads at 14.00 after his 1.00 leader's discount, 乙 and 丙 join), #4 failed
    # and refunded (丁, a ladder team of 5), #5 still forming (戊); 甲 buys alone; an orphan
    """INSERT INTO ims_ewei_shop_groups_order (id, uniacid, openid, orderno, groupnum, paytime, price, freight, status,
       pay_type, goodid, teamid, is_team, heads, starttime, endtime, createtime, success, discount, refundtime,
       finishtime, sendtime, expresscom, expresssn, address) VALUES
       (1, 7, 'oA1', 'PT{run}1', 3, 1600000100, '14.00', '0.00', 3, 'wechat', 1, 1, 1, 1, 1600000000, 48, 1600000000,
        1, '1.00', 0, 1600090000, 1600080000, '圆通', 'YT1', '{address}'),
       (2, 7, 'sns_wa_oW2', 'PT{run}2', 3, 1600000200, '15.00', '0.00', 2, 'credit', 1, 1, 1, 0, 1600000000, 48,
        1600000150, 1, '0.00', 0, 0, 1600080000, '圆通', 'YT2', ''),
       (3, 7, 'oA3', 'PT{run}3', 3, 1600000300, '15.00', '0.00', 3, 'wechat', 1, 1, 1, 0, 1600000000, 48, 1600000250,
        1, '0.00', 0, 1600090000, 1600080000, '圆通', 'YT3', ''),
       (4, 7, 'sns_wx_oX4', 'PT{run}4', 5, 1600100100, '0.05', '0.00', -1, 'wechat', 2, 4, 1, 1, 1600100000, 24,
        1600100000, -1, '0.00', 1600200000, 0, 0, '', '', ''),
       (5, 7, 'oA5', 'PT{run}5', 3, {hour_ago}, '15.00', '0.00', 1, 'wechat', 1, 5, 1, 1, {hour_ago}, 48, {hour_ago},
        0, '0.00', 0, 0, 0, '', '', ''),
       (6, 7, 'oA1', 'PT{run}6', 1, 1600000100, '19.90', '0.00', 1, 'credit', 1, 0, 0, 0, 0, 0, 1600000000, 0, '0.00',
        0, 0, 0, '', '', ''),
       (7, 7, 'oGONE', 'PT{run}7', 3, 1600000100, '15.00', '0.00', 1, 'wechat', 1, 1, 1, 0, 1600000000, 48,
        1600000000, 1, '0.00', 0, 0, 0, '', '', '')""",
    """INSERT INTO ims_core_paylog (type, uniacid, acid, openid, uniontid, tid, fee, status, module, tag) VALUES
       ('wechat', 7, 7, 'oA1', 'U1', 'PT{run}1', '14.00', 1, 'ewei_shopv2',
        'a:2:{s:4:"acid";i:7;s:14:"transaction_id";s:13:"4300{run}1";}')""",
]


def _fill(statement: str, run: str) -> str:
    now = int(time.time())
    values = {"{run}": run, "{yesterday}": str(now - 86400), "{hour_ago}": str(now - 3600),
              "{soon}": str(now - 3600), "{later}": str(now + 30 * 86400), "{address}": ADDRESS}
    for key, value in values.items():
        statement = statement.replace(key, value)
    return statement


def _admin():
    from urllib.parse import urlparse

    parsed = urlparse(SOURCE_URL)
    return pymysql.connect(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username or "root",
                           password=parsed.password or "", autocommit=True, charset="utf8mb4")


@pytest.fixture
def ewei_source():
    """The source database, created and dropped here; every test here needs MariaDB for it. One
    per test: order numbers are unique across shops, so two imports of one source would clash."""
    run = uuid.uuid4().hex[:8]
    name = f"test_ewei_src_{run}"
    try:
        conn = _admin()
    except pymysql.err.OperationalError:
        if os.environ.get("MALL_TEST_MYSQL_URL"):
            raise
        pytest.skip("the ewei source needs MariaDB at 127.0.0.1:3306")
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{name}`")
        for statement in DDL + [_fill(row, run) for row in ROWS]:
            cur.execute(statement)
    yield f"{SOURCE_URL.rstrip('/')}/{name}", run
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()


def test_command_line_dry_run_prints_the_reconciliation(ewei_source, tmp_path):
    """The command an operator runs: a dry run into a fresh database prints counts, problems and sums."""
    import subprocess
    import sys
    from pathlib import Path

    url, _ = ewei_source
    env = {**os.environ, "MALL_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "MALL_REDIS_URL": ""}
    done = subprocess.run([sys.executable, "server.py", "import-ewei", "--source", url, "--uniacid", str(U),
                           "--dry-run"], cwd=Path(__file__).parent.parent, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "DRY RUN" in done.stdout and "orphan: no member with openid oGONE" in done.stdout
    # every sum matches but the orders': a second order with a number already taken at the source
    # (MyISAM had no unique key) is not imported, and the report says which and why
    sums = {line.split(" source ")[0].strip(): line for line in done.stdout.splitlines() if " source " in line}
    assert [name for name, line in sums.items() if "MISMATCH" in line] == ["orders' totals (fen)"], done.stdout
    assert sums["orders' totals (fen)"].split()[4:7] == ["8710", "imported", "8010"]
    assert "order #16: order number" in done.stdout and "appears twice at the source" in done.stdout


def test_yuan_to_fen_is_exact():
    assert [fen("0.10"), fen("19.90"), fen(Decimal("999.99")), fen("0.07"), fen(None)] == [10, 1990, 99999, 7, 0]


async def _counts(shop_id):
    return (await Member.select().where(Member.shop_id == shop_id).aio_count(),
            await Order.select().where(Order.shop_id == shop_id).aio_count(),
            await CreditLedger.select().where(CreditLedger.shop_id == shop_id).aio_count())


async def test_dry_run_writes_nothing_then_import_and_rerun(server, api, make_shop, ewei_source):
    url, run = ewei_source
    shop = await make_shop("imported")
    _, dry = await run_import(url, U, shop.id, dry_run=True)
    assert await _counts(shop.id) == (0, 0, 0)
    assert dry.tables["member"].created == 5 and dry.tables["order"].created == 9
    assert any("orphan" in reason for _, _, reason in dry.problems)

    _, report = await run_import(url, U, shop.id)
    assert report.tables["member"].created == 5 and report.tables["mc_mapping_fans"].created == 1
    first = await _counts(shop.id)

    # goods over the merchant API: prices in fen exactly, options as SKUs, -1 stock unlimited,
    # the sub-merchant's goods not imported
    listed = await api.get("/api/merchant/goods?page_size=50", token=shop.owner_token)
    assert listed.status == 200, listed.body
    by_title = {g["title"]: g for g in listed.body["items"]}
    assert set(by_title) == {"T恤", "贴纸"}
    assert by_title["T恤"]["price_fen"] == 10 and by_title["贴纸"]["price_fen"] == 10
    assert by_title["贴纸"]["stock"] == 999_999
    detail = await api.get(f"/api/merchant/goods/{by_title['T恤']['id']}", token=shop.owner_token)
    assert sorted((s["title"], s["price_fen"], s["stock"]) for s in detail.body["skus"]) == [("红", 1990, 5), ("蓝", 10, 7)]
    assert any("sub-merchant 4" in reason for t, _, reason in report.problems if t == "goods")

    # identity: prefixes stripped into the right columns; unionid from the fans; 微擎-only member
    members = {m.nickname: m for m in await Member.select().where(Member.shop_id == shop.id).aio_execute()}
    assert (members["甲"].oa_openid, members["甲"].unionid) == ("oA1", "U1")
    assert (members["乙"].openid, members["乙"].oa_openid) == ("oW2", None)
    assert (members["丙"].oa_openid, members["丙"].openid) == ("oA3", "oW3")
    assert members["丁"].openid is None and members["丁"].oa_openid is None
    assert (members["只在微擎"].oa_openid, members["只在微擎"].unionid, members["只在微擎"].balance_fen) == ("oA9", "U9", 250)
    assert all(m.password_hash is None for m in members.values())
    # credits in both places: mc_members' (one source), never the sum
    assert (members["甲"].balance_fen, members["甲"].points) == (1001, 40)
    assert (members["乙"].balance_fen, members["乙"].points, members["丙"].balance_fen) == (10, 12, 1990)
    assert report.sums["members' balance (fen)"] == [1001 + 10 + 1990 + 250, 1001 + 10 + 1990 + 250]
    # referral loop 3 <-> 4 broken at the lower id, reported; 1 under 5, 2 under 1
    assert members["丙"].parent_id is None and members["丁"].parent_id == members["丙"].id
    assert members["甲"].parent_id == members["戊"].id and members["乙"].parent_id == members["甲"].id
    assert any("referral loop" in reason for _, _, reason in report.problems)

    # orders: historic, with paytype / transaction id / express; unpaid imported cancelled;
    # orphan and sub-merchant orders skipped with reasons
    orders = {o.order_no: o for o in await Order.select().where(Order.shop_id == shop.id).aio_execute()}
    assert {no for no in orders if no.startswith("SH")} == {f"SH{run}{n}" for n in (1, 2, 5, 10, 11, 12, 13, 14, 15)}
    paid = orders[f"SH{run}1"]
    assert (paid.status, paid.total_fen, paid.pay_method, paid.express_company, paid.express_no) == \
        (2, 1990, "wechat", "顺丰", "SF1")
    assert paid.auto_confirm_at is None and '"province": "浙江省"' in paid.address
    facts = await ImportedOrder.aio_get(ImportedOrder.order_id == paid.id)
    assert (facts.paytype, facts.transaction_id) == (21, f"4200{run}1")
    assert orders[f"SH{run}2"].status == -1
    lines = await OrderItem.select().where(OrderItem.order_id == paid.id).aio_execute()
    assert [(line.sku_title, line.total_fen) for line in lines] == [("红", 1990)]
    assert report.sums["orders' totals (fen)"] == [2010 + 6000 + 700, 2010 + 6000]  # #16 repeats #15's number
    assert all(source == imported for name, (source, imported) in report.sums.items()
               if name != "orders' totals (fen)"), report.sums
    reasons = [reason for t, _, reason in report.problems if t == "order"]
    assert any("orphan" in r for r in reasons) and any("sub-merchant" in r for r in reasons)
    assert await Address.select().where(Address.shop_id == shop.id).aio_count() == 1

    # commission as recorded: level 1 to 5 (settled), level 2 to 5's referrer (none): one row
    from models.distribution import Commission, Distributor
    commissions = await Commission.select().where((Commission.shop_id == shop.id)
                                                  & (Commission.member_id == members["戊"].id)).aio_execute()
    assert [(c.level, c.amount_fen, c.status) for c in commissions] == [(1, 190, "settled")]
    assert await Distributor.select().where(Distributor.shop_id == shop.id).aio_count() == 2

    # a second run updates, never duplicates; a changed source balance books only the difference
    conn = _admin()
    with conn.cursor() as cur:
        cur.execute(f"UPDATE `test_ewei_src_{run}`.ims_mc_members SET credit2 = '12.01' WHERE uid = 500")
    conn.close()
    _, again = await run_import(url, U, shop.id)
    assert again.tables["member"].created == 0 and again.tables["order"].created == 0
    members_now, orders_now, ledger_now = await _counts(shop.id)
    assert (members_now, orders_now, ledger_now) == (first[0], first[1], first[2] + 1)
    assert (await Member.aio_get(Member.id == members["甲"].id)).balance_fen == 1201


def _source_sum(url: str, sql: str) -> int:
    """A sum read straight from the source database, in fen (what the old shop showed)."""
    conn = _admin()
    with conn.cursor() as cur:
        cur.execute(f"USE `{url.rsplit('/', 1)[1]}`")
        cur.execute(sql)
        value = cur.fetchone()[0]
    conn.close()
    return fen(value or 0)


async def _imported_shop(make_shop, url):
    shop = await make_shop("imported")
    _, report = await run_import(url, U, shop.id)
    return shop, report


async def _wechat_member(api, shop, fake_wechat, openid: str) -> str:
    """An imported member logs in with WeChat (mini program) and lands in their imported account."""
    mini, _ = await configure_wechat(api, shop, fake_wechat)
    login = await api.post(f"/api/mobile/{shop.id}/auth/wechat", {"code": fake_wechat.login_code(mini, openid)})
    assert login.status == 200, login.body
    return login.body["token"]


async def test_coupons_members_unused_coupons_and_sale_promotions(server, api, make_shop, ewei_source, fake_wechat):
    url, _ = ewei_source
    shop, report = await _imported_shop(make_shop, url)
    listed = await api.get("/api/merchant/coupons?page_size=50", token=shop.owner_token)
    assert listed.status == 200, listed.body
    by_name = {c["name"]: c for c in listed.body["items"]}
    assert set(by_name) == {"满50减5", "T恤85折"}  # the recharge and the sub-merchant's coupons have no counterpart
    amount, percent = by_name["满50减5"], by_name["T恤85折"]
    assert (amount["kind"], amount["amount_fen"], amount["min_spend_fen"], amount["valid_days"]) == ("amount", 500, 5000, 30)
    assert (amount["total_quantity"], amount["per_member_limit"], amount["claimable"]) == (100, 2, True)
    # every coupon the source gave out counts as claimed (used or not, orphans too): 97 left
    assert (amount["claimed_count"], amount["used_count"], amount["remaining"]) == (3, 1, 97)
    tee = (await api.get("/api/merchant/goods?page_size=50", token=shop.owner_token)).body["items"]
    tee_id = next(g["id"] for g in tee if g["title"] == "T恤")
    assert (percent["kind"], percent["percent_off"], percent["scope"], percent["scope_ids"]) == ("percent", 15, "goods",
                                                                                               [tee_id])
    assert percent["valid_until"] is not None and percent["valid_days"] == 0 and percent["total_quantity"] == 0
    reasons = {(t, i): r for t, i, r in report.problems}
    assert "recharge coupon" in reasons[("coupon", 3)] and "used" in reasons[("coupon_data", 2)]
    assert "orphan" in reasons[("coupon_data", 4)] and "not imported" in reasons[("coupon_data", 5)]

    # the shop-wide promotions: 满减 tiers, free shipping over 88 yuan, a recharge bonus (not the percentage one)
    settings = await api.get("/api/merchant/settings", token=shop.owner_token)
    assert settings.status == 200, settings.body
    assert settings.body["sale"]["full_reduction"] == [{"min_fen": 10000, "off_fen": 1000},
                                                       {"min_fen": 20000, "off_fen": 3000}]
    assert (settings.body["sale"]["free_shipping_min_fen"], settings.body["sale"]["recharge_bonus"]) == \
        (8800, [{"min_fen": 10000, "bonus_fen": 1000}])
    assert "not below the spend" in reasons[("sysset.sale", "enoughs")]
    assert "percentage" in reasons[("sysset.sale", "recharges")]

    # 乙 logs in with WeChat and finds the coupon the old shop gave them, unused, in its window
    token = await _wechat_member(api, shop, fake_wechat, "oW2")
    mine = await api.get(f"/api/mobile/{shop.id}/me/coupons?status=unused", token=token)
    assert mine.status == 200, mine.body
    assert [(c["name"], c["status"], c["valid_until"]) for c in mine.body["items"]] == \
        [("T恤85折", "unused", percent["valid_until"])]
    # 乙 spends it here on the T恤; running the import again does not hand it back unused
    address = await api.post(f"/api/mobile/{shop.id}/addresses", SHOPPER_ADDRESS, token=token)
    red = next(s for s in (await api.get(f"/api/merchant/goods/{tee_id}", token=shop.owner_token)).body["skus"]
               if s["title"] == "红")
    placed = await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": tee_id, "sku_id": red["id"],
                                                                          "quantity": 1}],
                                                               "address_id": address.body["id"],
                                                               "coupon_id": mine.body["items"][0]["id"]}, token=token)
    assert placed.status == 201, placed.body
    assert placed.body["coupon_discount_fen"] == 1990 * 15 // 100
    _, again = await run_import(url, U, shop.id)
    used = await api.get(f"/api/mobile/{shop.id}/me/coupons?status=used", token=token)
    assert [c["name"] for c in used.body["items"]] == ["T恤85折"] and again.tables["coupon_data"].created == 0
    assert (await api.get(f"/api/mobile/{shop.id}/me/coupons?status=unused", token=token)).body["items"] == []
    # 甲's: 30 days from when it was claimed there
    first = await Member.aio_get((Member.shop_id == shop.id) & (Member.oa_openid == "oA1"))
    from models.sale import MemberCoupon
    held = await MemberCoupon.aio_get(MemberCoupon.member_id == first.id)
    assert (held.valid_until - held.valid_from).days == 30 and held.status == "unused"


async def test_group_buy_campaigns_teams_and_their_orders(server, api, make_shop, ewei_source, fake_wechat):
    import datetime

    url, run = ewei_source
    shop, report = await _imported_shop(make_shop, url)
    campaigns = await api.get("/api/merchant/groups/activities?page_size=50", token=shop.owner_token)
    assert campaigns.status == 200, campaigns.body
    by_title = {a["title"]: a for a in campaigns.body["items"]}
    assert set(by_title) == {"拼T恤", "阶梯贴纸"}  # the standalone one has no shop goods to sell
    tee, ladder = by_title["拼T恤"], by_title["阶梯贴纸"]
    assert (tee["tiers"], tee["single_price_fen"], tee["duration_seconds"], tee["purchase_limit"]) == \
        ([{"team_size": 3, "price_fen": 1500}], 1990, 48 * 3600, 2)
    assert (ladder["tiers"], ladder["single_price_fen"], ladder["duration_seconds"]) == \
        ([{"team_size": 2, "price_fen": 8}, {"team_size": 5, "price_fen": 5}], None, 24 * 3600)

    teams = await api.get("/api/merchant/groups/teams?page_size=50", token=shop.owner_token)
    assert teams.status == 200, teams.body
    by_activity = sorted(teams.body["items"], key=lambda t: t["created_at"])
    filled, failed, forming = by_activity
    at = datetime.datetime.fromtimestamp
    utc = datetime.timezone.utc
    # endtime is hours from starttime
    assert (filled["status"], filled["team_size"], filled["paid_count"], filled["seats_left"], filled["expires_at"]) == \
        ("success", 3, 3, 0, at(1600000000 + 48 * 3600, utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert (failed["status"], failed["team_size"], failed["activity_id"], failed["closed_by"]) == \
        ("failed", 5, ladder["id"], "expiry")
    assert failed["expires_at"] == at(1600100000 + 24 * 3600, utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (forming["status"], forming["closed_by"]) == ("failed", "import")
    assert any("still forming" in r for t, _, r in report.problems if t == "groups_team")

    detail = await api.get(f"/api/merchant/groups/teams/{filled['id']}", token=shop.owner_token)
    assert detail.status == 200, detail.body
    assert [(m["nickname"], m["is_leader"]) for m in detail.body["members"]] == [("甲", True), ("乙", False), ("丙", False)]
    leader_order = detail.body["members"][0]["order_id"]
    order = await api.get(f"/api/merchant/orders/{leader_order}", token=shop.owner_token)
    assert order.status == 200, order.body
    body = order.body
    assert (body["order_no"], body["team_id"], body["activity_id"], body["status"], body["total_fen"]) == \
        (f"PT{run}1", filled["id"], tee["id"], 3, 1400)
    assert (body["express_company"], body["express_no"], body["address"]["province"]) == ("圆通", "YT1", "浙江省")
    # the WeChat transaction id comes from 微擎's payment log (PHP-serialized tag)
    assert body["imported"] == {"source": "ewei_shopv2", "source_order_no": f"PT{run}1", "paytype": 21,
                                "paytype_name": "wechat", "transaction_id": f"4300{run}1", "source_status": 3}
    # the failed team's order was refunded at the source; the buy-alone order has its campaign, no team
    orders = {o["order_no"]: o for o in (await api.get("/api/merchant/orders?page_size=100",
                                                       token=shop.owner_token)).body["items"]}
    assert (orders[f"PT{run}4"]["status"], orders[f"PT{run}4"]["refund_status"], orders[f"PT{run}4"]["team_id"]) == \
        (-1, "full", failed["id"])
    alone = orders[f"PT{run}6"]
    assert (alone["team_id"], alone["activity_id"], alone["imported"]["paytype_name"]) == (None, tee["id"], "balance")
    assert f"PT{run}7" not in orders
    assert report.sums["group-buy orders' totals (fen)"] == [1400 + 1500 + 1500 + 5 + 1500 + 1990] * 2

    # 乙 sees their team and order after logging in with WeChat
    token = await _wechat_member(api, shop, fake_wechat, "oW2")
    mine = await api.get(f"/api/mobile/{shop.id}/groups/my-teams", token=token)
    assert [(t["id"], t["status"]) for t in mine.body["items"]] == [(filled["id"], "success")]


async def test_historic_orders_are_read_only_and_readable(server, api, make_shop, ewei_source, fake_wechat):
    url, run = ewei_source
    shop, _ = await _imported_shop(make_shop, url)
    token = await _wechat_member(api, shop, fake_wechat, "oW2")
    mine = {o["order_no"]: o for o in (await api.get(f"/api/mobile/{shop.id}/orders?page_size=50",
                                                     token=token)).body["items"]}
    paid, unpaid = mine[f"SH{run}5"], mine[f"SH{run}2"]
    assert (paid["status"], paid["pay_method"], paid["imported"]["paytype"], paid["imported"]["paytype_name"]) == \
        (1, "balance", 1, "balance")
    assert (unpaid["status"], unpaid["cancel_reason"], unpaid["imported"]["source_status"]) == (-1, "imported unpaid", 0)
    shopper = f"/api/mobile/{shop.id}/orders"
    attempts = [
        ("POST", f"{shopper}/{unpaid['id']}/pay", {"method": "balance"}, token),
        ("POST", f"{shopper}/{unpaid['id']}/pay", {"method": "wechat"}, token),
        ("POST", f"{shopper}/{paid['id']}/cancel", None, token),
        ("POST", f"{shopper}/{paid['id']}/refund", {"reason": "不要了"}, token),
        ("POST", f"{shopper}/{paid['id']}/aftersales", {"type": "refund", "reason": "不要了",
                                                        "items": [{"order_item_id": paid["items"][0]["id"],
                                                                   "quantity": 1}]}, token),
        ("POST", f"/api/merchant/orders/{paid['id']}/ship", {"express_company": "顺丰", "express_no": "SF9"},
         shop.owner_token),
        ("POST", f"/api/merchant/orders/{paid['id']}/close", None, shop.owner_token),
        ("POST", f"/api/merchant/orders/{paid['id']}/price", {"total_fen": 1}, shop.owner_token),
        ("POST", f"/api/merchant/orders/{paid['id']}/refund/approve", None, shop.owner_token),
    ]
    for method, path, body, who in attempts:
        answer = await api.call(method, path, body, token=who)
        assert answer.status == 409, (path, answer.status, answer.body)
        assert answer.body["error"]["code"] == "order_imported", (path, answer.body)
        assert "historic order" in answer.body["error"]["message"]
    # nothing moved, and both sides still read it whole
    merchant_view = await api.get(f"/api/merchant/orders/{paid['id']}", token=shop.owner_token)
    assert (merchant_view.body["status"], merchant_view.body["express_no"], merchant_view.body["aftersales"]) == (1, "", [])
    assert [log["action"] for log in merchant_view.body["logs"]] == []
    found = (await api.get(f"/api/merchant/orders?q=SH{run}1", token=shop.owner_token)).body["items"]
    shipped = next(o for o in found if o["order_no"] == f"SH{run}1")
    assert (shipped["express_company"], shipped["express_no"], shipped["imported"]["transaction_id"]) == \
        ("顺丰", "SF1", f"4200{run}1")
    # the merchant's own note is still theirs to write
    noted = await api.call("POST", f"/api/merchant/orders/{paid['id']}/remark", {"remark": "旧单"}, token=shop.owner_token)
    assert noted.status == 200 and noted.body["merchant_remark"] == "旧单"


async def test_distributors_commission_as_recorded(server, api, make_shop, ewei_source, fake_wechat):
    """丙's distribution centre shows what the old shop's did, to the fen: earned and not yet
    withdrawable, withdrawable, withdrawn — and a second run books nothing twice."""
    url, _ = ewei_source
    shop, report = await _imported_shop(make_shop, url)
    week_ago = int(time.time()) - 7 * 86400
    lines = ("ims_ewei_shop_order_goods g JOIN ims_ewei_shop_order o ON o.id = g.orderid "
             "WHERE o.uniacid = 7 AND o.agentid = 3")
    level1 = "SUBSTRING_INDEX(SUBSTRING_INDEX(g.commissions, '\"', -2), '\"', 1)"  # the level1 amount, as text
    withdrawable = _source_sum(url, f"SELECT SUM({level1}) FROM {lines} AND g.status1 = 0 AND o.status = 3 "
                                    f"AND o.finishtime <= {week_ago}")
    frozen = _source_sum(url, f"SELECT SUM({level1}) FROM {lines} AND g.status1 = 0 AND NOT (o.status = 3 "
                              f"AND o.finishtime <= {week_ago})")
    withdrawn = _source_sum(url, "SELECT SUM(commission) FROM ims_ewei_shop_commission_apply WHERE uniacid = 7 "
                                 "AND mid = 3 AND status = 3")
    pending = _source_sum(url, "SELECT SUM(commission) FROM ims_ewei_shop_commission_apply WHERE uniacid = 7 "
                               "AND mid = 3 AND status IN (1, 2)")
    assert (withdrawable, frozen, withdrawn, pending) == (333, 111 + 222, 555, 444)

    token = await _wechat_member(api, shop, fake_wechat, "oW3")
    centre = await api.get(f"/api/mobile/{shop.id}/distribution", token=token)
    assert centre.status == 200, centre.body
    assert centre.body["commission"] == {"frozen_fen": frozen, "withdrawable_fen": withdrawable, "withdrawn_fen": withdrawn}
    assert centre.body["distributor"]["status"] == "approved" and centre.body["team"]["level1"] == 1
    listed = await api.get(f"/api/mobile/{shop.id}/distribution/commissions?page_size=50", token=token)
    assert sorted((c["amount_fen"], c["status"]) for c in listed.body["items"]) == \
        [(0, "reversed"), (111, "frozen"), (222, "frozen"), (333, "settled"), (444, "settled"), (555, "settled")]
    withdrawals = await api.get(f"/api/mobile/{shop.id}/withdrawals", token=token)
    assert sorted((w["amount_fen"], w["status"]) for w in withdrawals.body["items"]) == [(444, "pending"), (555, "paid")]
    # the pending application is the merchant's to pay or refuse here; refused, it comes back withdrawable
    pending_id = next(w["id"] for w in withdrawals.body["items"] if w["status"] == "pending")
    refused = await api.post(f"/api/merchant/withdrawals/{pending_id}/reject", {"reason": "请重新申请"},
                             token=shop.owner_token)
    assert refused.status == 200, refused.body
    for name in ("commission recorded (fen)", "commission in withdrawals (fen)", "commission paid out (fen)"):
        assert report.sums[name][0] == report.sums[name][1], (name, report.sums[name])

    _, again = await run_import(url, U, shop.id)
    assert again.tables["order"].unchanged == again.tables["order"].read - again.tables["order"].skipped
    centre = await api.get(f"/api/mobile/{shop.id}/distribution", token=token)
    assert centre.body["commission"] == {"frozen_fen": frozen, "withdrawable_fen": withdrawable + pending,
                                         "withdrawn_fen": withdrawn}
    # the merchant's refusal stands: the application is not pending again (it could be refused twice)
    withdrawals = await api.get(f"/api/mobile/{shop.id}/withdrawals", token=token)
    assert sorted((w["amount_fen"], w["status"]) for w in withdrawals.body["items"]) == [(444, "rejected"), (555, "paid")]


STREAM_ORDERS = 10_000  # ten keyset pages; the 200,000-order run is bench/import_ewei.py


def _target_query(url: str, sql: str) -> list[tuple]:
    """Read the target database the import command wrote (SQLite file or MariaDB)."""
    from urllib.parse import urlparse

    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.split("sqlite:///", 1)[1])
    else:
        parsed = urlparse(url)
        conn = pymysql.connect(host=parsed.hostname, port=parsed.port or 3306, user=parsed.username or "root",
                               password=parsed.password or "", database=parsed.path.lstrip("/"))
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        conn.close()


def test_streaming_import_killed_midway_resumes_without_duplicates(fresh_database_url):
    """A large order table goes in keyset pages with progress on stderr; killed mid-run, the same
    command run again finishes the job: every order once, totals and commission to the fen."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.ewei_source import generate_orders

    run = uuid.uuid4().hex[:8]
    name = f"test_ewei_stream_{run}"
    try:
        conn = _admin()
    except pymysql.err.OperationalError:
        if os.environ.get("MALL_TEST_MYSQL_URL"):
            raise
        pytest.skip("the ewei source needs MariaDB at 127.0.0.1:3306")
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{name}`")
        for statement in DDL:
            cur.execute(statement)
        generate_orders(cur, STREAM_ORDERS, members=200)
    url = f"{SOURCE_URL.rstrip('/')}/{name}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALL_")}
    env.update(MALL_DATABASE_URL=fresh_database_url, MALL_REDIS_URL="", MALL_JWT_SECRET=f"stream-{run}-0123456789abcdef")
    command = [sys.executable, "server.py", "import-ewei", "--source", url, "--uniacid", str(U)]
    root = Path(__file__).parent.parent
    try:
        first = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seen = []
        for line in first.stderr:
            seen.append(line)
            if line.startswith(f"orders: 3000/{STREAM_ORDERS}"):
                first.send_signal(signal.SIGKILL)
                break
        first.wait(timeout=60)
        assert first.returncode == -signal.SIGKILL, "".join(seen[-20:])
        quote = '"' if fresh_database_url.startswith("sqlite") else "`"
        kept = _target_query(fresh_database_url, f"SELECT COUNT(*) FROM {quote}order{quote}")[0][0]
        assert 3000 <= kept < STREAM_ORDERS and kept % 1000 == 0  # whole pages: each one its own transaction

        again = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert f"orders: {STREAM_ORDERS}/{STREAM_ORDERS} (100%)" in again.stderr
        row = next(line.split() for line in again.stdout.splitlines() if line.startswith("order "))
        assert [int(n) for n in row[1:]] == [STREAM_ORDERS, STREAM_ORDERS - kept, 0, kept, 0]  # read created ... unchanged
        assert "MISMATCH" not in again.stdout and "orders' totals (fen)" in again.stdout, again.stdout

        count, numbers, total = _target_query(
            fresh_database_url, f"SELECT COUNT(*), COUNT(DISTINCT order_no), SUM(total_fen) FROM {quote}order{quote}")[0]
        assert (count, numbers) == (STREAM_ORDERS, STREAM_ORDERS)
        assert int(total) == _source_sum(url, "SELECT SUM(price) FROM ims_ewei_shop_order")
        assert _target_query(fresh_database_url, "SELECT COUNT(*) FROM order_item")[0][0] == STREAM_ORDERS
        # the distributor's balances: frozen, withdrawable and withdrawn, as the source has them
        frozen, withdrawable = _target_query(
            fresh_database_url, "SELECT commission_frozen_fen, commission_fen FROM member WHERE nickname = '会员1'")[0]
        lines = "ims_ewei_shop_order_goods g JOIN ims_ewei_shop_order o ON o.id = g.orderid WHERE g.status1 = 0"
        assert withdrawable == _source_sum(url, f"SELECT SUM(0.50) FROM {lines} AND o.status = 3")
        assert frozen == _source_sum(url, f"SELECT SUM(0.50) FROM {lines} AND o.status <> 3")
        paid = _target_query(fresh_database_url, "SELECT SUM(amount_fen) FROM withdrawal WHERE status = 'paid'")[0][0]
        assert paid == _source_sum(url, "SELECT SUM(0.50) FROM ims_ewei_shop_order_goods WHERE status1 = 3")
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()
