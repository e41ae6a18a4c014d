"""A member's delivery addresses (at most 20, exactly one default)."""
import pydantic

from handlers import schemas
from handlers.base import Mobile, MobileHandler, RequestBody
from handlers.schemas import returns
from services import address

Region = pydantic.constr(min_length=1, max_length=32)


class AddressBody(RequestBody):
    name: pydantic.constr(min_length=1, max_length=32) = pydantic.Field(description="recipient", examples=["王五"])
    mobile: Mobile = pydantic.Field(description="recipient's mobile (11 digits)", examples=["13912345678"])
    province: Region = pydantic.Field(description="province", examples=["上海市"])
    city: Region = pydantic.Field(description="city", examples=["上海市"])
    district: Region = pydantic.Field(description="district", examples=["浦东新区"])
    detail: pydantic.constr(min_length=1, max_length=255) = pydantic.Field(description="street and number",
                                                                           examples=["世纪大道 100 号"])
    is_default: bool = pydantic.Field(False, description="make it the default address (the previous default stops "
                                                         "being one)")


class AddressPatch(AddressBody):
    name: pydantic.constr(min_length=1, max_length=32) = None
    mobile: Mobile = None
    province: Region = None
    city: Region = None
    district: Region = None
    detail: pydantic.constr(min_length=1, max_length=255) = None
    is_default: bool = None


class AddressesHandler(MobileHandler):
    @returns(schemas.Address, paged=True)
    async def get(self, shop_id):
        """List the member's addresses."""
        page, page_size = self.page_args()
        self.send(await address.list_addresses(self.shop_id, self.member.id, page, page_size))

    @returns(schemas.Address)
    async def post(self, shop_id):
        """Add an address."""
        self.send(await address.create_address(self.shop_id, self.member.id, self.body(AddressBody).model_dump()), 201)


class AddressHandler(MobileHandler):
    @returns(schemas.Address)
    async def get(self, shop_id, address_id):
        """Read one of the member's addresses."""
        self.send(address.render_address(await address.get_address(self.shop_id, self.member.id, int(address_id))))

    @returns(schemas.Address)
    async def patch(self, shop_id, address_id):
        """Change one of the member's addresses."""
        changes = self.body(AddressPatch).model_dump(exclude_unset=True)
        self.send(await address.update_address(self.shop_id, self.member.id, int(address_id), changes))

    async def delete(self, shop_id, address_id):
        """Delete one of the member's addresses."""
        await address.delete_address(self.shop_id, self.member.id, int(address_id))
        self.no_content()
