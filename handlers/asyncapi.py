"""AsyncAPI 3.0 of `GET /ws`, generated from the channel and event registry (events/channels.py)
and the limits the WebSocket handler enforces (handlers/ws.py), served at `/api/asyncapi.json`.

The document describes the server (the application): operations it `receive`s are client frames
(subscribe, unsubscribe, auth, ping), operations it `send`s are its frames (subscribed, event,
resync, error, pong, ...). Each registry channel is an AsyncAPI channel whose address is the channel
name clients subscribe to (`team:{team_id}`); its messages are the `event` frames of its event
types, each with the payload model as `data`. The frames that are not events travel on `ws`."""
from __future__ import annotations

from events.channels import ANYONE, CHANNELS, ORDERS_STAFF, SYSTEM_TEST, THAT_MEMBER, SystemTest
from handlers import ws

WHO = {ANYONE: "anyone, no token needed", THAT_MEMBER: "that member (a member token)",
       ORDERS_STAFF: "staff of that shop whose permissions include orders.view (a merchant token)"}
REF = "#/components/schemas/{model}"


def _schema(model, schemas: dict) -> dict:
    schema = model.model_json_schema(ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": REF.format(model=model.__name__)}


def _frame(op: str, description: str, properties: dict, required: tuple = ()) -> dict:
    return {"type": "object", "description": description, "required": ["op", *required],
            "properties": {"op": {"const": op}, **properties}}


_CHANNEL = {"type": "string", "description": "a channel name, e.g. team:42", "examples": ["team:42"]}
_SEQ = {"type": "integer", "minimum": 0, "description": "the channel's position: one more per event, no gaps"}
_EPOCH = {"type": "string", "description": "the channel history's identity; a new one means history was lost"}
_CODE = {"type": "string", "description": "bad_frame, bad_op, bad_channel, forbidden, too_many_subscriptions, "
                                          "rate_limited, access_revoked, invalid_token, token_revoked, "
                                          "unavailable, internal_error, ..."}

CLIENT_FRAMES = {
    "subscribe": _frame("subscribe", "Start receiving a channel. With `since` and `epoch` (from a previous "
                        "`subscribed`, `event` or REST read) the events missed since then are replayed first.",
                        {"channel": _CHANNEL, "since": {**_SEQ, "description": "the last seq seen"},
                         "epoch": {**_EPOCH, "maxLength": 32}}, ("channel",)),
    "unsubscribe": _frame("unsubscribe", "Stop receiving a channel.", {"channel": _CHANNEL}, ("channel",)),
    "auth": _frame("auth", "Sign in (or switch principal) on an open connection; private subscriptions the new "
                   "token may not read end with an `error`.", {"token": {"type": "string", "description":
                                                                         "a member or merchant JWT"}}, ("token",)),
    "ping": _frame("ping", "Application-level ping; the server answers `pong`.", {}),
}
SERVER_FRAMES = {
    "subscribed": _frame("subscribed", "The subscription is on; `seq`/`epoch` are the channel's current position. "
                         "With `since`, the missed events follow before any new one.",
                         {"channel": _CHANNEL, "seq": _SEQ, "epoch": _EPOCH}, ("channel", "seq", "epoch")),
    "resync": _frame("resync", "The events since `since` are no longer held or `epoch` is not current: "
                     "refetch by REST, then continue from this position.",
                     {"channel": _CHANNEL, "seq": _SEQ, "epoch": _EPOCH}, ("channel", "seq", "epoch")),
    "unsubscribed": _frame("unsubscribed", "The channel is no longer received.",
                           {"channel": {**_CHANNEL, "type": ["string", "null"]}}),
    "authenticated": _frame("authenticated", "The token was accepted.",
                            {"audience": {"enum": ["member", "merchant"]}}, ("audience",)),
    "error": _frame("error", "A refused frame or an ended subscription (with `channel`).",
                    {"code": _CODE, "message": {"type": "string"}, "channel": {**_CHANNEL, "type": ["string", "null"]}},
                    ("code", "message")),
    "pong": _frame("pong", "The answer to `ping`.", {}),
}


def _event_message(channel, type_: str, model, schemas: dict) -> dict:
    return {"name": type_, "title": type_, "summary": (model.__doc__ or type_).strip().split("\n")[0],
            "payload": {"type": "object", "required": ["op", "channel", "seq", "type", "data"], "properties": {
                "op": {"const": "event"}, "channel": {"type": "string", "description": f"a {channel.name} channel"},
                "seq": _SEQ, "type": {"const": type_}, "data": _schema(model, schemas)}}}


def spec() -> dict:
    schemas: dict = {}
    messages: dict = {}
    channels: dict = {}
    operations: dict = {}
    for channel in CHANNELS:
        key = channel.name.split(":")[0]
        params = {name.strip("{}"): {"description": f"the {name.strip('{}').replace('_', ' ')}"}
                  for name in channel.name.split(":") if name.startswith("{")}
        channel_messages = {}
        for type_, model in {**channel.events, SYSTEM_TEST: SystemTest}.items():
            message_id = f"{key}_{type_.replace('.', '_')}"
            messages[message_id] = _event_message(channel, type_, model, schemas)
            channel_messages[message_id] = {"$ref": f"#/components/messages/{message_id}"}
        channels[key] = {"address": channel.name, "title": channel.name,
                         "description": f"{channel.description} Who may subscribe: {WHO[channel.audience]}.",
                         "parameters": params, "messages": channel_messages}
        operations[f"send_{key}_events"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"events of {channel.name} to its subscribers",
            "messages": [{"$ref": f"#/channels/{key}/messages/{m}"} for m in channel_messages]}
    frames = {}
    for direction, table in (("receive", CLIENT_FRAMES), ("send", SERVER_FRAMES)):
        for op, schema in table.items():
            frames[op] = {"$ref": f"#/components/messages/{op}"}
            messages[op] = {"name": op, "title": op, "summary": schema["description"].split(". ")[0],
                            "payload": schema}
            operations[f"{direction}_{op}"] = {"action": direction, "channel": {"$ref": "#/channels/ws"},
                                               "summary": schema["description"].split(". ")[0],
                                               "messages": [{"$ref": f"#/channels/ws/messages/{op}"}]}
    channels["ws"] = {"address": "/ws", "title": "the connection",
                      "description": "Control frames of the connection (JSON text frames). A token may be given as "
                                     "`?token=` in the URL or with the `auth` op; anonymous connections may "
                                     "subscribe to public channels.",
                      "messages": frames}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "mall live push", "version": "1.0",
                 "description": "`GET /ws`: JSON text frames. Subscribe to channels, receive their events in seq "
                                "order, resume after a reconnect with `since`/`epoch`. Limits: "
                                f"{ws.MAX_SUBSCRIPTIONS} subscriptions per connection, frames up to "
                                f"{ws.MAX_FRAME_BYTES} bytes (close 1009 beyond), {ws.RATE_PER_S:g} messages per "
                                f"second with bursts of {ws.RATE_BURST} (`rate_limited`, close 1008 after "
                                f"{ws.MAX_REFUSED} refusals); a client that stops reading is closed with 1013 "
                                f"(reconnect with `since`), revoked access with 1008, shutdown with 1001. "
                                "Protocol guide: docs/websocket.md in the repository.",
                 "license": {"name": "Proprietary"}},
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:8888", "protocol": "ws", "pathname": "/ws",
                              "description": "a server started with the defaults"}},
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


# ---------------------------------------------------------------- the events catalogue of docs/websocket.md
BEGIN, END = "<!-- events catalogue: generated from events/channels.py -->", "<!-- end of events catalogue -->"


def catalogue() -> str:
    """The events catalogue as Markdown: each channel, who may subscribe, each event and its fields."""
    lines = [BEGIN, ""]
    names = {"int": "integer", "str": "string", "NoneType": "null", "bool": "boolean"}
    for channel in CHANNELS:
        lines += [f"### `{channel.name}`", "", f"{channel.description} Who may subscribe: {WHO[channel.audience]}.", ""]
        by_model: dict = {}
        for type_, model in channel.events.items():
            by_model.setdefault(model, []).append(f"`{type_}`")
        for model, types in by_model.items():
            lines += [f"- {', '.join(types)}: {(model.__doc__ or '').strip()}", "",
                      "  | field | type | meaning |", "  | --- | --- | --- |"]
            for name, field in model.model_fields.items():
                kinds = getattr(field.annotation, "__args__", None) or (field.annotation,)
                kind = " or ".join(names.get(k.__name__, k.__name__) for k in kinds)
                lines.append(f"  | `{name}` | {kind} | {field.description or ''} |")
            lines.append("")
    lines += [f"Any channel may also carry `{SYSTEM_TEST}` (an operator's test push, "
              "`POST /api/admin/events/test`), with whatever object the operator sent.", "", END]
    return "\n".join(lines)


def write_catalogue(path: str) -> None:
    """Replace the catalogue between its markers in `path` (docs/websocket.md)."""
    with open(path, encoding="utf-8") as file:
        text = file.read()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    with open(path, "w", encoding="utf-8") as file:
        file.write(head + catalogue() + tail)


if __name__ == "__main__":  # python -m handlers.asyncapi docs/websocket.md
    import sys

    write_catalogue(sys.argv[1])
