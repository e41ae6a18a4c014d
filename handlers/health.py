"""`GET /api/health`: whether this process can reach its database and bus (for load balancers and operators)."""
from handlers import schemas
from handlers.base import ApiHandler
from handlers.schemas import returns
from services import health


class HealthHandler(ApiHandler):
    """200 when the database and the bus answer, 503 (same body shape) when one does not."""

    @returns(schemas.Health, also=(503,))
    async def get(self):
        report = await health.check()
        self.send(report, 200 if report["status"] == "ok" else 503)
