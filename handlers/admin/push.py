"""`POST /api/admin/events/test`: push a test event end to end (outbox, relay, bus, WebSocket)."""
import pydantic

import events
from events.channels import CHANNEL
from handlers import schemas
from handlers.base import AdminHandler, RequestBody
from handlers.schemas import returns


class TestPushBody(RequestBody):
    channel: pydantic.constr(pattern=CHANNEL.pattern) = pydantic.Field(
        description="a channel of the WebSocket, e.g. goods:7 (see /api/asyncapi.json)", examples=["goods:7"])
    data: dict = pydantic.Field({}, description="any object: the event's data")


class TestPushHandler(AdminHandler):
    """Send a `system.test` event down a channel: lets an operator check the whole push path
    (outbox, relay, bus, every process's hub) end to end. Benchmarks use it as their source."""

    @returns(schemas.PushAccepted)
    async def post(self):
        body = self.body(TestPushBody)
        async with events.atomic():
            await events.record(body.channel, "system.test", body.data)
        self.send({"channel": body.channel}, 202)
