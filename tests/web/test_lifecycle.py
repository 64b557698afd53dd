"""client_credentials, RFC 7009 revocation, RFC 7662 introspection, and revoking everything
of a user or a client (seen by every instance)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from service.admin import accounts
from service.admin.tokens import RevokedLogins
from service.app import create_app
from service.cli.context import stores
from service.config import Settings
from service.oauth import clients
from service.oauth.model import Audience
from tests import commands
from tests.conftest import (
    Factory,
    Seeded,
    bearer,
    claims_of,
    grant,
    password_grant,
    refresh,
    token_request,
)
from tests.web.test_metrics import scrape, value

JSONAPI = "application/vnd.api+json"
USERS = {"table": "users", "outcome": "ok"}  # Postgres reads of users, in /metrics


async def post(client: TestClient[Any, Any], path: str, seeded: Seeded, **params: str) -> Any:
    body = {"client_id": seeded.client_id, "client_secret": seeded.client_secret, **params}
    return await client.post(f"/oauth2-token/{path}", data=body)


async def api_status(client: TestClient[Any, Any], token: str, path: str = "/api/users") -> int:
    return (await client.get(path, headers=bearer(token))).status


async def test_client_credentials_acts_as_the_back_office_owner(
    client: TestClient[Any, Any], factory: Factory
) -> None:
    owner = await factory.user("robot")
    machine = await factory.client(grants=("client_credentials",), owner_user_id=owner.id)
    body = await grant(client, machine, "client_credentials")

    assert list(body) == ["token_type", "expires_in", "access_token"]
    assert claims_of(body["access_token"])["sub"] == "robot"
    assert await api_status(client, body["access_token"]) == 200


async def test_client_credentials_acts_as_a_customer_user(
    client: TestClient[Any, Any], factory: Factory
) -> None:
    customer = await factory.customer()
    machine = await factory.client(
        "storefront", grants=("client_credentials",), owner_customer_user_id=customer.id
    )
    token = (await grant(client, machine, "client_credentials"))["access_token"]
    assert claims_of(token)["sub"] == "buyer@shop.example"
    assert await api_status(client, token, "/storefront/api/customerusers/mine") == 200
    assert await api_status(client, token) == 401


async def test_client_credentials_refused(
    client: TestClient[Any, Any], factory: Factory, seeded: Seeded, pool: asyncpg.Pool
) -> None:
    no_grant = await token_request(client, seeded, "client_credentials")
    assert no_grant.status == 401
    assert (await no_grant.json())["error"] == "invalid_client"

    owner = await factory.user("robot", enabled=False)
    machine = await factory.client(grants=("client_credentials",), owner_user_id=owner.id)
    disabled = await token_request(client, machine, "client_credentials")
    assert disabled.status == 400
    assert (await disabled.json())["hint"] == "Account is disabled."


async def test_client_credentials_reuses_its_owners_row_and_revocations_still_hold(
    client: TestClient[Any, Any], factory: Factory, settings: Settings
) -> None:
    """A worker reads a client_credentials owner's row once in a while (it may reuse it up
    to 2 s), and whatever stops the owner's logins holds at once all the same: after a new
    password the next login gets the new generation, disabled it is refused, deleted its
    client is unknown, as when the row is read for every login."""
    robot, other = await factory.user("robot"), await factory.user("other")
    machine = await factory.client(grants=("client_credentials",), owner_user_id=robot.id)
    gone = await factory.client(grants=("client_credentials",), owner_user_id=other.id)
    before = await scrape(client)
    first = await grant(client, machine, "client_credentials")
    await grant(client, machine, "client_credentials")
    await grant(client, gone, "client_credentials")
    reads = value(await scrape(client), "oauth_postgres_seconds_count", **USERS)
    assert reads - value(before, "oauth_postgres_seconds_count", **USERS) == 2

    await commands.set_user_password(settings, "robot", "another-pass")
    assert await api_status(client, first["access_token"]) == 401
    again = await grant(client, machine, "client_credentials")
    assert claims_of(again["access_token"])["gen"] == claims_of(first["access_token"])["gen"] + 1
    assert await api_status(client, again["access_token"]) == 200

    await commands.set_user_enabled(settings, "robot", False)
    disabled = await token_request(client, machine, "client_credentials")
    assert (disabled.status, (await disabled.json())["hint"]) == (400, "Account is disabled.")

    async with stores(settings) as s:
        await accounts.delete_account(s, Audience.BACKOFFICE, "other")
    deleted = await token_request(client, gone, "client_credentials")
    assert (deleted.status, (await deleted.json())["error"]) == (401, "invalid_client")


async def test_revoking_an_access_token(client: TestClient[Any, Any], seeded: Seeded) -> None:
    tokens = await password_grant(client, seeded)
    response = await post(client, "revoke", seeded, token=tokens["access_token"])
    assert response.status == 200
    assert await api_status(client, tokens["access_token"]) == 401
    # The refresh token of the pair still works.
    await grant(client, seeded, "refresh_token", refresh_token=tokens["refresh_token"])


async def test_revoking_a_refresh_token_revokes_its_access_token(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    tokens = await password_grant(client, seeded)
    response = await post(
        client, "revoke", seeded, token=tokens["refresh_token"], token_type_hint="refresh_token"
    )
    assert response.status == 200
    assert await api_status(client, tokens["access_token"]) == 401
    again = await post(client, "revoke", seeded, token=tokens["refresh_token"])
    assert again.status == 200


async def test_revoking_unknown_or_foreign_tokens_is_200_and_changes_nothing(
    client: TestClient[Any, Any], seeded: Seeded, factory: Factory
) -> None:
    assert (await post(client, "revoke", seeded, token="not-a-token")).status == 200
    tokens = await password_grant(client, seeded)
    other = await factory.client()
    assert (await post(client, "revoke", other, token=tokens["access_token"])).status == 200
    assert await api_status(client, tokens["access_token"]) == 200


async def test_revoke_and_introspect_need_client_authentication(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    for path in ("revoke", "introspect"):
        anonymous = await client.post(f"/oauth2-token/{path}", data={"token": "x"})
        assert anonymous.status == 400  # no client_id
        wrong = await client.post(
            f"/oauth2-token/{path}",
            data={"token": "x", "client_id": seeded.client_id, "client_secret": "guess"},
        )
        assert wrong.status == 401
        assert (await wrong.json())["error"] == "invalid_client"
        missing = await post(client, path, seeded)
        assert missing.status == 400
        assert (await missing.json())["error"] == "invalid_request"


async def test_introspection(client: TestClient[Any, Any], seeded: Seeded) -> None:
    tokens = await password_grant(client, seeded)
    response = await post(client, "introspect", seeded, token=tokens["access_token"])
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.json()
    claims = claims_of(tokens["access_token"])
    assert body["active"] is True
    assert (body["sub"], body["client_id"], body["token_type"]) == (
        "admin",
        seeded.client_id,
        "Bearer",
    )
    assert (body["exp"], body["jti"], body["iss"]) == (claims["exp"], claims["jti"], claims["iss"])

    refresh = await (await post(client, "introspect", seeded, token=tokens["refresh_token"])).json()
    assert (refresh["active"], refresh["token_type"]) == (True, "refresh_token")

    await post(client, "revoke", seeded, token=tokens["refresh_token"])
    for token in (tokens["access_token"], tokens["refresh_token"]):
        assert await (await post(client, "introspect", seeded, token=token)).json() == {
            "active": False
        }
    assert await (await post(client, "introspect", seeded, token="junk")).json() == {
        "active": False
    }


async def test_introspecting_another_clients_token(
    client: TestClient[Any, Any], seeded: Seeded, factory: Factory, pool: asyncpg.Pool
) -> None:
    token = (await password_grant(client, seeded))["access_token"]
    other = await factory.client()
    assert await (await post(client, "introspect", other, token=token)).json() == {"active": False}

    resource_server = await factory.client()
    await pool.execute(
        "UPDATE oauth_clients SET can_introspect = true WHERE client_id = $1",
        resource_server.client_id,
    )
    body = await (await post(client, "introspect", resource_server, token=token)).json()
    assert body["active"] is True


async def test_revoking_everything_of_a_user_reaches_every_instance(
    aiohttp_client: Any, settings: Settings, factory: Factory
) -> None:
    one = await aiohttp_client(create_app(settings))
    two = await aiohttp_client(create_app(settings))
    await factory.user()
    web, mobile = await factory.client(), await factory.client()
    first = await password_grant(one, web)
    second = await password_grant(two, mobile)
    refreshed = await grant(two, mobile, "refresh_token", refresh_token=second["refresh_token"])
    await factory.user("bystander")
    other = await password_grant(one, web, username="bystander")

    result = await commands.revoke(settings, user="admin")
    assert result == RevokedLogins(2)

    for instance in (one, two):
        assert await api_status(instance, first["access_token"]) == 401
        assert await api_status(instance, refreshed["access_token"]) == 401
        assert await api_status(instance, other["access_token"]) == 200
    gone = await refresh(one, mobile, refreshed["refresh_token"])
    assert gone.status == 400


async def test_disabling_or_changing_a_password_revokes(
    client: TestClient[Any, Any], seeded: Seeded, settings: Settings
) -> None:
    before = (await password_grant(client, seeded))["access_token"]
    await commands.set_user_password(settings, "admin", "a-new-password")
    assert await api_status(client, before) == 401
    after = (await password_grant(client, seeded, password="a-new-password"))["access_token"]
    assert await api_status(client, after) == 200

    await commands.set_user_enabled(settings, "admin", False)
    assert await api_status(client, after) == 401
    refused = await token_request(
        client, seeded, "password", username="admin", password="a-new-password"
    )
    assert (await refused.json())["hint"] == "Account is disabled."


async def test_deactivating_a_client_revokes_its_tokens(
    client: TestClient[Any, Any],
    seeded: Seeded,
    factory: Factory,
    settings: Settings,
) -> None:
    other = await factory.client()
    doomed = (await password_grant(client, seeded))["access_token"]
    kept = (await password_grant(client, other))["access_token"]

    result = await commands.set_client_active(settings, seeded.client_id, False)
    assert (result.revoked_before or 0) > 0
    assert await api_status(client, doomed) == 401
    assert await api_status(client, kept) == 200

    # The instance cached the client's row: for a moment it still takes the client, but
    # issues nothing, even in a later second than the deactivation.
    await asyncio.sleep(1.01 - time.time() % 1)
    during = await token_request(
        client, seeded, "password", username="admin", password="s3cret-pass"
    )
    assert (during.status, (await during.json())["error"]) == (400, "invalid_grant")

    await asyncio.sleep(clients.CACHE_SECONDS)  # the moment is over
    response = await token_request(
        client, seeded, "password", username="admin", password="s3cret-pass"
    )
    assert response.status == 401


async def test_revoking_a_client_on_demand_refuses_its_refresh_tokens_too(
    client: TestClient[Any, Any], seeded: Seeded, settings: Settings
) -> None:
    tokens = await password_grant(client, seeded)
    await commands.revoke(settings, client=seeded.client_id)
    assert await api_status(client, tokens["access_token"]) == 401
    refused = await refresh(client, seeded, tokens["refresh_token"])
    assert refused.status == 400
    introspected = await post(client, "introspect", seeded, token=tokens["access_token"])
    assert await introspected.json() == {"active": False}
    # The client itself still works: a login after that second gets a usable token.
    await asyncio.sleep(1.05)
    fresh = await password_grant(client, seeded)
    assert await api_status(client, fresh["access_token"]) == 200
