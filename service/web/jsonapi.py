"""JSON:API documents and errors."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

MEDIA_TYPE = "application/vnd.api+json"


def document(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type=MEDIA_TYPE,
    )


def error(
    status: int, title: str, detail: str, headers: dict[str, str] | None = None
) -> web.Response:
    response = document(
        {"errors": [{"status": str(status), "title": title, "detail": detail}]}, status
    )
    response.headers.update(headers or {})
    return response
