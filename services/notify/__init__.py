"""WeChat reaching people who are not watching: shoppers' subscription messages from committed
outbox events (consent credits, per-shop templates, a send log), staff alerts as official-account
template messages (each staff member binds their WeChat), and shipping info reported to WeChat.

Fed by the relay (events.relay.consume -> intake.take_events); driven by the timed job in
tasks/notify.py (sending.send_due, shipping.upload_due).
"""
from services.notify.intake import take_events
from services.notify.sending import STATUSES, credits, grant, list_log, send_due
from services.notify.shipping import state as shipping_state
from services.notify.shipping import upload_due
from services.notify.staff import bind as bind_staff_wechat
from services.notify.staff import binding as staff_wechat
from services.notify.staff import unbind as unbind_staff_wechat
from services.notify.templates import EVENTS, list_templates, save_templates

__all__ = ["take_events", "STATUSES", "credits", "grant", "list_log", "send_due", "shipping_state", "upload_due",
           "EVENTS", "list_templates", "save_templates", "bind_staff_wechat", "staff_wechat", "unbind_staff_wechat"]
