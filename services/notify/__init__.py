"""WeChat reaching shoppers who are not watching: subscription messages from committed outbox
events (consent credits, per-shop templates, a send log), and shipping info reported to WeChat.

Fed by the relay (events.relay.consume -> intake.take_events); driven by the timed job in
tasks/notify.py (sending.send_due, shipping.upload_due).
"""
from services.notify.intake import take_events
from services.notify.sending import STATUSES, credits, grant, list_log, send_due
from services.notify.shipping import state as shipping_state
from services.notify.shipping import upload_due
from services.notify.templates import EVENTS, list_templates, save_templates

__all__ = ["take_events", "STATUSES", "credits", "grant", "list_log", "send_due", "shipping_state", "upload_due",
           "EVENTS", "list_templates", "save_templates"]
