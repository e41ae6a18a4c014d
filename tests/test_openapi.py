"""The OpenAPI document is generated from the route table and the handlers' models: every route is
in it, it is valid OpenAPI 3.1, and real requests validate against it exactly when the server
accepts them."""
from __future__ import annotations

import inspect

import jsonschema
import tornado.web
from openapi_spec_validator import validate

from handlers.openapi import METHODS, _path
from handlers.routes import ROUTES
from tests.builders import assert_invalid


async def test_every_route_is_in_a_valid_spec(api):
    answer = await api.get("/api/openapi.json")
    assert answer.status == 200
    spec = answer.body
    validate(spec)
    assert spec["openapi"] == "3.1.0"
    assert set(spec["components"]["securitySchemes"]) == {"adminBearer", "merchantBearer", "memberBearer"}
    expected = 0
    for pattern, handler, *_ in ROUTES:
        if not pattern.startswith("/api/") or issubclass(handler, tornado.web.StaticFileHandler):
            continue
        for method in METHODS:
            function = getattr(handler, method)
            if function is getattr(tornado.web.RequestHandler, method):
                continue
            path, _ = _path(pattern, list(inspect.signature(function).parameters)[1:])
            assert method in spec["paths"].get(path, {}), f"{method.upper()} {path} is missing from the spec"
            expected += 1
    assert sum(len(operations) for operations in spec["paths"].values()) == expected > 140
    merchant_goods = spec["paths"]["/api/merchant/goods"]["post"]
    assert merchant_goods["security"] == [{"merchantBearer": []}] and merchant_goods["x-permission"] == "goods.edit"
    assert spec["paths"]["/api/mobile/{shop_id}/goods"]["get"]["security"] == []  # public
    assert spec["paths"]["/api/mobile/{shop_id}/orders"]["post"]["security"] == [{"memberBearer": []}]


async def test_requests_validate_against_the_spec_as_the_server_judges_them(api, make_shop):
    spec = (await api.get("/api/openapi.json")).body
    shop = await make_shop()
    cases = [  # (path, method, body, the field a refusal names; None: valid)
        ("/api/merchant/goods", "post", {"title": "Tea", "price_fen": 100, "stock": 5, "status": "on_sale"}, None),
        ("/api/merchant/goods", "post", {"title": "Tea", "price_fen": "100", "stock": 5}, "price_fen"),
        ("/api/merchant/goods", "post", {"title": "Tea", "price_fen": 100, "stock": 5, "colour": "red"}, "colour"),
        ("/api/merchant/coupons", "post", {"name": "券", "kind": "amount", "amount_fen": 100, "valid_days": 7}, None),
        ("/api/merchant/coupons", "post", {"name": "券", "kind": "gift", "valid_days": 7}, "kind"),
        ("/api/merchant/levels", "post", {"name": "VIP", "discount_percent": 95}, None),
        ("/api/merchant/levels", "post", {"name": "VIP", "discount_percent": 0}, "discount_percent"),
        ("/api/merchant/roles", "post", {"name": "客服", "permissions": ["orders.view"]}, None),
        ("/api/merchant/roles", "post", {"name": "", "permissions": []}, "name"),
    ]
    for path, method, body, field in cases:
        valid = field is None
        schema_ref = spec["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        validator = jsonschema.Draft202012Validator({"$ref": schema_ref, "components": spec["components"]})
        assert validator.is_valid(body) is valid, (path, body, list(validator.iter_errors(body))[:1])
        answer = await api.call(method.upper(), path, body, token=shop.owner_token)
        assert (answer.status < 300) is valid, (path, body, answer.status, answer.body)
        if not valid:
            assert_invalid(answer, field)


async def test_docs_page_is_served_without_a_cdn(api):
    page = await api.get("/api/docs")
    assert page.status == 200 and "/api/docs/assets/swagger-ui-bundle.js" in page.text and "http" not in page.text.split(
        "<body>")[1].split("/api/openapi.json")[0]
    bundle = await api.get("/api/docs/assets/swagger-ui-bundle.js")
    assert bundle.status == 200 and len(bundle.text) > 100_000
    assert (await api.get("/api/docs/assets/../../../server.py")).status in (403, 404)
