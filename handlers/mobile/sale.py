"""Coupons for shoppers: the claim centre, claiming, my coupons, which coupons fit a cart."""
import pydantic

from handlers import schemas
from handlers.base import MobileHandler, RequestBody
from handlers.mobile.orders import ItemBody
from handlers.schemas import returns
from services import sale
from services.orders import pricing


class CartCouponsBody(RequestBody):
    items: pydantic.conlist(ItemBody, min_length=1, max_length=50) = pydantic.Field(description="the cart's items")


class ClaimCentreHandler(MobileHandler):
    """Coupons members may claim now."""
    public_methods = ("GET",)

    @returns(schemas.CouponTemplate, paged=True)
    async def get(self, shop_id):
        page, page_size = self.page_args()
        self.send(await sale.claim_centre(self.shop_id, page, page_size))


class ClaimHandler(MobileHandler):
    @returns(schemas.MemberCoupon)
    async def post(self, shop_id, template_id):
        """Claim a coupon."""
        self.send(await sale.claim(self.shop_id, self.member, int(template_id)), 201)


class MyCouponsHandler(MobileHandler):
    @returns(schemas.MemberCoupon, paged=True)
    async def get(self, shop_id):
        """List the member's coupons."""
        page, page_size = self.page_args()
        status = self.choice_arg("status", ("unused", "used", "expired"))
        self.send(await sale.my_coupons(self.shop_id, self.member.id, status, page, page_size))


class CouponsForCartHandler(MobileHandler):
    """The member's coupons split into usable on this cart (with what each takes off) and not."""
    @returns(schemas.CouponsForCart)
    async def post(self, shop_id):
        items = [item.model_dump() for item in self.body(CartCouponsBody).items]
        self.send(await pricing.coupons_for_cart(self.shop_id, self.member, items))
