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


Field = pydantic.Field


class ReturnAddressBody(RequestBody):
    name: pydantic.constr(min_length=1, max_length=64) = Field(description="recipient", examples=["王五"])
    mobile: pydantic.constr(min_length=1, max_length=20) = Field(description="recipient's phone",
                                                                 examples=["13912345678"])
    province: pydantic.constr(max_length=32) = Field("", description="province")
    city: pydantic.constr(max_length=32) = Field("", description="city")
    district: pydantic.constr(max_length=32) = Field("", description="district")
    detail: pydantic.constr(min_length=1, max_length=255) = Field(description="street and number")


class ApproveBody(RequestBody):
    amount_fen: pydantic.conint(ge=0, le=10**12) | None = Field(
        None, description="refund less than asked for, in fen (a partial refund; null: as asked)")
    return_address: ReturnAddressBody | None = Field(
        None, description="where the goods go back (return, exchange; null: the shop's return address)")


class AfterSaleRejectBody(RequestBody):
    reason: pydantic.constr(min_length=1, max_length=255) = Field(description="why, shown to the shopper")


class ReshipBody(RequestBody):
    express_company: pydantic.constr(min_length=1, max_length=64) = Field(
        description="carrier of the replacement", examples=["顺丰速运"])
    express_no: pydantic.constr(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$") = Field(
        description="its tracking number", examples=["SF1234567890"])


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
        self.send(await aftersales.reject(self.shop_id, int(aftersale_id), self.staff.id, self.body(AfterSaleRejectBody).reason))


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
