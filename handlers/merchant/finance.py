"""Money in the back-office: withdrawals to review, the shop ledger (also as CSV), daily totals, distributors."""
import datetime

import pydantic

from handlers import schemas
from handlers.base import MerchantHandler, RequestBody
from handlers.schemas import returns
from lib.errors import invalid
from models.base import utcnow
from services import distribution, finance

MAX_REPORT_DAYS = 366


class RejectBody(RequestBody):
    reason: pydantic.constr(min_length=1, max_length=255) = pydantic.Field(
        description="why, shown to the member", examples=["资料不全"])


class WithdrawalsHandler(MerchantHandler):
    permissions = {"GET": "finance.view"}

    @returns(schemas.Withdrawal, paged=True)
    async def get(self):
        """List withdrawal requests."""
        page, page_size = self.page_args()
        status = self.choice_arg("status", ("pending", "approved", "paid", "rejected"))
        self.send(await finance.list_withdrawals(self.shop_id, page, page_size,
                                                 member_id=self.int_arg("member_id", minimum=1), status=status))


class WithdrawalApproveHandler(MerchantHandler):
    permissions = {"POST": "finance.withdraw.review"}

    @returns(schemas.Withdrawal)
    async def post(self, withdrawal_id):
        """Approve a withdrawal request."""
        self.send(await finance.approve_withdrawal(self.shop_id, int(withdrawal_id), self.staff.id))


class WithdrawalRejectHandler(MerchantHandler):
    permissions = {"POST": "finance.withdraw.review"}

    @returns(schemas.Withdrawal)
    async def post(self, withdrawal_id):
        """Reject a withdrawal request."""
        body = self.body(RejectBody)
        self.send(await finance.reject_withdrawal(self.shop_id, int(withdrawal_id), self.staff.id, body.reason))


class LedgerFilters(MerchantHandler):
    def filters(self) -> dict:
        end = self.date_arg("to")
        return {"currency": self.choice_arg("currency", ("balance", "points", "commission")),
                "type_": (self.get_query_argument("type", None) or None),
                "start": self.date_arg("from"), "end": end + datetime.timedelta(days=1) if end else None,
                "member_id": self.int_arg("member_id", minimum=1)}


class LedgerHandler(LedgerFilters):
    """Every money movement of the shop, newest first; filter by currency, type, member, dates."""
    permissions = {"GET": "finance.view"}

    @returns(schemas.ShopLedgerEntry, paged=True)
    async def get(self):
        page, page_size = self.page_args()
        self.send(await finance.shop_ledger(self.shop_id, page, page_size, **self.filters()))


class LedgerCsvHandler(LedgerFilters):
    """The same rows as CSV, streamed page by page."""
    permissions = {"GET": "finance.export"}

    async def get(self):
        filters = self.filters()
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", 'attachment; filename="ledger.csv"')
        self.write("\ufeff")  # a BOM, so spreadsheet programs read the Chinese as UTF-8
        async for chunk in finance.ledger_csv(self.shop_id, **filters):
            self.write(chunk)
            await self.flush()
        self.finish()


class DailyHandler(MerchantHandler):
    """Per-day totals: paid, refunded, recharged, withdrawn, commission (UTC days, `from`..`to` inclusive)."""
    permissions = {"GET": "finance.view"}

    @returns(schemas.listed(schemas.DailyTotals))
    async def get(self):
        today = utcnow().replace(hour=0, minute=0, second=0)
        end = (self.date_arg("to") or today) + datetime.timedelta(days=1)
        start = self.date_arg("from") or end - datetime.timedelta(days=30)
        if not start < end or (end - start).days > MAX_REPORT_DAYS:
            raise invalid(f"from..to must span 1 to {MAX_REPORT_DAYS} days", {"fields": [{"field": "from"}]})
        self.send({"items": await finance.daily_totals(self.shop_id, start, end)})


class DistributorsHandler(MerchantHandler):
    permissions = {"GET": "distribution.view"}

    @returns(schemas.Distributor, paged=True)
    async def get(self):
        """List distributors and applications."""
        page, page_size = self.page_args()
        status = self.choice_arg("status", ("pending", "approved", "rejected"))
        self.send(await distribution.list_distributors(self.shop_id, status, page, page_size))


class DistributorReviewHandler(MerchantHandler):
    permissions = {"POST": "distribution.review"}

    @returns(schemas.Distributor)
    async def post(self, distributor_id, action):
        """Approve or reject a distributor application."""
        reason = self.body(RejectBody).reason if action == "reject" else ""
        self.send(await distribution.review(self.shop_id, int(distributor_id), action == "approve", reason))
