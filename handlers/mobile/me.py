from handlers.base import MobileHandler
from services import member as member_service


class MeHandler(MobileHandler):
    async def get(self, shop_id):
        self.send(member_service.render_member(self.member))
