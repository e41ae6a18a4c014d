from handlers.base import MerchantHandler
from services import member as member_service


class MembersHandler(MerchantHandler):
    permissions = {"GET": "members.view"}

    async def get(self):
        page, page_size = self.page_args()
        q = self.get_query_argument("q", None)
        self.send(await member_service.list_members(self.shop_id, page, page_size, q))


class MemberHandler(MerchantHandler):
    permissions = {"GET": "members.view"}

    async def get(self, member_id):
        member = await member_service.get_member(self.shop_id, int(member_id))
        self.send(member_service.render_member(member))
