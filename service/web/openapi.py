"""GET /openapi.json: the OpenAPI 3.1 document kept in the repo (service/web/openapi.json),
with the API prefixes of this deployment."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from aiohttp import web

from service.config import ApiSettings
from service.web.appkeys import SETTINGS

DEFAULTS = ApiSettings()


def document(api: ApiSettings) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(
        (resources.files("service.web") / "openapi.json").read_text(encoding="utf-8")
    )
    paths = {}
    for path, item in doc["paths"].items():
        if path.startswith(DEFAULTS.storefront_prefix + "/"):
            path = api.storefront_prefix + path.removeprefix(DEFAULTS.storefront_prefix)
        elif path.startswith(DEFAULTS.backoffice_prefix + "/"):
            path = api.backoffice_prefix + path.removeprefix(DEFAULTS.backoffice_prefix)
        paths[path] = item
    doc["paths"] = paths
    return doc


async def serve(request: web.Request) -> web.Response:
    return web.json_response(document(request.app[SETTINGS].api))


def routes() -> list[web.AbstractRouteDef]:
    return [web.get("/openapi.json", serve)]
