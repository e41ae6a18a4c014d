"""`GET /api/openapi.json` (generated, see handlers/openapi.py), `GET /api/asyncapi.json` (the
WebSocket, generated from events/channels.py), `GET /api/docs`, a Swagger UI page whose assets come
from the swagger-ui-py package and are served from here (no CDN), with a section on the WebSocket,
the WebSocket guide (docs/websocket.md) at `GET /api/docs/websocket.md`, and the landing page at `/`."""
import html
from pathlib import Path

import swagger_ui

from events.channels import CHANNELS
from handlers import asyncapi, schemas, ws
from handlers.base import PAGE_CSP, ApiHandler, StaticFiles, dumps
from handlers.openapi import spec
from handlers.schemas import returns

ASSETS = Path(swagger_ui.__file__).parent / "static"
WEBSOCKET_GUIDE = Path(__file__).resolve().parent.parent / "docs" / "websocket.md"


def websocket_section() -> str:
    """The Swagger page's part on `/ws` (Swagger UI shows only REST): the protocol in brief and
    every channel with who may subscribe and its events, from the registry the server uses."""
    rows = "".join(
        f"<tr><td><code>{html.escape(c.name)}</code></td><td>{html.escape(c.description)}</td>"
        f"<td>{html.escape(asyncapi.WHO[c.audience])}</td>"
        f"<td>{', '.join(f'<code>{html.escape(t)}</code>' for t in c.events)}</td></tr>" for c in CHANNELS)
    return f"""<section id="websocket" class="wrapper" style="font-family: sans-serif; line-height: 1.5">
<h2>WebSocket <code>/ws</code>: live push</h2>
<p>Connect to <code>ws://HOST/ws</code> (<code>wss://</code> behind TLS), optionally with <code>?token=</code> a member
or merchant token, and exchange JSON text frames, each with an <code>op</code>.</p>
<ul>
<li>Client: <code>subscribe</code> a channel (with <code>since</code> and <code>epoch</code> from an earlier frame or
a REST read to resume: <code>{{"op": "subscribe", "channel": "team:42", "since": 17, "epoch": "k3x9"}}</code>),
<code>unsubscribe</code>, <code>auth</code> (a token on an open connection), <code>ping</code>.</li>
<li>Server: <code>subscribed</code> with the channel's position (<code>seq</code>, <code>epoch</code>), then the
missed and new events as <code>event</code> frames in <code>seq</code> order; <code>resync</code> when history was
lost (refetch by REST, continue from its position); <code>error</code> for a refused frame; <code>pong</code>.</li>
<li>Limits: {ws.MAX_SUBSCRIPTIONS} subscriptions per connection, {ws.RATE_PER_S:g} frames per second (bursts of
{ws.RATE_BURST}), frames up to {ws.MAX_FRAME_BYTES // 1024} KiB.</li>
</ul>
<p>Machine-readable: the <a href="/api/asyncapi.json">AsyncAPI 3.0 document</a>. The protocol guide, with a
reconnect-and-resume example and every event's fields: <a href="/api/docs/websocket.md">docs/websocket.md</a>.</p>
<table style="border-collapse: collapse" border="1" cellpadding="4">
<tr><th>channel</th><th>what</th><th>who may subscribe</th><th>events</th></tr>
{rows}
</table>
</section>"""


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mall API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body>%s
<div id="docs"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#docs", deepLinking: true});</script>
</body></html>"""


LANDING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mall</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto; line-height: 1.5">
<h1>mall</h1>
<p>A shop backend for WeChat distribution malls: REST under <code>/api</code>, live push on <code>/ws</code>.</p>
<ul>
<li><a href="/api/docs">API documentation</a> (Swagger UI) and the
<a href="/api/openapi.json">OpenAPI document</a></li>
<li><a href="/api/asyncapi.json">AsyncAPI document</a> of the WebSocket <code>/ws</code> and its
<a href="/api/docs/websocket.md">protocol guide</a></li>
<li><a href="/demo/">Demo pages</a> (group buying, order board, flash sale;
run <code>python server.py seed-demo</code> first)</li>
<li><a href="/api/health">Health</a> of this process (database and bus)</li>
</ul>
<p>The prose docs (conventions, WebSocket protocol, events, operations) are in the repository's <code>docs/</code>.</p>
</body></html>"""


class LandingHandler(ApiHandler):
    """A page for whoever opens the server's root in a browser: where the docs and demos are."""

    csp = PAGE_CSP

    async def get(self):
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(LANDING)


class OpenApiHandler(ApiHandler):
    """The OpenAPI 3.1 document of this API."""

    @returns(schemas.OpenApiDocument)
    async def get(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        if "openapi_document" not in self.settings:  # built once per application
            self.application.settings["openapi_document"] = spec(self.settings["route_table"])
        here = f"{self.request.protocol}://{self.request.host}"  # behind nginx: X-Forwarded-Proto and Host
        self.finish(dumps({**self.settings["openapi_document"], "servers": [{"url": here, "description": "this server"}]}))


class AsyncApiHandler(ApiHandler):
    """The AsyncAPI 3.0 document of the WebSocket `/ws`."""

    @returns(schemas.AsyncApiDocument)
    async def get(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        if "asyncapi_document" not in self.settings:
            self.application.settings["asyncapi_document"] = asyncapi.spec()
        self.finish(dumps(self.settings["asyncapi_document"]))


class DocsHandler(ApiHandler):
    """Interactive API documentation."""

    csp = PAGE_CSP  # Swagger UI runs its scripts; the page may still not be framed

    async def get(self):
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(PAGE % websocket_section())


class WebSocketGuideHandler(ApiHandler):
    """The WebSocket protocol guide (docs/websocket.md, Markdown)."""

    async def get(self):
        self.set_header("Content-Type", "text/markdown; charset=UTF-8")
        self.finish(WEBSOCKET_GUIDE.read_bytes())


class AssetsHandler(StaticFiles):
    """Swagger UI's files, from the installed package."""
