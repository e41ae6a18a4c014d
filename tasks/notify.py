"""WeChat subscription messages and shipping-info reports that are due (first sends and retries)."""
from services import notify


async def send_notifications(runtime) -> None:
    await notify.send_due()


async def upload_shipping_info(runtime) -> None:
    await notify.upload_due()


JOBS = [("send_notifications", send_notifications), ("upload_shipping_info", upload_shipping_info)]
