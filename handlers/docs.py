"""`GET /api/openapi.json` (generated, see handlers/openapi.py), `GET /api/asyncapi.json` (the
WebSocket, generated from events/channels.py), `GET /api/docs`, a Swagger UI page whose assets come
from the swagger-ui-py package and are served from here (no CDN), and the landing page at `/`."""
from pathlib import Path

import swagger_ui

from handlers import asyncapi, schemas
from handlers.base import PAGE_CSP, ApiHandler, StaticFiles, dumps
from handlers.openapi import spec
from handlers.schemas import returns

ASSETS = Path(swagger_ui.__file__).parent / "static"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mall API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="docs"></div>
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
<li><a href="/api/asyncapi.json">AsyncAPI document</a> of the WebSocket <code>/ws</code></li>
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
        self.finish(PAGE)


class AssetsHandler(StaticFiles):
    """Swagger UI's files, from the installed package."""
