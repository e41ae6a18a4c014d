"""Notifications sent through WeChat to shoppers who are not watching, and shipments reported to
WeChat. The unique keys are what make "at most once" hold across processes and restarts."""
import peewee

from models.base import ShopScoped, utcnow


class NotifyTemplate(ShopScoped):
    """Per shop and event kind: which WeChat template carries it and how its fields are filled."""

    event = peewee.CharField(max_length=32)  # order_paid | order_shipped | team_success | ...
    template_id = peewee.CharField(max_length=128)
    page = peewee.CharField(max_length=255, default="")  # the mini-program page the message opens
    fields = peewee.TextField(default="{}")  # JSON {wechat key: "text with {placeholders}"}
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("shop_id", "event"), True),)


class NotifyCredit(ShopScoped):
    """One-time subscription consent: each accepted wx.requestSubscribeMessage adds one send."""

    member_id = peewee.IntegerField()
    template_id = peewee.CharField(max_length=128)
    credits = peewee.IntegerField(default=0)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("shop_id", "member_id", "template_id"), True),)


class Notification(ShopScoped):
    """One message about one outbox event, to one member (a mini-program subscription message) or
    to one staff member (an official-account template message); the send log. The unique key
    (event_id, member_id, staff_id, template_id) lets every relay in every process offer the same
    event any number of times and still yield one row per recipient, hence at most one send."""

    event_id = peewee.BigIntegerField()  # the outbox row
    event = peewee.CharField(max_length=32)  # the kind (a NotifyTemplate.event)
    member_id = peewee.IntegerField()  # the member it is for, or (staff messages) whose order it is about
    staff_id = peewee.IntegerField(default=0)  # 0: to the member; else to this staff member
    openid = peewee.CharField(max_length=64, default="")
    template_id = peewee.CharField(max_length=128)
    payload = peewee.TextField(default="{}")  # JSON: the data and page as they will be sent
    status = peewee.CharField(max_length=16, default="pending", index=True)
    credit_spent = peewee.BooleanField(default=False)
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.DateTimeField(default=utcnow)
    claim = peewee.CharField(max_length=16, default="")  # random per attempt: only its claimer settles it
    claimed_at = peewee.DateTimeField(null=True)
    errcode = peewee.IntegerField(null=True)
    error = peewee.CharField(max_length=255, default="")
    created_at = peewee.DateTimeField(default=utcnow)
    sent_at = peewee.DateTimeField(null=True)

    class Meta:
        indexes = ((("event_id", "member_id", "staff_id", "template_id"), True),
                   (("status", "next_attempt_at"), False))


class WechatShipment(ShopScoped):
    """A shipment to report to WeChat (发货信息管理) for a WeChat-paid mini-program order."""

    order_id = peewee.IntegerField(unique=True)
    status = peewee.CharField(max_length=16, default="pending", index=True)  # pending | uploaded | failed
    attempts = peewee.IntegerField(default=0)
    next_attempt_at = peewee.DateTimeField(default=utcnow)
    claim = peewee.CharField(max_length=16, default="")
    claimed_until = peewee.DateTimeField(null=True)
    errcode = peewee.IntegerField(null=True)
    error = peewee.CharField(max_length=255, default="")
    created_at = peewee.DateTimeField(default=utcnow)
    uploaded_at = peewee.DateTimeField(null=True)
