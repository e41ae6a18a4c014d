"""The migration list. Append new steps; never edit one that has shipped."""
from peewee import fn

from models.adv import Banner
from models.aftersale import AfterSale, AfterSaleItem, AfterSaleLog
from models.audit import AuditLog
from models.db import is_mysql
from models.distribution import Commission, Distributor
from models.events import OutboxEvent
from models.finance import CreditLedger, IdempotencyKey, Recharge, Withdrawal
from models.flash import FlashItem, FlashSale
from models.goods import Category, Goods, Sku, StockLedger
from models.groups import GroupActivity, GroupMember, GroupTeam
from models.importer import ImportedOrder, ImportMap
from models.member import Address, Member, MemberLevel
from models.migrations.schema import add_column, add_indexes, create_tables, drop_index, drop_not_null
from models.notify import Notification, NotifyCredit, NotifyTemplate, WechatShipment
from models.order import CartItem, Order, OrderItem, OrderLog
from models.payment import Payment, PaymentRefund, ShopPayConfig
from models.sale import CouponTemplate, MemberCoupon
from models.shop import Shop
from models.stats import DailyGoodsStat, DailyStat, RollupDay
from models.sysset import ShopSettings
from models.system import AdminUser, DatabaseIdentity, PlatformSettings
from models.tracking import ExpressCache
from models.user import Role, Staff
from models.wechat import ShopWechat, StaffWechat


def core_tables(db):
    create_tables(db, AdminUser, Shop, Staff, Member)


def event_outbox(db):
    create_tables(db, OutboxEvent)


def catalog(db):
    create_tables(db, Category, Goods, Sku, StockLedger, Banner, ShopSettings)


def members_and_money(db):
    for column in ("oa_openid", "gender", "total_spent_fen", "is_blacklisted", "tags"):
        add_column(db, Member, column)
    add_indexes(db, Member)
    create_tables(db, Address, MemberLevel, CreditLedger, IdempotencyKey, ShopWechat)


def orders(db):
    create_tables(db, Order, OrderItem, OrderLog, CartItem)


def wechat_pay(db):
    add_column(db, Order, "prepaid_at")
    create_tables(db, ShopPayConfig, Payment)


def wechat_pay_v2(db):
    for column in ("api_version", "v2_api_key", "v2_cert_pem", "v2_key_pem"):
        add_column(db, ShopPayConfig, column)


def group_buy(db):
    add_column(db, Order, "team_id")
    add_indexes(db, Order)
    create_tables(db, GroupActivity, GroupTeam, GroupMember)


def group_buy_campaign_details(db):
    for column in ("deleted", "simulate_min_paid", "pickup", "share_title", "share_image", "share_desc",
                   "service_contact", "content", "visits", "shares"):
        add_column(db, GroupActivity, column)
    add_column(db, GroupTeam, "closed_by")
    for column in ("activity_id", "pickup_code"):
        add_column(db, Order, column)
    add_indexes(db, Order)
    create_tables(db, AuditLog)


def promotions(db):
    for column in ("full_reduction_fen", "points_deduction_fen", "points_used", "discounts"):
        add_column(db, Order, column)
    create_tables(db, CouponTemplate, MemberCoupon)


def finance_and_distribution(db):
    for column in ("parent_id", "referred_by_id", "commission_fen", "commission_frozen_fen"):
        add_column(db, Member, column)
    add_indexes(db, Member)
    add_column(db, Goods, "commission_rates_bp")
    if is_mysql():  # "commission" is longer than the first ledger currencies
        db.execute_sql("ALTER TABLE credit_ledger MODIFY currency VARCHAR(10) NOT NULL")
    create_tables(db, Recharge, Withdrawal, Distributor, Commission)


def staff_roles_and_dashboard(db):
    for column in ("name", "role_id"):
        add_column(db, Staff, column)
    for model in (Order, Member, GroupTeam):
        add_indexes(db, model)
    create_tables(db, Role, PlatformSettings)


def dashboard_rollups(db):
    add_column(db, Member, "last_paid_at")
    db.execute(Member.update(last_paid_at=Order.select(fn.MAX(Order.paid_at)).where(Order.member_id == Member.id))
               .where(Member.last_paid_at.is_null()))
    for model in (Order, Member, GroupTeam):
        add_indexes(db, model)
    create_tables(db, DailyStat, DailyGoodsStat, RollupDay)


def database_identity(db):
    """A random identity for this database (see DatabaseIdentity) and a random token per outbox
    row; rows still waiting to be published get theirs now."""
    import secrets

    create_tables(db, DatabaseIdentity)
    if not DatabaseIdentity.select().exists():
        DatabaseIdentity.insert(value=secrets.token_hex(8)).execute()
    add_column(db, OutboxEvent, "token")
    for row in list(OutboxEvent.select(OutboxEvent.id).where(OutboxEvent.token.is_null())):
        OutboxEvent.update(token=secrets.token_hex(8)).where(OutboxEvent.id == row.id).execute()


def group_buy_sku_prices(db):
    add_column(db, GroupActivity, "sku_prices")


def flash_sales(db):
    add_column(db, Order, "flash_item_id")
    add_indexes(db, Order)
    create_tables(db, FlashSale, FlashItem)


def aftersales(db):
    """After-sales: the tables, the order's refunded amount, each line's paid share and held /
    refunded / restocked units, partial commission reversal, per-refund WeChat records. The
    order's old whole-order refund states become the new amounts: refunded (or approved) orders
    are `full`; a pending request becomes an after-sale of every line; rejected ones are `none`."""
    for column in ("refunded_fen", "completed_fen"):
        add_column(db, Order, column)
    for column in ("paid_fen", "points_used", "aftersale_quantity", "refunded_quantity", "restocked_quantity"):
        add_column(db, OrderItem, column)
    add_column(db, Commission, "reversed_fen")
    create_tables(db, AfterSale, AfterSaleItem, AfterSaleLog, PaymentRefund)
    db.execute(Order.update(refund_status="full", refunded_fen=Order.total_fen)
               .where(Order.refund_status.in_(["refunded", "approved"])))
    db.execute(Order.update(refund_status="none").where(Order.refund_status == "rejected"))
    db.execute(OrderItem.update(refunded_quantity=OrderItem.quantity, aftersale_quantity=OrderItem.quantity)
               .where(OrderItem.order_id.in_(Order.select(Order.id).where(Order.refund_status == "full"))))
    import datetime
    import secrets

    for order in list(Order.select().where(Order.refund_status == "requested")):
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)
        lines = list(OrderItem.select().where(OrderItem.order_id == order.id))
        row = AfterSale.create(shop_id=order.shop_id, order_id=order.id, member_id=order.member_id,
                               aftersale_no=f"AS{now:%Y%m%d%H%M%S}{secrets.randbelow(10**12):012d}", type="refund",
                               reason=order.refund_reason, goods_fen=order.total_fen - order.shipping_fee_fen,
                               shipping_fen=order.shipping_fee_fen, amount_fen=order.total_fen,
                               points=order.points_used, approve_due_at=now + datetime.timedelta(days=3))
        for line in lines:
            AfterSaleItem.create(shop_id=order.shop_id, aftersale_id=row.id, order_id=order.id, order_item_id=line.id,
                                 quantity=line.quantity, amount_fen=0)
        OrderItem.update(aftersale_quantity=OrderItem.quantity).where(OrderItem.order_id == order.id).execute()
        Order.update(refund_status="none").where(Order.id == order.id).execute()


def aftersale_shipping_and_line_commission(db):
    """Shipping is decided when a refund is paid, not asked for: open after-sales stop carrying it
    (they ask for goods only, a lowered amount capped at them). A request the deadline rule cannot
    approve has no deadline (NULL). Commission keeps each line's part (new rows only)."""
    drop_not_null(db, AfterSale, "approve_due_at")
    add_column(db, Commission, "lines")
    carrying = AfterSale.status.in_(["requested", "approved", "returned", "received"]) & (AfterSale.shipping_fen > 0)
    db.execute(AfterSale.update(amount_fen=AfterSale.goods_fen).where(carrying & (AfterSale.amount_fen > AfterSale.goods_fen)))
    db.execute(AfterSale.update(shipping_fen=0).where(carrying))


def import_maps(db):
    create_tables(db, ImportMap, ImportedOrder)


def wechat_notify(db):
    create_tables(db, NotifyTemplate, NotifyCredit, Notification, WechatShipment)


def express_cache(db):
    create_tables(db, ExpressCache)


def staff_wechat_alerts(db):
    """Official-account template messages to staff: their WeChat bindings, and a send-log row per
    staff member (the unique key gains staff_id; the new key is in place before the old one goes)."""
    create_tables(db, StaffWechat)
    add_column(db, Notification, "staff_id")
    add_indexes(db, Notification)
    drop_index(db, Notification, "notification_event_id_member_id_template_id")


def imported_orders_read_only(db):
    """Historic orders are marked on the order itself, so every move can refuse them without a join."""
    add_column(db, Order, "imported")
    add_column(db, ImportedOrder, "source_table")
    db.execute(Order.update(imported=True).where(Order.id.in_(ImportedOrder.select(ImportedOrder.order_id))))


MIGRATIONS = [
    (1, "platform and tenancy core", core_tables),
    (2, "event outbox", event_outbox),
    (3, "catalog, banners, shop settings", catalog),
    (4, "members: wechat, addresses, levels, ledgers, idempotency", members_and_money),
    (5, "orders and carts", orders),
    (6, "wechat pay", wechat_pay),
    (7, "wechat pay apiv2 keys", wechat_pay_v2),
    (8, "group-buy", group_buy),
    (9, "group-buy campaign details, pick-up codes, audit log", group_buy_campaign_details),
    (10, "promotions: coupons, order discount breakdown", promotions),
    (11, "finance and distribution: recharges, withdrawals, distributors, commissions", finance_and_distribution),
    (12, "staff roles, platform settings, dashboard indexes", staff_roles_and_dashboard),
    (13, "dashboard: covering indexes and daily rollups", dashboard_rollups),
    (14, "database identity and outbox row tokens for Redis keys", database_identity),
    (15, "group-buy: SKU prices", group_buy_sku_prices),
    (16, "flash sales", flash_sales),
    (17, "after-sales: line refunds, returns, exchanges", aftersales),
    (18, "after-sales: shipping decided at refund; deadlines the rule gives up; commission per line",
     aftersale_shipping_and_line_commission),
    (19, "import from ewei_shopv2: id map, historic order facts", import_maps),
    (20, "WeChat notifications and shipping-info upload", wechat_notify),
    (21, "parcel tracking cache", express_cache),
    (22, "WeChat alerts to staff: bindings, a send-log row per staff member", staff_wechat_alerts),
    (23, "imported orders are read-only; group-buy orders imported too", imported_orders_read_only),
]
