"""Shipping info to WeChat (发货信息管理): a mini-program merchant's money stays frozen until the
shipment of a WeChat-paid order is reported, so every shipped order is uploaded and retried until
WeChat accepts it. Re-uploading the same order is allowed by WeChat (it corrects the record), so a
retry after an unclear answer is harmless; a short claim only keeps two job runs off one row."""
from __future__ import annotations

import asyncio
import datetime
import json
import logging
import secrets

import requests
from wechatpy.exceptions import WeChatClientException

from lib.runtime import current
from models.base import iso, utcnow
from models.goods import Goods
from models.member import Member
from models.notify import WechatShipment
from models.order import Order, OrderItem
from models.payment import Payment
from models.wechat import ShopWechat
from services.notify import token as tokens
from services.notify.sending import TOKEN_ERRORS, _client

log = logging.getLogger("mall.notify")

CLAIM_S = 60  # a claimer dead longer than this loses the row to the next run
RETRY_BASE_S = 2
RETRY_MAX_S = 3600  # keep trying hourly: WeChat holds the money until it has the record
BATCH = 50
CHINA = datetime.timezone(datetime.timedelta(hours=8))
# WeChat's logistics_type: 1 express, 2 same-city delivery (no such mode here), 3 virtual goods, 4 pick-up
EXPRESS, VIRTUAL, PICKUP = 1, 3, 4


async def state(shop_id: int, order_id: int) -> dict | None:
    """The order's `wechat_shipping` for the merchant: None when nothing is reported for it."""
    row = await WechatShipment.aio_get_or_none((WechatShipment.shop_id == shop_id) & (WechatShipment.order_id == order_id))
    if row is None:
        return None
    return {"status": row.status, "errcode": row.errcode, "error": row.error, "attempts": row.attempts,
            "uploaded_at": iso(row.uploaded_at),
            "next_attempt_at": iso(row.next_attempt_at) if row.status != "uploaded" else None}


async def upload_due() -> int:
    now = utcnow()
    due = await (WechatShipment.select(WechatShipment.id)
                 .where(WechatShipment.status.in_(["pending", "failed"]) & (WechatShipment.next_attempt_at <= now)
                        & (WechatShipment.claimed_until.is_null() | (WechatShipment.claimed_until < now)))
                 .order_by(WechatShipment.id).limit(BATCH).aio_execute())
    count = 0
    for candidate in due:
        claim = secrets.token_hex(8)
        taken = await (WechatShipment.update(claim=claim, claimed_until=now + datetime.timedelta(seconds=CLAIM_S),
                                             attempts=WechatShipment.attempts + 1)
                       .where((WechatShipment.id == candidate.id) & (WechatShipment.status != "uploaded")
                              & (WechatShipment.claimed_until.is_null() | (WechatShipment.claimed_until < now)))
                       .aio_execute())
        if taken:
            count += 1
            await _upload(await WechatShipment.aio_get(WechatShipment.id == candidate.id))
    return count


def _mask(mobile: str) -> str:
    return mobile[:3] + "****" + mobile[-4:] if len(mobile) >= 8 else mobile


async def _body(row: WechatShipment) -> dict:
    order = await Order.aio_get((Order.shop_id == row.shop_id) & (Order.id == row.order_id))
    payment = await Payment.select().where((Payment.shop_id == row.shop_id) & (Payment.order_id == order.id)).aio_first()
    member = await Member.aio_get_or_none((Member.shop_id == row.shop_id) & (Member.id == order.member_id))
    lines = await OrderItem.select(OrderItem.title, OrderItem.goods_id).where(OrderItem.order_id == order.id).aio_execute()
    address = json.loads(order.address or "{}")
    item_desc = "、".join(line.title for line in lines)[:120] or order.order_no
    if order.pickup_code and not order.express_no:  # redeemed in store (核销)
        logistics, shipping_list = PICKUP, [{"item_desc": item_desc}]
    elif await _all_virtual(row.shop_id, [line.goods_id for line in lines]):
        # shipped through the usual ship action (its tracking fields are whatever the merchant typed),
        # but nothing travels: WeChat wants no tracking number for virtual goods
        logistics, shipping_list = VIRTUAL, [{"item_desc": item_desc}]
    else:
        logistics = EXPRESS
        shipping_list = [{"tracking_no": order.express_no, "express_company": order.express_company,
                          "item_desc": item_desc, "contact": {"receiver_contact": _mask(address.get("mobile", ""))}}]
    handed_over = order.shipped_at or order.completed_at or utcnow()  # shipped, or picked up
    return {"order_key": {"order_number_type": 2, "transaction_id": payment.transaction_id if payment else ""},
            "logistics_type": logistics, "delivery_mode": 1, "shipping_list": shipping_list,
            "upload_time": handed_over.replace(tzinfo=datetime.timezone.utc).astimezone(CHINA).isoformat(),
            "payer": {"openid": (member.openid or "") if member else ""}}


async def _all_virtual(shop_id: int, goods_ids: list[int]) -> bool:
    """Every line's goods is virtual (goods no longer found count as physical)."""
    wanted = set(goods_ids)
    virtual = await Goods.select().where((Goods.shop_id == shop_id) & Goods.id.in_(list(wanted))
                                         & (Goods.is_virtual == True)).aio_count()  # noqa: E712 (peewee)
    return bool(wanted) and virtual == len(wanted)


async def _upload(row: WechatShipment) -> None:
    config = await ShopWechat.aio_get_or_none(ShopWechat.shop_id == row.shop_id)
    if not (config and config.mini_app_id and config.mini_app_secret):
        await _settle(row, "failed", None, "the shop has no WeChat mini-program configured")
        return
    client = _client(config.mini_app_id, config.mini_app_secret)
    token = ""
    try:
        body = await _body(row)
        token = await tokens.access_token(client)
        url = current().config.wechat_api_base.rstrip("/") + "/wxa/sec/order/upload_shipping_info"
        await asyncio.get_running_loop().run_in_executor(None, _post, client, token, url, body)
    except WeChatClientException as exc:
        if exc.errcode in TOKEN_ERRORS and token:
            await tokens.forget(client.appid, token)
        response = getattr(exc, "response", None)
        reason = exc.errmsg or (f"HTTP {response.status_code}" if response is not None else "no answer")
        await _settle(row, "failed", exc.errcode, str(reason))
    except (requests.RequestException, TimeoutError) as exc:
        await _settle(row, "failed", None, f"WeChat unreachable: {type(exc).__name__}")
    except Exception as exc:
        log.exception("shipping upload %s failed unexpectedly", row.id)
        await _settle(row, "failed", None, f"unexpected error: {type(exc).__name__}")
    else:
        await _settle(row, "uploaded", 0, "")


def _post(client, token: str, url: str, body: dict) -> dict:
    client.session.set(client.access_token_key, token)
    client.expires_at = None
    return client.post(url, data=body)


async def _settle(row: WechatShipment, status: str, errcode, error: str) -> None:
    now = utcnow()
    changes = {"status": status, "errcode": errcode, "error": error[:255], "claimed_until": None}
    if status == "uploaded":
        changes["uploaded_at"] = now
    else:  # retried until WeChat accepts it, backing off to hourly
        changes["next_attempt_at"] = now + datetime.timedelta(seconds=min(RETRY_BASE_S * 2 ** (row.attempts - 1), RETRY_MAX_S))
    mine = (WechatShipment.id == row.id) & (WechatShipment.claim == row.claim)
    await WechatShipment.update(**changes).where(mine).aio_execute()
