"""The migration list. Append new steps; never edit one that has shipped."""
from models.events import OutboxEvent
from models.member import Member
from models.migrations import create_tables
from models.shop import Shop
from models.system import AdminUser
from models.user import Staff


def core_tables(db):
    create_tables(db, AdminUser, Shop, Staff, Member)


def event_outbox(db):
    create_tables(db, OutboxEvent)


MIGRATIONS = [
    (1, "platform and tenancy core", core_tables),
    (2, "event outbox", event_outbox),
]
