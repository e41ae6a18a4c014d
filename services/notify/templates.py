"""Per-shop template settings: which WeChat template carries which event, and how its fields are
filled from the event (`{order_no}`, `{total_yuan}`, ...). Member events go out as mini-program
subscription messages; the `staff_*` events as official-account template messages to staff
(services/notify/staff.py), whose `page` is the web address the message opens."""
from __future__ import annotations

import json
import string

import events
from lib.errors import field_error
from models.base import utcnow
from models.notify import NotifyTemplate

# the event kinds a shop can map to a template, with the placeholders each offers
ORDER_VARS = ("order_no", "total_yuan", "goods_title", "status", "express_company", "express_no")
EVENTS = {
    "order_paid": ORDER_VARS,
    "order_shipped": ORDER_VARS,
    "team_success": ORDER_VARS + ("team_id", "team_size"),
    "team_failed": ORDER_VARS + ("team_id", "team_size"),
    "aftersale_status": ORDER_VARS + ("aftersale_id", "aftersale_status", "amount_yuan"),
    # a distributor's (or member's) withdrawal rejected or paid out; `result` is 已驳回 / 已到账
    "withdrawal_reviewed": ("withdrawal_id", "amount_yuan", "withdrawal_status", "result", "reject_reason"),
    # to staff (official account): a new paid order, a new refund / return / exchange request
    "staff_order_paid": ORDER_VARS + ("buyer",),
    "staff_aftersale_requested": ORDER_VARS + ("buyer", "aftersale_id", "aftersale_type", "amount_yuan", "reason"),
}
STAFF_EVENTS = frozenset({"staff_order_paid", "staff_aftersale_requested"})
# WeChat refuses a value longer than its field type allows (47003); the type is the key's name
# without its number (`thing1`, `character_string2`). A 20-character cut on every field would
# break order numbers (26 characters; `character_string` takes 32).
FIELD_VALUE_MAX = {"thing": 20, "character_string": 32, "number": 32, "letter": 32, "symbol": 5, "phrase": 5,
                   "name": 10, "phone_number": 17, "car_number": 8}
OTHER_FIELD_MAX = 200  # keys without a typed limit (the official account's first / keywordN / remark)


class _Vars(dict):
    def __missing__(self, key):
        return ""


def placeholders(text: str) -> list[str]:
    """The {name}s of a field's text. Only plain names: a format spec or conversion ({x:>9999999},
    {x!r}) is refused, since rendering runs inside the relay and must neither fail nor balloon."""
    names = []
    for _, name, spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if spec or conversion:
            raise ValueError(f"{{{name}}} may not carry a format spec or conversion")
        names.append(name)
    return names


def render(fields: dict, variables: dict) -> dict:
    """WeChat's `data`: {key: {"value": text}} with the placeholders filled in."""
    values = _Vars({k: "" if v is None else str(v) for k, v in variables.items()})
    return {key: {"value": text.format_map(values)[:FIELD_VALUE_MAX.get(key.rstrip("0123456789"), OTHER_FIELD_MAX)]}
            for key, text in fields.items()}


def render_template(row: NotifyTemplate) -> dict:
    return {"event": row.event, "template_id": row.template_id, "page": row.page, "fields": json.loads(row.fields)}


async def list_templates(shop_id: int) -> dict:
    rows = await NotifyTemplate.select().where(NotifyTemplate.shop_id == shop_id).order_by(NotifyTemplate.event).aio_execute()
    return {"items": [render_template(row) for row in rows], "events": {k: list(v) for k, v in EVENTS.items()},
            "official_account_events": sorted(STAFF_EVENTS)}


def _check(index: int, entry: dict) -> None:
    if entry["event"] not in EVENTS:
        raise field_error(f"templates.{index}.event", f"one of {', '.join(EVENTS)}")
    page = entry.get("page") or ""
    if entry["event"] in STAFF_EVENTS and page and not page.startswith(("https://", "http://")):
        raise field_error(f"templates.{index}.page", "for an official-account message, an http(s) address or empty")
    for key, text in entry["fields"].items():
        try:
            names = placeholders(text)
        except ValueError as exc:
            raise field_error(f"templates.{index}.fields.{key}", f"not a valid text with placeholders: {exc}") from None
        unknown = [name for name in names if name not in EVENTS[entry["event"]]]
        if unknown:
            raise field_error(f"templates.{index}.fields.{key}",
                              f"unknown placeholder {{{unknown[0]}}}; {entry['event']} offers "
                              + ", ".join(EVENTS[entry["event"]]))


async def save_templates(shop_id: int, entries: list[dict]) -> dict:
    """Replace the shop's mapping with `entries` (one per event kind)."""
    seen = set()
    for index, entry in enumerate(entries):
        _check(index, entry)
        if entry["event"] in seen:
            raise field_error(f"templates.{index}.event", "each event kind at most once")
        seen.add(entry["event"])
    async def replace():
        await NotifyTemplate.delete().where(NotifyTemplate.shop_id == shop_id).aio_execute()
        for entry in entries:
            await NotifyTemplate.aio_create(shop_id=shop_id, event=entry["event"], template_id=entry["template_id"],
                                            page=entry.get("page") or "", updated_at=utcnow(),
                                            fields=json.dumps(entry["fields"], ensure_ascii=False))
    await events.transaction(replace)
    return await list_templates(shop_id)


async def templates_for(shop_id: int) -> dict[str, NotifyTemplate]:
    rows = await NotifyTemplate.select().where(NotifyTemplate.shop_id == shop_id).aio_execute()
    return {row.event: row for row in rows}
