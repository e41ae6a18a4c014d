"""`GET /api/openapi.json` (generated, see handlers/openapi.py) and `GET /api/docs`, a Swagger UI
page whose assets come from the swagger-ui-py package and are served from here (no CDN)."""
from pathlib import Path

import swagger_ui

from handlers.base import PAGE_CSP, ApiHandler, StaticFiles, dumps
from handlers.openapi import spec

ASSETS = Path(swagger_ui.__file__).parent / "static"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mall API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/api/docs/assets/swagger-ui.css"></head>
<body><div id="docs"></div>
<script src="/api/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({url: "/api/openapi.json", dom_id: "#docs", deepLinking: true});</script>
</body></html>"""


class OpenApiHandler(ApiHandler):
    """The OpenAPI 3.1 document of this API."""

    async def get(self):
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        if "openapi_document" not in self.settings:  # built once per application
            self.application.settings["openapi_document"] = spec(self.settings["route_table"])
        self.finish(dumps(self.settings["openapi_document"]))


class DocsHandler(ApiHandler):
    """Interactive API documentation."""

    csp = PAGE_CSP  # Swagger UI runs its scripts; the page may still not be framed

    async def get(self):
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(PAGE)


class AssetsHandler(StaticFiles):
    """Swagger UI's files, from the installed package."""
