import pydantic

from handlers import schemas
from handlers.base import Id, MobileHandler, RequestBody
from handlers.schemas import returns
from services import flash


class BuyBody(RequestBody):
    item_id: Id = pydantic.Field(description="the flash item")
    quantity: pydantic.conint(ge=1, le=999) = pydantic.Field(1, description="units (within the item's per-member "
                                                                            "limit)")
    address_id: Id = pydantic.Field(description="one of the member's addresses")


class SalesHandler(MobileHandler):
    public_methods = ("GET",)

    @returns(schemas.FlashSalePage)
    async def get(self, shop_id):
        """List current and upcoming flash sales."""
        page, page_size = self.page_args()
        self.send(await flash.shopper_sales(self.shop_id, page, page_size))


class SaleHandler(MobileHandler):
    public_methods = ("GET",)

    @returns(schemas.FlashSaleDetail)
    async def get(self, shop_id, sale_id):
        """Read a flash sale with its items."""
        self.send(await flash.shopper_sale(self.shop_id, int(sale_id)))


class SaleOrdersHandler(MobileHandler):
    gate = None  # this buyer's place among the item's buyers being served (services/flash/pool.py)

    async def refuse_early(self) -> None:
        # a buyer waits for its turn, and an item this process knows is sold out is refused, before
        # the member is read; a body that does not parse goes on to the usual checks (401/422)
        try:
            body = BuyBody.model_validate_json(self.request.body or b"{}")
        except pydantic.ValidationError:
            return
        self.gate = await flash.admit(self.shop_id, int(self.path_args[1]), body.item_id)

    def on_finish(self) -> None:
        if self.gate is not None:
            self.gate.release()
            self.gate = None
        super().on_finish()

    @returns(schemas.Order)
    async def post(self, shop_id, sale_id):
        """Buy an item of a running flash sale."""
        body = self.body(BuyBody)
        self.send(await flash.buy(self.shop_id, self.member, int(sale_id), body.item_id, body.quantity,
                                  body.address_id), 201)
