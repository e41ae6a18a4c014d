import events
from handlers.base import MobileHandler
from services import member as member_service


class MeHandler(MobileHandler):
    """The member's profile, with the position of their `member:{id}` channel (order status):
    subscribe with that seq/epoch as `since` and no change after this read is missed."""

    async def get(self, shop_id):
        channel = await events.position(f"member:{self.member.id}")
        member = await member_service.get_member(self.shop_id, self.member.id)
        self.send({**member_service.render_member(member), "channel": channel})
