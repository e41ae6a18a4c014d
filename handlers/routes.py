"""The route table: every URL of the REST API and the WebSocket, in one place."""
from __future__ import annotations

import tornado.web

from handlers import health, ws
from handlers.admin import auth as admin_auth, metrics as admin_metrics, push as admin_push, shops as admin_shops
from handlers.base import NotFoundHandler, log_request
from handlers.merchant import auth as merchant_auth, members as merchant_members
from handlers.mobile import auth as mobile_auth, me as mobile_me

ID = r"(\d{1,18})"  # path ids: digits only, and small enough for every database's integer
SHOP = r"/api/mobile/" + ID

ROUTES = [
    (r"/api/health", health.HealthHandler),
    (r"/ws", ws.WsHandler),
    # platform
    (r"/api/admin/auth/login", admin_auth.LoginHandler),
    (r"/api/admin/shops", admin_shops.ShopsHandler),
    (rf"/api/admin/shops/{ID}", admin_shops.ShopHandler),
    (r"/api/admin/metrics", admin_metrics.MetricsHandler),
    (r"/api/admin/events/test", admin_push.TestPushHandler),
    # merchant back-office
    (r"/api/merchant/auth/login", merchant_auth.LoginHandler),
    (r"/api/merchant/me", merchant_auth.MeHandler),
    (r"/api/merchant/members", merchant_members.MembersHandler),
    (rf"/api/merchant/members/{ID}", merchant_members.MemberHandler),
    # shoppers
    (rf"{SHOP}/auth/register", mobile_auth.RegisterHandler),
    (rf"{SHOP}/auth/login", mobile_auth.LoginHandler),
    (rf"{SHOP}/me", mobile_me.MeHandler),
]


def make_app(config) -> tornado.web.Application:
    return tornado.web.Application(
        ROUTES,
        default_handler_class=NotFoundHandler,
        log_function=log_request,
        compress_response=True,
        websocket_ping_interval=config.ws_ping_interval_seconds,
        websocket_ping_timeout=config.ws_ping_interval_seconds,
        websocket_max_message_size=ws.MAX_FRAME_BYTES,
    )
