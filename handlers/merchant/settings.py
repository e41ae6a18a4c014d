"""Shop settings (one validated document), WeChat app keys and WeChat Pay keys (secrets never returned)."""
from typing import Any, Literal

import pydantic

from handlers import schemas
from handlers.base import MerchantHandler, RequestBody
from handlers.schemas import returns
from services import payment, sysset


def _section(name: str, example: dict) -> Any:
    return pydantic.Field(None, description=f"any subset of the `{name}` section (its fields as the settings answer "
                                            "shows them, schema ShopSettings); nested objects merge",
                          examples=[example])


class ShopSettingsPatch(RequestBody):
    """Any subset of the settings document; sections merge. Contents are validated by the service."""
    shop: dict[str, Any] = _section("shop", {"notice": "全场包邮"})
    order: dict[str, Any] = _section("order", {"unpaid_cancel_minutes": 15})
    aftersale: dict[str, Any] = _section("aftersale", {"return_address": {"name": "王五", "detail": "仓库 1 号"}})
    groups: dict[str, Any] = _section("groups", {"default_team_size": 3})
    flash: dict[str, Any] = _section("flash", {"unpaid_cancel_minutes": 5})
    points: dict[str, Any] = _section("points", {"deduct_enabled": True})
    balance: dict[str, Any] = _section("balance", {"min_withdraw_fen": 1000})
    sale: dict[str, Any] = _section("sale", {"full_reduction": [{"min_fen": 10000, "off_fen": 1000}]})
    distribution: dict[str, Any] = _section("distribution", {"enabled": True, "rates_bp": [1000, 500]})
    tracking: dict[str, Any] = _section("tracking", {"customer": "ABC123", "key": "the kuaidi100 key"})
    notify: dict[str, Any] = _section("notify", {"miniprogram_state": "trial"})


class SettingsHandler(MerchantHandler):
    permissions = {"GET": "settings.view", "PATCH": "settings.edit"}

    @returns(schemas.ShopSettings)
    async def get(self):
        """Read the shop settings (secrets such as the tracking key shown only as set or not)."""
        self.send(sysset.redacted((await sysset.get_settings(self.shop_id)).model_dump()))

    @returns(schemas.ShopSettings)
    async def patch(self):
        """Change the shop settings."""
        changes = self.body(ShopSettingsPatch).model_dump(exclude_unset=True)
        self.send(await sysset.update_settings(self.shop_id, changes))


def _key(description: str) -> Any:
    return pydantic.Field(None, description=description)


class WechatPayBody(RequestBody):
    """The whole configuration (it replaces the present one). APIv3 needs the five v3 fields,
    APIv2 the API key (and the client certificate for refunds)."""
    api_version: Literal["v3", "v2"] = pydantic.Field("v3", description="which WeChat Pay API the keys are for")
    mch_id: pydantic.constr(min_length=1, max_length=32) = pydantic.Field(description="merchant id (商户号)",
                                                                          examples=["1900000109"])
    app_id: pydantic.constr(min_length=1, max_length=64) = pydantic.Field(
        description="the AppID payments are made in (the mini-program's)", examples=["wx1234567890abcdef"])
    cert_serial_no: pydantic.constr(max_length=64) | None = _key("APIv3: serial number of the merchant's API certificate")
    private_key: pydantic.constr(max_length=8192) | None = _key("APIv3: the merchant's API private key (PEM); never "
                                                                 "shown again")
    apiv3_key: pydantic.constr(max_length=32) | None = _key("APIv3: the 32-byte APIv3 key (decrypts notifications); "
                                                             "never shown again")
    public_key: pydantic.constr(max_length=8192) | None = _key("APIv3: WeChat Pay's public key (PEM), which signs its "
                                                                "answers and notifications")
    public_key_id: pydantic.constr(max_length=64) | None = _key("APIv3: the id of that public key (PUB_KEY_ID_…)")
    v2_api_key: pydantic.constr(max_length=32) | None = _key("APIv2: the 32-character API key; never shown again")
    v2_cert_pem: pydantic.constr(max_length=8192) | None = _key("APIv2: the client certificate (PEM), needed for refunds")
    v2_key_pem: pydantic.constr(max_length=8192) | None = _key("APIv2: the client certificate's private key (PEM); "
                                                               "never shown again")


class WechatPayHandler(MerchantHandler):
    """The shop's WeChat Pay merchant keys (APIv3, or APIv2). Keys go in; only ids come back."""
    permissions = {"GET": "settings.view", "PUT": "settings.edit"}

    @returns(schemas.WechatPayConfig)
    async def get(self):
        self.send(payment.render_config(await payment.get_config(self.shop_id)))

    @returns(schemas.WechatPayConfig)
    async def put(self):
        self.send(await payment.save_config(self.shop_id, self.body(WechatPayBody).model_dump()))
