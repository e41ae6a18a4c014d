"""OpenAPI 3.1 of the REST API, generated from the route table and the handlers themselves.

Nothing here is written per endpoint. For each route and each HTTP method its handler implements:
- path parameters come from the URL pattern's groups, named after the method's arguments;
- the request body is the pydantic model the method passes to `self.body(...)`;
- query parameters are the names it reads with `int_arg` / `date_arg` / `choice_arg` (an enum of
  the choices it passes) / `get_query_argument` / `page_args` (also in helper functions it calls
  with `self`);
- security follows the audience base class (admin, merchant, member bearer JWTs); shopper methods
  listed in `public_methods` need no token; the merchant permission is given as `x-permission`;
- error answers have the error shape of API.md, one per status the operation can answer, each
  listing its codes (`x-error-codes`), as handlers/refusals.py finds them in the code it runs.
Success answers are described by the model a method names with `@returns` (handlers/schemas.py),
else as a JSON object.
"""
from __future__ import annotations

import ast
import inspect
import re
import textwrap

import pydantic
import tornado.web

from handlers import refusals
from handlers.base import AdminHandler, ApiHandler, MerchantHandler, MobileHandler
from handlers.schemas import paged

METHODS = ("get", "post", "put", "patch", "delete")
_BODY = re.compile(r"self\.body\((self\.)?(\w+)\)")
_INT = re.compile(r"int_arg\(\s*\"(\w+)\"")
_DATE = re.compile(r"date_arg\(\s*\"(\w+)\"")
_STR = re.compile(r"get_query_argument\(\s*\"(\w+)\"")
_HELPER = re.compile(r"(?<![.\w])(\w+)\(self\)|self\.(\w+)\(")
_GROUP = re.compile(r"\((\\d\{1,18\}|[a-z_|]+)\)")

ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message", "details"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {"type": "object"}}}}}
ERROR_ANSWERS = {400: "malformed request", 401: "not signed in, or the credentials are wrong", 403: "not allowed",
                 404: "no such object (or another shop's)", 409: "the state does not allow it",
                 413: "body too large", 422: "validation failed", 429: "too many attempts",
                 503: "a dependency is unavailable; retry shortly"}
# a handler that answers in its caller's format (WeChat Pay): `self.answer(404, False, ...)`
_OWN_REFUSAL = re.compile(r"self\.answer\((\d{3}), False")
OWN_REFUSALS = {400: "FAIL: the notification does not match the order or recharge (amount, merchant)",
                401: "FAIL: the signature does not verify", 404: "FAIL: the shop has no such WeChat Pay account",
                500: "FAIL: temporarily unavailable (WeChat Pay retries)"}


# tags per domain: the handler module's name -> its domain (shopper, merchant and admin alike)
TAGS = {"auth": "Signing in, for shoppers, staff and platform admins.",
        "goods": "Catalog: goods, SKUs, categories, stock.",
        "orders": "Cart, placing, paying, shipping, refunds.",
        "groups": "Group buying (拼团): campaigns and teams.",
        "flash": "Flash sales (秒杀).",
        "aftersales": "Returns, refunds and exchanges after delivery.",
        "members": "Shoppers: profile, addresses, levels, ledger, WeChat identity.",
        "finance": "Distribution (分销): distributors, commissions, withdrawals.",
        "promotions": "Coupons.",
        "shop": "Shop settings and banners.",
        "staff": "Merchant staff, roles and the dashboard.",
        "notifications": "WeChat subscription messages.",
        "platform": "The platform: shops, admins, settings, metrics.",
        "payments": "Payment notifications from WeChat Pay.",
        "system": "Health."}
TAG_OF_MODULE = {"auth": "auth", "goods": "goods", "catalog": "goods", "orders": "orders", "groups": "groups",
                 "flash": "flash", "aftersales": "aftersales", "members": "members", "me": "members",
                 "addresses": "members", "finance": "finance", "sale": "promotions", "adv": "shop",
                 "settings": "shop", "staff": "staff", "notifications": "notifications", "platform": "platform",
                 "shops": "platform", "metrics": "platform", "push": "platform", "pay": "payments",
                 "health": "system", "docs": "system"}


def _sources(handler: type, function) -> str:
    """The method's source plus that of helpers it calls with `self` (filters, shared parsers)."""
    text = textwrap.dedent(inspect.getsource(function))
    module = inspect.getmodule(handler)
    for called, method in set(_HELPER.findall(text)):
        helper = getattr(handler, method, None) if method else getattr(module, called, None)
        if callable(helper) and not isinstance(helper, type) and getattr(helper, "__module__", "") == module.__name__:
            text += textwrap.dedent(inspect.getsource(helper))
    return text


def _body_model(handler: type, function, source: str) -> type[pydantic.BaseModel] | None:
    match = _BODY.search(source)
    if match is None:
        return None
    via_self, name = match.groups()
    model = getattr(handler, name, None) if via_self else inspect.getmodule(handler).__dict__.get(name)
    if model is None:  # defined next to the method in the handler's module under another module's import
        model = function.__globals__.get(name)
    return model if isinstance(model, type) and issubclass(model, pydantic.BaseModel) else None


def _choice_params(function, source: str) -> list[dict]:
    """Query parameters read with `choice_arg(name, choices[, default])`, as string enums; the
    choices expression is evaluated in the handler module (a tuple or a module constant)."""
    params = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "choice_arg" and len(node.args) >= 2:
            # our own source text: a tuple literal or a name of the handler's module
            choices = eval(compile(ast.Expression(node.args[1]), "<choices>", "eval"), function.__globals__)
            schema = {"type": "string", "enum": list(choices)}
            if len(node.args) > 2 and isinstance(node.args[2], ast.Constant) and node.args[2].value is not None:
                schema["default"] = node.args[2].value
            params.append({"name": node.args[0].value, "in": "query", "schema": schema})
    return params


def _drop_null_defaults(node):
    """PATCH models use `= None` for "leave unchanged"; null is not a value they accept, so the
    schema says nothing about a default there."""
    if isinstance(node, dict):
        if "default" in node and node["default"] is None:
            del node["default"]
        for value in node.values():
            _drop_null_defaults(value)
    elif isinstance(node, list):
        for value in node:
            _drop_null_defaults(value)
    return node


def _success_status(source: str) -> str:
    """The status of `self.send(data, 201)` / `self.send_once(scope, 201, ...)` (over several lines
    too), 204 for `no_content()`, else 200."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("send", "send_once") \
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                and isinstance(node.args[1].value, int):
            return str(node.args[1].value)
    return "204" if "no_content()" in source else "200"


def response_model(handler: type, function) -> type[pydantic.BaseModel] | None:
    """The model a handler method answers with (`@returns`, handlers/schemas.py), if it says."""
    model = getattr(function, "response_model", None)
    if isinstance(model, str):  # the name of a handler attribute holding the model
        model = getattr(handler, model)
    return paged(model) if model is not None and function.response_paged else model


def _add_schema(model: type[pydantic.BaseModel], schemas: dict, mode: str) -> None:
    """The model's schema and those it contains, under their class names: two different models
    of one name (a `LoginBody` in two modules) would make one operation document the other's
    body, so that is an error here, not a silent overwrite."""
    schema = _drop_null_defaults(model.model_json_schema(ref_template="#/components/schemas/{model}", mode=mode))
    for name, definition in [*schema.pop("$defs", {}).items(), (model.__name__, schema)]:
        if schemas.setdefault(name, definition) != definition:
            raise ValueError(f"two different schemas are named {name}: give one of the models another name")


def _path(pattern: str, arg_names: list[str]) -> tuple[str, list[dict]]:
    params, names = [], iter(arg_names)

    def replace(match: re.Match) -> str:
        name = next(names, f"p{len(params)}")
        schema = {"type": "integer", "minimum": 1} if match.group(1).startswith("\\d") else \
            {"type": "string", "enum": match.group(1).split("|")}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    path = _GROUP.sub(replace, pattern).replace("\\.", ".")
    return path, params


def _security(handler: type, method: str, path: str) -> list | None:
    if issubclass(handler, AdminHandler):
        return [{"adminBearer": []}]
    if issubclass(handler, MerchantHandler):
        return [{"merchantBearer": []}]
    if issubclass(handler, MobileHandler):
        return [] if method.upper() in handler.public_methods else [{"memberBearer": []}]
    return []


def _operation(handler: type, method: str, path: str, path_params: list[dict], schemas: dict) -> dict:
    function = getattr(handler, method)
    source = _sources(handler, function)
    parameters = list(path_params)
    if "page_args()" in source:
        parameters += [{"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                       {"name": "page_size", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}]
    for param in _choice_params(function, source):
        if param["name"] not in {p["name"] for p in parameters}:
            parameters.append(param)
    seen = {p["name"] for p in parameters}
    for regex, schema in ((_INT, {"type": "integer"}), (_DATE, {"type": "string", "format": "date"}),
                          (_STR, {"type": "string"})):
        for name in regex.findall(source):
            if name not in seen and name != "token":
                seen.add(name)
                parameters.append({"name": name, "in": "query", "schema": schema})
    doc = inspect.getdoc(function) or inspect.getdoc(handler) or ""
    if doc == inspect.getdoc(tornado.web.RequestHandler) or doc == inspect.getdoc(ApiHandler):
        doc = ""
    module = handler.__module__.removeprefix("handlers.").replace(".", "_")
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", handler.__name__.removesuffix("Handler")).lower()
    operation: dict = {"operationId": f"{module}_{name}_{method}",
                       "tags": [TAG_OF_MODULE[handler.__module__.rsplit(".", 1)[1]]],
                       "summary": doc.split("\n")[0][:120] if doc else f"{method.upper()} {path}",
                       "parameters": parameters, "security": _security(handler, method, path)}
    if "\n" in doc.strip():  # more than the summary line
        operation["description"] = doc
    if issubclass(handler, MerchantHandler):
        operation["x-permission"] = handler.permissions.get(method.upper()) or \
            ("any staff" if method.upper() in handler.any_staff else None)
    model = _body_model(handler, function, source)
    if model is not None:
        _add_schema(model, schemas, mode="validation")
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
    success = _success_status(source)
    answers = {success: {"description": "success"} if success == "204" else {
        "description": "success", "content": {"application/json": {"schema": {"type": "object"}}}}}
    answer_model = response_model(handler, function)
    if answer_model is not None:
        _add_schema(answer_model, schemas, mode="serialization")
        answers[success] = {"description": (inspect.getdoc(answer_model) or "success").split("\n")[0],
                            "content": {function.response_media: {"schema": {
                                "$ref": f"#/components/schemas/{answer_model.__name__}"}}}}
    for page in ("text/csv", "text/html", "text/markdown"):  # a file or a page rather than JSON
        if page in source:
            answers[success]["content"] = {page: {"schema": {"type": "string"}}}
    if "text/plain" in source:  # a second representation chosen by a query parameter (metrics)
        answers[success]["content"]["text/plain"] = {"schema": {"type": "string"}}
    if issubclass(handler, ApiHandler):
        for status, codes in sorted(refusals.of_operation(handler, method).items()):
            answers[str(status)] = {
                "description": f"{ERROR_ANSWERS[status]}: " + ", ".join(f"`{code}`" for code in sorted(codes)),
                "x-error-codes": sorted(codes),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    else:  # a caller with its own answer format (WeChat Pay): refusals are that format's FAIL
        for status in sorted({int(s) for s in _OWN_REFUSAL.findall(source)} | {500}):
            answers[str(status)] = {"description": OWN_REFUSALS.get(status, ERROR_ANSWERS.get(status, "refused")),
                                    "content": answers[success]["content"]}
    for status in getattr(function, "response_also", ()):  # the success shape under another status
        answers[str(status)] = {**answers[success], "description": f"{ERROR_ANSWERS[status]} (in the success shape)"}
    operation["responses"] = answers
    return operation


def spec(routes, server_url: str = "http://127.0.0.1:8888") -> dict:
    """The document of a route table (handlers/routes.py hands it its own: no import back).
    `server_url`: where it is served (the handler passes the URL the document was asked for)."""
    paths: dict = {}
    schemas: dict = {"Error": ERROR}
    for route in routes:
        pattern, handler = route[0], route[1]
        if not (isinstance(handler, type) and issubclass(handler, tornado.web.RequestHandler)) \
                or not pattern.startswith("/api/") or issubclass(handler, tornado.web.StaticFileHandler):
            continue  # the WebSocket, the demo pages and static files are not REST endpoints
        for method in METHODS:
            function = getattr(handler, method)
            if function is getattr(tornado.web.RequestHandler, method):
                continue
            arg_names = list(inspect.signature(function).parameters)[1:]
            path, path_params = _path(pattern, arg_names)
            paths.setdefault(path, {})[method] = _operation(handler, method, path, path_params, schemas)
    bearer = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    return {
        "openapi": "3.1.0",
        "info": {"title": "mall", "version": "1.0",
                 "description": "Shop backend for WeChat distribution malls. Money in integer fen; times ISO 8601 UTC. "
                                "Live updates: WebSocket `/ws`, described by the AsyncAPI document at "
                                "[/api/asyncapi.json](/api/asyncapi.json) and the guide "
                                "[/api/docs/websocket.md](/api/docs/websocket.md). Conventions (errors, pagination, "
                                "tokens, idempotency): docs/http.md in the repository. Each error answer lists the "
                                "codes the operation can give (`x-error-codes`).",
                 "license": {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"}},
        "servers": [{"url": server_url, "description": "this server"}],
        "tags": [{"name": name, "description": description} for name, description in TAGS.items()],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "adminBearer": {**bearer, "description": "platform admin token (audience admin)"},
            "merchantBearer": {**bearer, "description": "merchant staff token (audience merchant)"},
            "memberBearer": {**bearer, "description": "shopper token (audience member)"}}},
    }
