"""The migration list. Append new steps; never edit one that has shipped."""
from models.adv import Banner
from models.events import OutboxEvent
from models.goods import Category, Goods, Sku, StockLedger
from models.member import Member
from models.migrations import create_tables
from models.shop import Shop
from models.sysset import ShopSettings
from models.system import AdminUser
from models.user import Staff


def core_tables(db):
    create_tables(db, AdminUser, Shop, Staff, Member)


def event_outbox(db):
    create_tables(db, OutboxEvent)


def catalog(db):
    create_tables(db, Category, Goods, Sku, StockLedger, Banner, ShopSettings)


MIGRATIONS = [
    (1, "platform and tenancy core", core_tables),
    (2, "event outbox", event_outbox),
    (3, "catalog, banners, shop settings", catalog),
]
