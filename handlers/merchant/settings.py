from typing import Any

from handlers.base import MerchantHandler, RequestBody
from services import sysset


class SettingsPatch(RequestBody):
    """Any subset of the settings document; sections merge. Contents are validated by the service."""
    shop: dict[str, Any] = None
    order: dict[str, Any] = None
    groups: dict[str, Any] = None
    points: dict[str, Any] = None
    balance: dict[str, Any] = None


class SettingsHandler(MerchantHandler):
    permissions = {"GET": "settings.view", "PATCH": "settings.edit"}

    async def get(self):
        self.send((await sysset.get_settings(self.shop_id)).model_dump())

    async def patch(self):
        changes = self.body(SettingsPatch).model_dump(exclude_unset=True)
        self.send(await sysset.update_settings(self.shop_id, changes))
