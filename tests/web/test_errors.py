"""The error middleware: a value the database refuses is the caller's 400, never a 500."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from service.config import Settings
from service.store.errors import Invalid
from service.web.appkeys import SETTINGS
from service.web.errors import errors_middleware


async def refused(request: web.Request) -> web.Response:
    raise Invalid("customer_visitors: CharacterNotInRepertoireError")


async def test_a_value_refused_by_the_database_is_a_400(aiohttp_client: Any) -> None:
    app = web.Application(middlewares=[errors_middleware])
    app[SETTINGS] = Settings()
    app.router.add_post("/oauth2-token", refused)
    app.router.add_get("/api/users", refused)
    client = await aiohttp_client(app)

    token = await client.post("/oauth2-token")
    assert token.status == 400
    body = await token.json()
    assert body["error"] == "invalid_request"
    assert "customer_visitors" not in str(body)

    api = await client.get("/api/users")
    assert api.status == 400
    assert (await api.json(content_type="application/vnd.api+json"))["errors"][0]["status"] == "400"
