from typing import Any

import pydantic

from handlers.base import MerchantHandler, RequestBody
from services import payment, sysset


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


class WechatPayBody(RequestBody):
    mch_id: pydantic.constr(min_length=1, max_length=32)
    app_id: pydantic.constr(min_length=1, max_length=64)
    cert_serial_no: pydantic.constr(min_length=1, max_length=64)
    private_key: pydantic.constr(min_length=1, max_length=8192)
    apiv3_key: pydantic.constr(min_length=32, max_length=32)
    public_key: pydantic.constr(min_length=1, max_length=8192)
    public_key_id: pydantic.constr(min_length=1, max_length=64)


class WechatPayHandler(MerchantHandler):
    """The shop's WeChat Pay APIv3 merchant keys. Keys go in; only ids come back."""
    permissions = {"GET": "settings.view", "PUT": "settings.edit"}

    async def get(self):
        self.send(payment.render_config(await payment.get_config(self.shop_id)))

    async def put(self):
        self.send(await payment.save_config(self.shop_id, self.body(WechatPayBody).model_dump()))
