"""Shop settings (one validated document), WeChat app keys and WeChat Pay keys (secrets never returned)."""
from typing import Any, Literal

import pydantic

from handlers.base import MerchantHandler, RequestBody
from services import payment, sysset


class SettingsPatch(RequestBody):
    """Any subset of the settings document; sections merge. Contents are validated by the service."""
    shop: dict[str, Any] = None
    order: dict[str, Any] = None
    aftersale: dict[str, Any] = None
    groups: dict[str, Any] = None
    points: dict[str, Any] = None
    balance: dict[str, Any] = None
    sale: dict[str, Any] = None
    distribution: dict[str, Any] = None
    tracking: dict[str, Any] = None
    notify: dict[str, Any] = None


class SettingsHandler(MerchantHandler):
    permissions = {"GET": "settings.view", "PATCH": "settings.edit"}

    async def get(self):
        """Read the shop settings (secrets such as the tracking key shown only as set or not)."""
        self.send(sysset.redacted((await sysset.get_settings(self.shop_id)).model_dump()))

    async def patch(self):
        """Change the shop settings."""
        changes = self.body(SettingsPatch).model_dump(exclude_unset=True)
        self.send(await sysset.update_settings(self.shop_id, changes))


class WechatPayBody(RequestBody):
    api_version: Literal["v3", "v2"] = "v3"
    mch_id: pydantic.constr(min_length=1, max_length=32)
    app_id: pydantic.constr(min_length=1, max_length=64)
    # APIv3 (public-key mode)
    cert_serial_no: pydantic.constr(max_length=64) | None = None
    private_key: pydantic.constr(max_length=8192) | None = None
    apiv3_key: pydantic.constr(max_length=32) | None = None
    public_key: pydantic.constr(max_length=8192) | None = None
    public_key_id: pydantic.constr(max_length=64) | None = None
    # APIv2
    v2_api_key: pydantic.constr(max_length=32) | None = None
    v2_cert_pem: pydantic.constr(max_length=8192) | None = None
    v2_key_pem: pydantic.constr(max_length=8192) | None = None


class WechatPayHandler(MerchantHandler):
    """The shop's WeChat Pay merchant keys (APIv3, or APIv2). Keys go in; only ids come back."""
    permissions = {"GET": "settings.view", "PUT": "settings.edit"}

    async def get(self):
        self.send(payment.render_config(await payment.get_config(self.shop_id)))

    async def put(self):
        self.send(await payment.save_config(self.shop_id, self.body(WechatPayBody).model_dump()))
