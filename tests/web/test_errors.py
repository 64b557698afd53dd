"""The error middleware: a value the database refuses is the caller's 400, never a 500; the
metrics count every token request as the answer it got."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from service.config import Settings
from service.oauth.errors import AccountLocked, StoreUnavailable, classify
from service.store.errors import Invalid
from service.web import metrics, middleware, token
from service.web.appkeys import SETTINGS, TOKEN_ENDPOINT
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


class RefusingEndpoint:
    """A token endpoint whose store refuses a value."""

    async def token(self, *args: Any) -> None:
        raise Invalid("users: rejected by users_username_check")


async def grants_counted(client: Any, outcome: str, grant_type: str) -> float:
    body = await (await client.get("/metrics")).text()
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == "oauth_grants_total" and sample.labels == {
                "grant_type": grant_type,
                "outcome": outcome,
            }:
                return float(sample.value)
    return 0.0


async def test_a_refused_value_is_counted_as_the_400_it_answers(aiohttp_client: Any) -> None:
    app = web.Application(middlewares=[errors_middleware])
    app[SETTINGS] = Settings()
    app[TOKEN_ENDPOINT] = RefusingEndpoint()
    middleware.setup(app)
    metrics.setup(app)
    app.add_routes(token.routes())
    client = await aiohttp_client(app)
    before = await grants_counted(client, "invalid_request", "password")
    server_errors = await grants_counted(client, "server_error", "password")

    answer = await client.post("/oauth2-token", data={"grant_type": "password"})
    assert answer.status == 400
    assert (await answer.json())["error"] == "invalid_request"
    assert await grants_counted(client, "invalid_request", "password") == before + 1
    assert await grants_counted(client, "server_error", "password") == server_errors


async def test_malformed_and_oversized_bodies_are_counted(client: Any) -> None:
    before = await grants_counted(client, "invalid_request", "other")
    malformed = await client.post(
        "/oauth2-token", data=b"{", headers={"Content-Type": "application/json"}
    )
    assert malformed.status == 400
    oversized = await client.post("/oauth2-token", json={"password": "x" * 100_000})
    assert oversized.status == 413
    assert (await oversized.json())["error"] == "invalid_request"
    assert await grants_counted(client, "invalid_request", "other") == before + 2


def test_every_error_is_classified_once() -> None:
    """What the middleware answers, the metrics count and the audit log records come from
    one function."""
    assert classify(StoreUnavailable("redis: ConnectionError")).status == 503
    assert classify(StoreUnavailable("x")).error == "temporarily_unavailable"
    assert (classify(Invalid("x")).status, classify(Invalid("x")).error) == (400, "invalid_request")
    assert (classify(KeyError("x")).status, classify(KeyError("x")).error) == (500, "server_error")
    locked = AccountLocked()
    assert classify(locked) is locked
