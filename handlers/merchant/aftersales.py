"""The merchant's after-sales desk: list, approve (with the amount and where returns go), reject,
receive returned parcels, reship exchanges."""
import pydantic

from handlers import schemas
from handlers.base import MerchantHandler, RequestBody
from handlers.schemas import returns
from lib.errors import field_error
from models.aftersale import TYPES
from services.orders import aftersales

STATUSES = ("requested", "approved", "returned", "received", "refunded", "exchanged", "rejected", "cancelled")


class ReturnAddressBody(RequestBody):
    name: pydantic.constr(min_length=1, max_length=64)
    mobile: pydantic.constr(min_length=1, max_length=20)
    province: pydantic.constr(max_length=32) = ""
    city: pydantic.constr(max_length=32) = ""
    district: pydantic.constr(max_length=32) = ""
    detail: pydantic.constr(min_length=1, max_length=255)


class ApproveBody(RequestBody):
    amount_fen: pydantic.conint(ge=0, le=10**12) | None = None  # less than asked for (a partial refund)
    return_address: ReturnAddressBody | None = None


class RejectBody(RequestBody):
    reason: pydantic.constr(min_length=1, max_length=255)


class ReshipBody(RequestBody):
    express_company: pydantic.constr(min_length=1, max_length=64)
    express_no: pydantic.constr(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")


class AfterSalesHandler(MerchantHandler):
    permissions = {"GET": "orders.view"}

    @returns(schemas.AfterSale, paged=True)
    async def get(self):
        """List after-sale requests."""
        page, page_size = self.page_args()
        status, type_ = self.get_query_argument("status", None) or None, self.get_query_argument("type", None) or None
        if status is not None and status not in STATUSES:
            raise field_error("status", f"one of {', '.join(STATUSES)}")
        if type_ is not None and type_ not in TYPES:
            raise field_error("type", f"one of {', '.join(TYPES)}")
        self.send(await aftersales.list_aftersales(self.shop_id, page, page_size, status=status, type_=type_))


class AfterSaleHandler(MerchantHandler):
    permissions = {"GET": "orders.view"}

    @returns(schemas.AfterSale)
    async def get(self, aftersale_id):
        """Read an after-sale request."""
        self.send(await aftersales.detail(self.shop_id, int(aftersale_id)))


class ApproveHandler(MerchantHandler):
    permissions = {"POST": "orders.refund"}

    @returns(schemas.AfterSale)
    async def post(self, aftersale_id):
        """Approve an after-sale request."""
        body = self.body(ApproveBody)
        self.send(await aftersales.approve(self.shop_id, int(aftersale_id), self.staff.id, body.amount_fen,
                                           body.return_address.model_dump() if body.return_address else None))


class RejectHandler(MerchantHandler):
    permissions = {"POST": "orders.refund"}

    @returns(schemas.AfterSale)
    async def post(self, aftersale_id):
        """Reject an after-sale request."""
        self.send(await aftersales.reject(self.shop_id, int(aftersale_id), self.staff.id, self.body(RejectBody).reason))


class ReceiveHandler(MerchantHandler):
    permissions = {"POST": "orders.refund"}

    @returns(schemas.AfterSale)
    async def post(self, aftersale_id):
        """Confirm the returned goods arrived."""
        self.send(await aftersales.receive(self.shop_id, int(aftersale_id), self.staff.id))


class ReshipHandler(MerchantHandler):
    permissions = {"POST": "orders.ship"}

    @returns(schemas.AfterSale)
    async def post(self, aftersale_id):
        """Ship the replacement of an exchange."""
        body = self.body(ReshipBody)
        self.send(await aftersales.reship(self.shop_id, int(aftersale_id), self.staff.id, body.express_company,
                                          body.express_no))
