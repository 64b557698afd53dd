"""Storefront: customer users by email, guests as new visitor rows, and tokens that are not
interchangeable between the back-office and the storefront."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import Settings, replace
from tests.conftest import Factory, Seeded, bearer, claims_of, grant, password_grant, token_request

JSONAPI = "application/vnd.api+json"
MINE_CUSTOMER = "/storefront/api/customerusers/mine"
MINE_VISITOR = "/storefront/api/customervisitors/mine"


async def guest(client: TestClient[Any, Any], shop: Seeded) -> dict[str, Any]:
    return await grant(client, shop, "password", username="guest", password="guest")


async def test_customer_user_logs_in_with_email_in_any_case(
    client: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.customer("Buyer@Shop.example")
    shop = await factory.client("storefront")
    body = await grant(
        client, shop, "password", username="bUYER@shop.EXAMPLE", password="buyer-pass"
    )
    claims = claims_of(body["access_token"])
    assert claims["sub"] == "Buyer@Shop.example"
    assert claims["aud"] == shop.client_id

    mine = await client.get(MINE_CUSTOMER, headers=bearer(body["access_token"]))
    assert mine.status == 200
    data = (await mine.json(content_type=JSONAPI))["data"]
    assert data["type"] == "customerusers"
    assert data["attributes"]["email"] == "Buyer@Shop.example"


async def test_customer_user_wrong_password_and_disabled(
    client: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.customer("off@shop.example", enabled=False)
    shop = await factory.client("storefront")
    base = {
        "grant_type": "password",
        "client_id": shop.client_id,
        "client_secret": shop.client_secret,
    }
    wrong = await client.post(
        "/oauth2-token", json={**base, "username": "off@shop.example", "password": "nope-nope"}
    )
    assert wrong.status == 400
    assert "hint" not in await wrong.json()
    right = await client.post(
        "/oauth2-token", json={**base, "username": "off@shop.example", "password": "buyer-pass"}
    )
    assert (await right.json())["hint"] == "Account is disabled."


async def test_back_office_users_cannot_log_in_on_a_storefront_client(
    client: TestClient[Any, Any], factory: Factory, seeded: Seeded
) -> None:
    shop = await factory.client("storefront")
    response = await token_request(
        client, shop, "password", username="admin", password="s3cret-pass"
    )
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_grant"


async def test_every_guest_token_is_a_new_visitor_row(
    client: TestClient[Any, Any], factory: Factory, pool: asyncpg.Pool
) -> None:
    shop = await factory.client("storefront")
    first, second = await guest(client, shop), await guest(client, shop)

    subs = [claims_of(t["access_token"])["sub"] for t in (first, second)]
    assert subs[0] != subs[1]
    assert all(re.fullmatch(r"visitor:[0-9a-f]{20}", s) for s in subs)
    assert first["refresh_token"] and second["refresh_token"]
    rows = await pool.fetch("SELECT session_id, created_at FROM customer_visitors ORDER BY id")
    assert ["visitor:" + r["session_id"] for r in rows] == subs

    mine = await client.get(MINE_VISITOR, headers=bearer(first["access_token"]))
    assert mine.status == 200
    data = (await mine.json(content_type=JSONAPI))["data"]
    assert data["type"] == "customervisitors"
    assert data["id"] == subs[0].removeprefix("visitor:")


async def test_guest_on_a_back_office_client_is_an_ordinary_invalid_grant(
    client: TestClient[Any, Any], seeded: Seeded, pool: asyncpg.Pool
) -> None:
    response = await token_request(client, seeded, "password", username="guest", password="guest")
    assert response.status == 400
    assert (await response.json())["message"] == "The user credentials were incorrect."
    assert await pool.fetchval("SELECT count(*) FROM customer_visitors") == 0


async def test_visitor_cannot_read_a_customer_user_and_vice_versa(
    client: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.customer()
    shop = await factory.client("storefront")
    visitor = (await guest(client, shop))["access_token"]
    customer = (
        await grant(client, shop, "password", username="buyer@shop.example", password="buyer-pass")
    )["access_token"]

    denied = await client.get(MINE_CUSTOMER, headers=bearer(visitor))
    assert denied.status == 403
    assert (await denied.json(content_type=JSONAPI))["errors"][0]["status"] == "403"
    assert (await client.get(MINE_VISITOR, headers=bearer(customer))).status == 403


async def test_tokens_are_not_interchangeable_all_four_ways(
    client: TestClient[Any, Any], factory: Factory, seeded: Seeded
) -> None:
    await factory.customer()
    shop = await factory.client("storefront")
    back_office = (await password_grant(client, seeded))["access_token"]
    customer = (
        await grant(client, shop, "password", username="buyer@shop.example", password="buyer-pass")
    )["access_token"]
    visitor = (await guest(client, shop))["access_token"]

    for path, token in [
        (MINE_CUSTOMER, back_office),
        (MINE_VISITOR, back_office),
        ("/api/users", customer),
        ("/api/users", visitor),
    ]:
        response = await client.get(path, headers=bearer(token))
        assert response.status == 401, path
        assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_audience_is_bound_into_the_token_not_taken_from_the_path(
    aiohttp_client: Any, settings: Settings, factory: Factory
) -> None:
    # Serve the storefront API under the back-office prefix's name: still refused.
    swapped = replace(settings, api={"backoffice_prefix": "/bo", "storefront_prefix": "/api"})
    client = await aiohttp_client(create_app(swapped))
    await factory.user()
    back_office_client = await factory.client()
    token = (await password_grant(client, back_office_client))["access_token"]
    response = await client.get("/api/customerusers/mine", headers=bearer(token))
    assert response.status == 401
    assert (await client.get("/bo/users", headers=bearer(token))).status == 200


async def test_visitor_refresh_works_and_keeps_the_row_alive(
    client: TestClient[Any, Any], factory: Factory, pool: asyncpg.Pool
) -> None:
    shop = await factory.client("storefront")
    first = await guest(client, shop)
    before = await pool.fetchval("SELECT expires_at FROM customer_visitors")
    refreshed = await grant(client, shop, "refresh_token", refresh_token=first["refresh_token"])

    assert claims_of(refreshed["access_token"])["sub"] == claims_of(first["access_token"])["sub"]
    assert (await client.get(MINE_VISITOR, headers=bearer(refreshed["access_token"]))).status == 200
    assert await pool.fetchval("SELECT expires_at FROM customer_visitors") >= before
    assert await pool.fetchval("SELECT count(*) FROM customer_visitors") == 1


async def test_200_concurrent_guest_tokens_make_200_visitors(
    aiohttp_client: Any, settings: Settings, factory: Factory, pool: asyncpg.Pool
) -> None:
    # One address past guest_logins_per_minute would get 429 (test_protection covers that).
    unlimited = replace(settings, protection={"guest_logins_per_minute": 0})
    client = await aiohttp_client(create_app(unlimited))
    shop = await factory.client("storefront")
    bodies = await asyncio.gather(*(guest(client, shop) for _ in range(200)))

    subs = {claims_of(b["access_token"])["sub"] for b in bodies}
    assert len(subs) == 200
    rows = await pool.fetch("SELECT session_id FROM customer_visitors")
    assert {"visitor:" + r["session_id"] for r in rows} == subs
