"""The route table: every URL of the REST API and the WebSocket, in one place."""
from __future__ import annotations

import re
from pathlib import Path

import tornado.routing
import tornado.web

from handlers import docs, health, pay, ws
from handlers.admin import auth as admin_auth
from handlers.admin import metrics as admin_metrics
from handlers.admin import platform as admin_platform
from handlers.admin import push as admin_push
from handlers.admin import shops as admin_shops
from handlers.base import NotFoundHandler, StaticFiles, log_request
from handlers.merchant import adv as merchant_adv
from handlers.merchant import aftersales as merchant_aftersales
from handlers.merchant import auth as merchant_auth
from handlers.merchant import finance as merchant_finance
from handlers.merchant import flash as merchant_flash
from handlers.merchant import goods as merchant_goods
from handlers.merchant import groups as merchant_groups
from handlers.merchant import members as merchant_members
from handlers.merchant import notifications as merchant_notifications
from handlers.merchant import orders as merchant_orders
from handlers.merchant import sale as merchant_sale
from handlers.merchant import settings as merchant_settings
from handlers.merchant import staff as merchant_staff
from handlers.mobile import addresses as mobile_addresses
from handlers.mobile import aftersales as mobile_aftersales
from handlers.mobile import auth as mobile_auth
from handlers.mobile import catalog as mobile_catalog
from handlers.mobile import finance as mobile_finance
from handlers.mobile import flash as mobile_flash
from handlers.mobile import groups as mobile_groups
from handlers.mobile import me as mobile_me
from handlers.mobile import orders as mobile_orders
from handlers.mobile import sale as mobile_sale

ID = r"(\d{1,18})"  # path ids: digits only, and small enough for every database's integer
SHOP = r"/api/mobile/" + ID

STATIC = Path(__file__).resolve().parent.parent / "static"

ROUTES = [
    (r"/", docs.LandingHandler),
    (r"/api/health", health.HealthHandler),
    (r"/api/openapi.json", docs.OpenApiHandler),
    (r"/api/asyncapi.json", docs.AsyncApiHandler),
    (r"/api/docs", docs.DocsHandler),
    (r"/api/docs/websocket\.md", docs.WebSocketGuideHandler),
    (r"/api/docs/assets/(.*)", docs.AssetsHandler, {"path": str(docs.ASSETS)}),
    (r"/demo/?()", StaticFiles, {"path": str(STATIC / "demo"), "default_filename": "index.html"}),
    (r"/demo/(.+)", StaticFiles, {"path": str(STATIC / "demo")}),
    (r"/ws", ws.WsHandler),
    (rf"/api/pay/wechat/v3/notify/{ID}", pay.WechatV3NotifyHandler),
    (rf"/api/pay/wechat/v2/notify/{ID}", pay.WechatV2NotifyHandler),
    # platform
    (r"/api/admin/auth/login", admin_auth.LoginHandler),
    (r"/api/admin/shops", admin_shops.ShopsHandler),
    (rf"/api/admin/shops/{ID}", admin_shops.ShopHandler),
    (rf"/api/admin/shops/{ID}/audit", admin_platform.ShopAuditHandler),
    (r"/api/admin/admins", admin_platform.AdminsHandler),
    (rf"/api/admin/admins/{ID}", admin_platform.AdminUserHandler),
    (r"/api/admin/settings", admin_platform.PlatformSettingsHandler),
    (r"/api/admin/stats", admin_platform.StatsHandler),
    (r"/api/admin/metrics", admin_metrics.MetricsHandler),
    (r"/api/admin/events/test", admin_push.TestPushHandler),
    # merchant back-office
    (r"/api/merchant/auth/login", merchant_auth.LoginHandler),
    (r"/api/merchant/me", merchant_auth.MeHandler),
    (r"/api/merchant/me/wechat", merchant_notifications.MyWechatHandler),
    (r"/api/merchant/members", merchant_members.MembersHandler),
    (rf"/api/merchant/members/{ID}", merchant_members.MemberHandler),
    (rf"/api/merchant/members/{ID}/balance", merchant_members.BalanceHandler),
    (rf"/api/merchant/members/{ID}/points", merchant_members.PointsHandler),
    (rf"/api/merchant/members/{ID}/ledger", merchant_members.MemberLedgerHandler),
    (r"/api/merchant/levels", merchant_members.LevelsHandler),
    (rf"/api/merchant/levels/{ID}", merchant_members.LevelHandler),
    (r"/api/merchant/wechat", merchant_members.WechatConfigHandler),
    (r"/api/merchant/categories", merchant_goods.CategoriesHandler),
    (rf"/api/merchant/categories/{ID}", merchant_goods.CategoryHandler),
    (r"/api/merchant/goods", merchant_goods.GoodsListHandler),
    (r"/api/merchant/goods/shelf", merchant_goods.ShelfHandler),
    (rf"/api/merchant/goods/{ID}", merchant_goods.GoodsHandler),
    (rf"/api/merchant/goods/{ID}/stock", merchant_goods.StockHandler),
    (rf"/api/merchant/goods/{ID}/stock-ledger", merchant_goods.StockLedgerHandler),
    (r"/api/merchant/banners", merchant_adv.BannersHandler),
    (rf"/api/merchant/banners/{ID}", merchant_adv.BannerHandler),
    (r"/api/merchant/settings", merchant_settings.SettingsHandler),
    (r"/api/merchant/payment/wechat", merchant_settings.WechatPayHandler),
    (r"/api/merchant/groups/activities", merchant_groups.ActivitiesHandler),
    (rf"/api/merchant/groups/activities/{ID}", merchant_groups.ActivityHandler),
    (r"/api/merchant/groups/teams", merchant_groups.TeamsHandler),
    (rf"/api/merchant/groups/teams/{ID}", merchant_groups.TeamHandler),
    (rf"/api/merchant/groups/teams/{ID}/end", merchant_groups.EndTeamHandler),
    (r"/api/merchant/groups/redeem", merchant_groups.RedeemHandler),
    (r"/api/merchant/flash/sales", merchant_flash.SalesHandler),
    (rf"/api/merchant/flash/sales/{ID}", merchant_flash.SaleHandler),
    (rf"/api/merchant/flash/sales/{ID}/stats", merchant_flash.SaleStatsHandler),
    (r"/api/merchant/permissions", merchant_staff.PermissionsHandler),
    (r"/api/merchant/staff", merchant_staff.StaffListHandler),
    (rf"/api/merchant/staff/{ID}", merchant_staff.StaffHandler),
    (r"/api/merchant/roles", merchant_staff.RolesHandler),
    (rf"/api/merchant/roles/{ID}", merchant_staff.RoleHandler),
    (r"/api/merchant/audit", merchant_staff.AuditHandler),
    (r"/api/merchant/dashboard", merchant_staff.DashboardHandler),
    (r"/api/merchant/withdrawals", merchant_finance.WithdrawalsHandler),
    (rf"/api/merchant/withdrawals/{ID}/approve", merchant_finance.WithdrawalApproveHandler),
    (rf"/api/merchant/withdrawals/{ID}/reject", merchant_finance.WithdrawalRejectHandler),
    (r"/api/merchant/finance/ledger", merchant_finance.LedgerHandler),
    (r"/api/merchant/finance/ledger\.csv", merchant_finance.LedgerCsvHandler),
    (r"/api/merchant/finance/daily", merchant_finance.DailyHandler),
    (r"/api/merchant/distributors", merchant_finance.DistributorsHandler),
    (rf"/api/merchant/distributors/{ID}/(approve|reject)", merchant_finance.DistributorReviewHandler),
    (r"/api/merchant/coupons", merchant_sale.CouponsHandler),
    (rf"/api/merchant/coupons/{ID}", merchant_sale.CouponHandler),
    (rf"/api/merchant/coupons/{ID}/issue", merchant_sale.IssueHandler),
    (r"/api/merchant/orders", merchant_orders.OrdersHandler),
    (rf"/api/merchant/orders/{ID}", merchant_orders.OrderHandler),
    (rf"/api/merchant/orders/{ID}/ship", merchant_orders.ShipHandler),
    (rf"/api/merchant/orders/{ID}/tracking", merchant_orders.TrackingHandler),
    (rf"/api/merchant/orders/{ID}/refund/approve", merchant_orders.RefundApproveHandler),
    (rf"/api/merchant/orders/{ID}/refund/reject", merchant_orders.RefundRejectHandler),
    (rf"/api/merchant/orders/{ID}/price", merchant_orders.PriceHandler),
    (rf"/api/merchant/orders/{ID}/close", merchant_orders.CloseHandler),
    (rf"/api/merchant/orders/{ID}/remark", merchant_orders.RemarkHandler),
    (r"/api/merchant/notifications", merchant_notifications.NotificationsHandler),
    (r"/api/merchant/notifications/templates", merchant_notifications.TemplatesHandler),
    (r"/api/merchant/aftersales", merchant_aftersales.AfterSalesHandler),
    (rf"/api/merchant/aftersales/{ID}", merchant_aftersales.AfterSaleHandler),
    (rf"/api/merchant/aftersales/{ID}/approve", merchant_aftersales.ApproveHandler),
    (rf"/api/merchant/aftersales/{ID}/reject", merchant_aftersales.RejectHandler),
    (rf"/api/merchant/aftersales/{ID}/receive", merchant_aftersales.ReceiveHandler),
    (rf"/api/merchant/aftersales/{ID}/reship", merchant_aftersales.ReshipHandler),
    # shoppers
    (rf"{SHOP}/auth/register", mobile_auth.RegisterHandler),
    (rf"{SHOP}/auth/login", mobile_auth.LoginHandler),
    (rf"{SHOP}/auth/wechat", mobile_auth.WechatLoginHandler),
    (rf"{SHOP}/auth/wechat-oa", mobile_auth.WechatOaLoginHandler),
    (rf"{SHOP}/me", mobile_me.MeHandler),
    (rf"{SHOP}/me/mobile", mobile_me.BindMobileHandler),
    (rf"{SHOP}/me/ledger", mobile_me.LedgerHandler),
    (rf"{SHOP}/me/subscriptions", mobile_me.SubscriptionsHandler),
    (rf"{SHOP}/addresses", mobile_addresses.AddressesHandler),
    (rf"{SHOP}/addresses/{ID}", mobile_addresses.AddressHandler),
    (rf"{SHOP}/recharges", mobile_finance.RechargesHandler),
    (rf"{SHOP}/withdrawals", mobile_finance.WithdrawalsHandler),
    (rf"{SHOP}/distribution", mobile_finance.DistributionHandler),
    (rf"{SHOP}/distribution/apply", mobile_finance.ApplyHandler),
    (rf"{SHOP}/distribution/bind", mobile_finance.BindHandler),
    (rf"{SHOP}/distribution/team", mobile_finance.TeamHandler),
    (rf"{SHOP}/distribution/commissions", mobile_finance.CommissionsHandler),
    (rf"{SHOP}/coupons", mobile_sale.ClaimCentreHandler),
    (rf"{SHOP}/coupons/{ID}/claim", mobile_sale.ClaimHandler),
    (rf"{SHOP}/coupons/for-cart", mobile_sale.CouponsForCartHandler),
    (rf"{SHOP}/me/coupons", mobile_sale.MyCouponsHandler),
    (rf"{SHOP}/groups/activities", mobile_groups.ActivitiesHandler),
    (rf"{SHOP}/groups/activities/{ID}", mobile_groups.ActivityHandler),
    (rf"{SHOP}/groups/activities/{ID}/buy-alone", mobile_groups.BuyAloneHandler),
    (rf"{SHOP}/groups/activities/{ID}/share", mobile_groups.ShareHandler),
    (rf"{SHOP}/groups/teams", mobile_groups.TeamsHandler),
    (rf"{SHOP}/groups/my-teams", mobile_groups.MyTeamsHandler),
    (rf"{SHOP}/groups/teams/{ID}", mobile_groups.TeamHandler),
    (rf"{SHOP}/groups/teams/{ID}/join", mobile_groups.JoinHandler),
    (rf"{SHOP}/flash/sales", mobile_flash.SalesHandler),
    (rf"{SHOP}/flash/sales/{ID}", mobile_flash.SaleHandler),
    (rf"{SHOP}/flash/sales/{ID}/orders", mobile_flash.SaleOrdersHandler),
    (rf"{SHOP}/cart", mobile_orders.CartHandler),
    (rf"{SHOP}/cart/{ID}", mobile_orders.CartItemHandler),
    (rf"{SHOP}/orders/preview", mobile_orders.PreviewHandler),
    (rf"{SHOP}/orders", mobile_orders.OrdersHandler),
    (rf"{SHOP}/orders/{ID}", mobile_orders.OrderHandler),
    (rf"{SHOP}/orders/{ID}/pay", mobile_orders.PayHandler),
    (rf"{SHOP}/orders/{ID}/cancel", mobile_orders.CancelHandler),
    (rf"{SHOP}/orders/{ID}/confirm", mobile_orders.ConfirmHandler),
    (rf"{SHOP}/orders/{ID}/tracking", mobile_orders.TrackingHandler),
    (rf"{SHOP}/orders/{ID}/refund", mobile_orders.RefundHandler),
    (rf"{SHOP}/orders/{ID}/aftersales", mobile_aftersales.OrderAfterSalesHandler),
    (rf"{SHOP}/aftersales", mobile_aftersales.AfterSalesHandler),
    (rf"{SHOP}/aftersales/{ID}", mobile_aftersales.AfterSaleHandler),
    (rf"{SHOP}/aftersales/{ID}/ship", mobile_aftersales.AfterSaleShipHandler),
    (rf"{SHOP}/aftersales/{ID}/cancel", mobile_aftersales.AfterSaleCancelHandler),
    (rf"{SHOP}/categories", mobile_catalog.CategoriesHandler),
    (rf"{SHOP}/goods", mobile_catalog.GoodsListHandler),
    (rf"{SHOP}/goods/{ID}", mobile_catalog.GoodsHandler),
    (rf"{SHOP}/banners", mobile_catalog.BannersHandler),
    (rf"{SHOP}/settings", mobile_catalog.SettingsHandler),
]


_SECTION = re.compile(r"^(/api/mobile/\(\\d\{1,18\}\)|/api/merchant|/api/admin)/([a-z-]+)")


def by_section(routes: list) -> list:
    """The same routes, those of each API section (`/api/merchant/goods...`, `/api/mobile/{shop}/orders...`)
    behind one rule for the section: Tornado tries rules in order, so a request no longer runs
    the regex of every route before its own (the shopper's goods page was the 140th)."""
    nested: dict[str, list] = {}
    rules: list = []
    for route in routes:
        found = _SECTION.match(route[0])
        if found is None:
            rules.append(route)
            continue
        prefix = found.group(0)
        if prefix not in nested:
            nested[prefix] = []
            rules.append(tornado.routing.Rule(tornado.routing.PathMatches(prefix + r"(?:/.*)?$"), nested[prefix]))
        nested[prefix].append(route)
    return rules


def make_app(config) -> tornado.web.Application:
    return tornado.web.Application(
        by_section(ROUTES),
        route_table=ROUTES,  # what /api/openapi.json describes
        default_handler_class=NotFoundHandler,
        log_function=log_request,
        compress_response=True,
        # no websocket_ping_interval: Tornado would keep a sleeping Task per connection; the
        # process's heartbeat pings them all from one timer (events.connections, started with
        # config.ws_ping_interval_seconds)
        websocket_max_message_size=ws.MAX_FRAME_BYTES,
    )
