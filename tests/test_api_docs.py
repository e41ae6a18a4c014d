"""The API as a product: the landing page, reads that carry their channel position in one shape,
the docs in the repository that describe them."""
from __future__ import annotations

import asyncio
import re
from pathlib import Path

import jsonschema

from events.channels import CHANNELS, channel_of
from tests.builders import campaign, join_and_pay, members_with_money, new_goods, open_and_pay
from tests.ws_client import WsClient

ROOT = Path(__file__).resolve().parent.parent


async def test_the_root_is_a_landing_page_linking_the_docs(api):
    answer = await api.get("/")
    assert answer.status == 200 and answer.headers["Content-Type"].startswith("text/html")
    for link in ("/api/docs", "/api/openapi.json", "/api/asyncapi.json", "/demo/", "/api/health"):
        assert f'href="{link}"' in answer.text, link
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


async def test_every_read_with_a_channel_carries_its_position_as_channel(api, make_shop, make_member):
    """`channel: {channel, seq, epoch}` on every read of an object with a channel; the team read
    keeps its top-level seq/epoch too (the same position)."""
    shop = await make_shop()
    goods, activity = await campaign(api, shop)
    ((leader, address),) = await members_with_money(api, shop, 1)
    team = (await open_and_pay(api, shop, activity, leader, address))["team"]
    reads = {
        f"goods:{goods['id']}": await api.get(f"/api/mobile/{shop.id}/goods/{goods['id']}"),
        f"activity:{activity['id']}": await api.get(f"/api/mobile/{shop.id}/groups/activities/{activity['id']}"),
        f"team:{team['id']}": await api.get(f"/api/mobile/{shop.id}/groups/teams/{team['id']}"),
        f"member:{leader.id}": await api.get(f"/api/mobile/{shop.id}/me", token=leader.token),
    }
    for channel, read in reads.items():
        assert read.status == 200, read.body
        position = read.body["channel"]
        assert position["channel"] == channel and isinstance(position["seq"], int) and position["epoch"], read.body
    team_read = reads[f"team:{team['id']}"].body
    assert (team_read["seq"], team_read["epoch"]) == (team_read["channel"]["seq"], team_read["channel"]["epoch"])
    assert team_read["seq"] >= 1  # the leader's payment was an event


def test_nothing_in_the_repository_points_outside_it():
    outside = re.compile(r"\.\./shared|/work/shared")
    for path in [ROOT / "README.md", *ROOT.glob("docs/**/*.md"), *ROOT.glob("**/*.py")]:
        if ".git" in path.parts or "venv" in path.parts or path == Path(__file__).resolve():
            continue
        assert not outside.search(path.read_text(encoding="utf-8")), path
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#:]+)\)|`(docs/[\w./-]+)`", readme):
        name = target[0] or target[1]
        assert (ROOT / name).exists(), f"README links to {name}, which is not in the repository"


# ---------------------------------------------------------------- AsyncAPI of /ws
def _validator(document: dict, ref: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": ref, "components": document["components"]})


async def test_the_asyncapi_document_lists_every_channel_event_and_op(api):
    answer = await api.get("/api/asyncapi.json")
    assert answer.status == 200
    document = answer.body
    assert document["asyncapi"] == "3.0.0" and document["info"]["license"]
    assert {c["address"] for c in document["channels"].values()} == {c.name for c in CHANNELS} | {"/ws"}
    for channel in CHANNELS:
        entry = next(c for c in document["channels"].values() if c["address"] == channel.name)
        titles = {document["components"]["messages"][ref["$ref"].rsplit("/", 1)[1]]["name"]
                  for ref in entry["messages"].values()}
        assert titles == set(channel.events) | {"system.test"}, channel.name
    ops = set(document["channels"]["ws"]["messages"])
    assert ops == {"subscribe", "unsubscribe", "auth", "ping", "subscribed", "resync", "unsubscribed",
                   "authenticated", "error", "pong"}
    for operation in document["operations"].values():  # every reference resolves
        for ref in [operation["channel"]["$ref"], *(m["$ref"] for m in operation["messages"])]:
            node = document
            for part in ref.removeprefix("#/").split("/"):
                node = node[part]
            node = document["components"]["messages"][node["$ref"].rsplit("/", 1)[1]] if "$ref" in node else node
            assert node


def test_every_event_a_service_records_is_in_the_registry():
    """Each `events.record(<channel>, "<type>", ...)` in services/ names a registered type of a
    channel that carries it (types passed through a variable are listed where they are chosen)."""
    recorded = re.compile(r'events\.record\(\s*(?:f"(\w+):[^"]*"|channel\(\w+\)|(CONTROL_CHANNEL))\s*,\s*"([\w.]+)"')
    by_prefix = {c.name.split(":")[0]: set(c.events) for c in CHANNELS}
    found = 0
    for path in (ROOT / "services").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for prefix, control, type_ in recorded.findall(text):
            if control:
                continue
            prefix = prefix or "flash"  # services/flash names its channel with channel(sale_id)
            assert type_ in by_prefix[prefix], f"{path.name}: {type_} on {prefix}: is not in events/channels.py"
            found += 1
    assert found >= 12
    # types chosen through a variable: the order board's shop events and the team events
    shop_types = set(re.findall(r'emit\([^)]*"([\w.]+)"', "".join(
        p.read_text(encoding="utf-8") for p in (ROOT / "services" / "orders").glob("*.py"))))
    assert shop_types and shop_types <= by_prefix["shop"], shop_types
    team_types = set(re.findall(r'_team_event\([^\n]*?"(team\.\w+)"', (ROOT / "services/groups.py").read_text()))
    assert team_types == by_prefix["team"], team_types


async def test_events_the_clients_receive_validate_against_the_asyncapi(server, api, make_shop):
    document = (await api.get("/api/asyncapi.json")).body
    shop = await make_shop()
    goods, activity = await campaign(api, shop)
    (leader, leader_addr), (second, second_addr), (third, third_addr) = await members_with_money(api, shop, 3)
    watchers = {}
    for channel, token in ((f"goods:{goods['id']}", None), (f"activity:{activity['id']}", None),
                           (f"member:{leader.id}", leader.token), (f"shop:{shop.id}:orders", shop.owner_token)):
        client = await WsClient.connect(server.port, token)
        subscribed = await client.subscribe(channel) if token is None else None
        if token is not None:
            assert (await client.recv())["op"] == "authenticated"
            subscribed = await client.subscribe(channel)
        assert _validator(document, "#/components/messages/subscribed/payload").is_valid(subscribed), subscribed
        watchers[channel] = client
    team = (await open_and_pay(api, shop, activity, leader, leader_addr))["team"]
    team_watcher = await WsClient.connect(server.port)
    await team_watcher.subscribe(f"team:{team['id']}")
    watchers[f"team:{team['id']}"] = team_watcher
    await join_and_pay(api, shop, team["id"], second, second_addr)
    await join_and_pay(api, shop, team["id"], third, third_addr)
    seen = set()
    for channel, client in watchers.items():
        key = channel_of(channel).name.split(":")[0]
        while True:
            try:
                frame = await client.recv(timeout=1.0)
            except asyncio.TimeoutError:
                break
            assert frame["op"] == "event" and frame["channel"] == channel, frame
            ref = f"#/components/messages/{key}_{frame['type'].replace('.', '_')}/payload"
            errors = list(_validator(document, ref).iter_errors(frame))
            assert not errors, (frame, errors[0].message)
            seen.add(frame["type"])
        client.close()
    assert {"goods.stock", "activity.joined", "order.status", "order.created", "order.paid", "team.progress",
            "team.success"} <= seen, seen


def test_the_websocket_guide_matches_the_registry_and_the_limits():
    """docs/websocket.md: its events catalogue is the one generated from events/channels.py and its
    limits are the ones handlers/ws.py enforces."""
    from handlers import ws
    from handlers.asyncapi import catalogue

    guide = (ROOT / "docs" / "websocket.md").read_text(encoding="utf-8")
    assert catalogue() in guide, "stale catalogue: run python -m handlers.asyncapi docs/websocket.md"
    assert f"| subscriptions per connection | {ws.MAX_SUBSCRIPTIONS} |" in guide
    assert f"| client frame size | {ws.MAX_FRAME_BYTES // 1024} KiB |" in guide
    assert f"{ws.RATE_PER_S:g} per second, bursts of {ws.RATE_BURST}" in guide
    assert f"close 1008 after {ws.MAX_REFUSED} refusals" in guide
    assert f"| {ws.MAX_UNFLUSHED_BYTES // 2**20} MiB | close 1013" in guide


async def test_the_openapi_document_types_the_shoppers_main_answers(api):
    """Typed answers (handlers/schemas.py) for the most used operations; the suite checks every
    answer it receives from them against the schema (tests/conftest.py `check_documented_answer`)."""
    document = (await api.get("/api/openapi.json")).body
    assert document["servers"][0]["url"] == api.base and document["info"]["license"]["name"]
    typed = {("get", "/api/mobile/{shop_id}/goods"): "GoodsSummaryPage",
             ("get", "/api/mobile/{shop_id}/goods/{goods_id}"): "GoodsDetail",
             ("get", "/api/mobile/{shop_id}/me"): "MemberWithChannel",
             ("post", "/api/mobile/{shop_id}/auth/register"): "Session",
             ("post", "/api/mobile/{shop_id}/auth/login"): "Session",
             ("get", "/api/mobile/{shop_id}/groups/teams/{team_id}"): "TeamDetail",
             ("get", "/api/health"): "Health",
             ("post", "/api/mobile/{shop_id}/groups/teams"): "TeamPlaced",
             ("get", "/api/mobile/{shop_id}/groups/activities/{activity_id}"): "ActivityDetail",
             ("get", "/api/mobile/{shop_id}/orders/{order_id}"): "Order",
             ("get", "/api/mobile/{shop_id}/orders"): "OrderPage",
             ("get", "/api/merchant/orders"): "MerchantOrderPage",
             ("post", "/api/merchant/orders/{order_id}/ship"): "MerchantOrder"}
    for (method, path), name in typed.items():
        answers = document["paths"][path][method]["responses"]
        success = next(status for status in answers if status.startswith("2"))
        assert answers[success]["content"]["application/json"]["schema"] == {"$ref": f"#/components/schemas/{name}"}
        schema = document["components"]["schemas"][name]
        assert schema["additionalProperties"] is False
        assert all(field.get("description") or "$ref" in field or "items" in field
                   for field in schema["properties"].values()), name


async def test_every_operation_has_a_summary_a_domain_tag_and_a_readable_unique_id(api):
    document = (await api.get("/api/openapi.json")).body
    tags = {tag["name"] for tag in document["tags"]}
    operations = [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    assert len({op["operationId"] for _, _, op in operations}) == len(operations)
    for method, path, op in operations:
        assert not op["summary"].startswith(method.upper() + " "), f"{method} {path}: no docstring summary"
        assert op["tags"] and set(op["tags"]) <= tags, (method, path, op["tags"])
        assert re.fullmatch(r"[a-z0-9_]+", op["operationId"]), op["operationId"]
    assert {"goods", "orders", "groups", "flash", "aftersales", "members", "finance", "promotions"} <= tags


def test_the_http_guide_lists_every_error_code_the_code_raises():
    """docs/http.md's error tables cannot fall behind: every code given to conflict(), forbidden(),
    unauthorized(), invalid(code=...), ApiError, RateLimited or ServiceUnavailable is listed, and
    every code the OpenAPI document lists for an operation."""
    raised = re.compile(r'(?:conflict|forbidden|unauthorized|RateLimited|ServiceUnavailable)\(\s*"([a-z_]+)"'
                        r'|ApiError\(\d+, "([a-z_]+)"|code="([a-z_]+)"')
    guide = (ROOT / "docs" / "http.md").read_text(encoding="utf-8")
    codes = set()
    for folder in ("services", "handlers", "lib"):
        for path in (ROOT / folder).rglob("*.py"):
            codes |= {next(filter(None, groups)) for groups in raised.findall(path.read_text(encoding="utf-8"))}
    from handlers.base import STATUS_CODES
    from handlers.openapi import spec
    from handlers.routes import ROUTES

    codes |= set(STATUS_CODES.values())
    codes |= {code for operations in spec(ROUTES)["paths"].values() for operation in operations.values()
              for answer in operation["responses"].values() for code in answer.get("x-error-codes", ())}
    assert len(codes) > 60
    missing = sorted(code for code in codes if f"`{code}`" not in guide)
    assert not missing, f"docs/http.md does not list {missing}"


async def test_every_field_of_every_typed_answer_has_a_description(api):
    document = (await api.get("/api/openapi.json")).body
    schemas = document["components"]["schemas"]
    typed, todo = set(), []
    for operations in document["paths"].values():
        for operation in operations.values():
            for status, answer in operation["responses"].items():
                ref = answer.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
                if status.startswith("2") and ref:
                    todo.append(ref.rsplit("/", 1)[1])
    while todo:  # the answers' models and every model they contain
        name = todo.pop()
        if name not in typed:
            typed.add(name)
            todo += [ref.rsplit("/", 1)[1] for ref in re.findall(r"#/components/schemas/\w+", str(schemas[name]))]
    undescribed = [f"{name}.{field}" for name in typed for field, schema in schemas[name].get("properties", {}).items()
                   if not schema.get("description")]
    assert not undescribed, undescribed
    assert len(typed) >= 50


def _typed(answer: dict, schemas: dict) -> bool:
    """A success answer names its structure: no body (204), a model, or a file or page type."""
    content = answer.get("content")
    if not content:
        return answer is not None and "content" not in answer
    for media_type, media in content.items():
        schema = media.get("schema", {})
        if "$ref" in schema:
            model = schemas[schema["$ref"].rsplit("/", 1)[1]]
            if not (model.get("properties") or model.get("anyOf")):
                return False
        elif media_type == "application/json" or schema.get("type") != "string":
            return False
    return True


async def test_every_operation_has_a_typed_success_answer(api):
    """Every operation's success answer is a model of handlers/schemas.py (`@returns`; lists as the
    paged envelope), no body (204) or a page or file: none is left as a bare JSON object."""
    document = (await api.get("/api/openapi.json")).body
    schemas = document["components"]["schemas"]
    untyped, counted = [], 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            successes = [answer for status, answer in operation["responses"].items() if status.startswith("2")]
            counted += 1
            if len(successes) != 1 or not _typed(successes[0], schemas):
                untyped.append(f"{method.upper()} {path}")
    assert not untyped, f"{len(untyped)} operations without a typed success answer (add @returns): {untyped}"
    assert counted > 170
    lists = document["paths"]["/api/merchant/members"]["get"]["responses"]["200"]["content"]["application/json"]
    page = schemas[lists["schema"]["$ref"].rsplit("/", 1)[1]]
    assert set(page["required"]) == {"items", "total", "page", "page_size"}


async def test_every_request_body_field_has_a_description(api):
    """Every field of every request body (and of the objects inside one) says what it is."""
    document = (await api.get("/api/openapi.json")).body
    schemas = document["components"]["schemas"]
    todo = [op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            for operations in document["paths"].values() for op in operations.values() if "requestBody" in op]
    bodies: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in bodies:
            bodies.add(name)
            todo += [ref.rsplit("/", 1)[1] for ref in re.findall(r"#/components/schemas/\w+", str(schemas[name]))]
    fields = {f"{name}.{field}": schema for name in bodies for field, schema in schemas[name]["properties"].items()}
    assert not [field for field, schema in fields.items() if not schema.get("description")]
    assert len(fields) > 300
    # a PATCH model that re-declares a field to make it optional keeps its base's description
    assert fields["AddressPatch.mobile"]["description"] == fields["AddressBody.mobile"]["description"]
    assert fields["CouponPatch.name"]["description"] == fields["CouponBody.name"]["description"]


def test_two_models_of_one_name_cannot_share_a_schema_name():
    """Component schemas are named after their classes: a second, different `LoginBody` would make
    one operation document the other's body, so generating the document refuses it."""
    import pydantic
    import pytest

    from handlers.base import LoginBody, RequestBody
    from handlers.openapi import _add_schema

    class Other(RequestBody):
        mobile: str = pydantic.Field(description="a mobile number")

    Other.__name__ = "LoginBody"
    schemas: dict = {}
    _add_schema(LoginBody, schemas, mode="validation")
    _add_schema(LoginBody, schemas, mode="validation")  # the same model twice is fine
    with pytest.raises(ValueError, match="LoginBody"):
        _add_schema(Other, schemas, mode="validation")


async def test_each_operation_lists_the_error_codes_it_can_answer(api, make_shop):
    """Error answers list, per status, the codes the operation's code can give (handlers/refusals.py):
    bad requests get a code listed for exactly that operation and status, and a code that belongs
    to other operations is not listed. (tests/conftest.py holds every error the suite receives to
    the same rule.)"""
    document = (await api.get("/api/openapi.json")).body

    def listed(method: str, path: str, status: int) -> set[str]:
        answer = document["paths"][path][method]["responses"].get(str(status), {})
        if answer:
            assert answer["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            assert all(f"`{code}`" in answer["description"] for code in answer["x-error-codes"])
        return set(answer.get("x-error-codes", ()))

    shop = await make_shop()
    goods = await new_goods(api, shop, price_fen=5000, stock=1)
    ((member, address),) = await members_with_money(api, shop, 1, balance=100)
    refused = {  # (method, documented path): the answer to a bad request of it
        ("post", "/api/mobile/{shop_id}/orders"): await api.post(f"/api/mobile/{shop.id}/orders", {
            "items": [{"goods_id": goods["id"], "quantity": 2}], "address_id": address}, token=member.token),
        ("get", "/api/mobile/{shop_id}/goods/{goods_id}"): await api.get(f"/api/mobile/{shop.id}/goods/999999999"),
        ("post", "/api/mobile/{shop_id}/auth/register"): await api.post(
            f"/api/mobile/{shop.id}/auth/register", {"mobile": "12345", "password": "secret-1"}),
        ("get", "/api/merchant/orders"): await api.get("/api/merchant/orders", token="not-a-token"),
        ("post", "/api/mobile/{shop_id}/addresses"): await api.call(
            "POST", f"/api/mobile/{shop.id}/addresses", raw=b"{not json", token=member.token),
    }
    placed = await api.post(f"/api/mobile/{shop.id}/orders", {"items": [{"goods_id": goods["id"], "quantity": 1}],
                                                              "address_id": address}, token=member.token)
    assert placed.status == 201, placed.body
    refused[("post", "/api/mobile/{shop_id}/orders/{order_id}/pay")] = await api.post(
        f"/api/mobile/{shop.id}/orders/{placed.body['id']}/pay", {"method": "balance"}, token=member.token)
    refused[("post", "/api/merchant/orders/{order_id}/ship")] = await api.post(
        f"/api/merchant/orders/{placed.body['id']}/ship", {"express_company": "顺丰速运", "express_no": "SF1"},
        token=shop.owner_token)
    refused[("get", "/api/mobile/{shop_id}/orders/{order_id}/tracking")] = await api.get(
        f"/api/mobile/{shop.id}/orders/{placed.body['id']}/tracking", token=member.token)
    expected = {"out_of_stock", "not_found", "validation_failed", "invalid_token", "malformed_json",
                "insufficient_balance", "invalid_state", "not_shipped"}
    seen = set()
    for (method, path), answer in refused.items():
        code = answer.body["error"]["code"]
        assert code in listed(method, path, answer.status), (method, path, answer.status, code)
        seen.add(code)
    assert seen == expected, seen
    # codes of other operations are not listed; checks an operation skips are not either
    assert "insufficient_balance" not in listed("post", "/api/mobile/{shop_id}/addresses", 409)
    assert not listed("get", "/api/mobile/{shop_id}/goods", 401)  # public: no token is read
    assert "wrong_shop" in listed("get", "/api/mobile/{shop_id}/orders", 403)
    assert "permission_denied" not in listed("get", "/api/merchant/me", 403)  # any staff member
    assert "permission_denied" in listed("get", "/api/merchant/orders", 403)
    assert "too_many_attempts" in listed("post", "/api/merchant/auth/login", 429)
    assert "mobile_taken" in listed("post", "/api/mobile/{shop_id}/auth/register", 409)
    assert not listed("get", "/api/health", 404)


async def test_the_swagger_page_has_a_websocket_section(api):
    """Swagger UI shows only REST: the page adds `/ws`, linking the AsyncAPI document and the
    protocol guide, with every channel, who may subscribe and its events from the registry."""
    page = await api.get("/api/docs")
    assert page.status == 200
    section = page.text.split('<section id="websocket"')[1].split("</section>")[0]
    assert 'href="/api/asyncapi.json"' in section and 'href="/api/docs/websocket.md"' in section
    for channel in CHANNELS:
        assert f"<code>{channel.name}</code>" in section, channel.name
        assert all(f"<code>{event}</code>" in section for event in channel.events), channel.name
    for op in ("subscribe", "subscribed", "event", "resync", "since", "epoch"):
        assert f"<code>{op}</code>" in section, op
    guide = await api.get("/api/docs/websocket.md")
    assert guide.status == 200 and guide.headers["Content-Type"].startswith("text/markdown")
    assert guide.text == (ROOT / "docs" / "websocket.md").read_text(encoding="utf-8")
    assert "[/api/asyncapi.json](/api/asyncapi.json)" in (await api.get("/api/openapi.json")).body["info"]["description"]
