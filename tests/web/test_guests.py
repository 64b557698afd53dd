"""Guests (issue 11, items 6 and 7): a refresh lifetime of their own, a visitor row that goes
with its revoked login, and a guest told apart by audience and how its subject was made,
never by a "visitor:" prefix alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import Settings, replace
from service.store.errors import Invalid
from service.store.users import UserRepository
from tests import commands
from tests.conftest import Factory, Seeded, bearer, claims_of, grant, password_grant, refresh

GUEST_LIFE = 600


@pytest.fixture
async def shop_client(aiohttp_client: Any, settings: Settings) -> TestClient[Any, Any]:
    guests = replace(
        settings, tokens={"guest_refresh_token_lifetime": GUEST_LIFE, "access_token_lifetime": 300}
    )
    return await aiohttp_client(create_app(guests))


async def guest(client: TestClient[Any, Any], shop: Seeded) -> dict[str, Any]:
    return await grant(client, shop, "password", username="guest", password="guest")


async def session_ids(pool: asyncpg.Pool) -> set[str]:
    return {r["session_id"] for r in await pool.fetch("SELECT session_id FROM customer_visitors")}


def session_of(tokens: dict[str, Any]) -> str:
    return str(claims_of(tokens["access_token"])["sub"]).removeprefix("visitor:")


async def test_a_guest_refresh_token_lives_the_guest_lifetime(
    shop_client: TestClient[Any, Any], factory: Factory, pool: asyncpg.Pool
) -> None:
    shop = await factory.client("storefront")
    await factory.customer()
    visitor = claims_of((await guest(shop_client, shop))["refresh_token"])
    assert visitor["exp"] - visitor["iat"] == GUEST_LIFE
    lasts = await pool.fetchval("SELECT expires_at - now() FROM customer_visitors")
    assert GUEST_LIFE <= lasts.total_seconds() <= 1.2 * GUEST_LIFE  # not the 30 days

    customer = await password_grant(
        shop_client, shop, username="buyer@shop.example", password="buyer-pass"
    )
    claims = claims_of(customer["refresh_token"])
    assert claims["exp"] - claims["iat"] == 2_592_000  # customer users keep theirs

    refreshed = await refresh(shop_client, shop, (await guest(shop_client, shop))["refresh_token"])
    claims = claims_of((await refreshed.json())["refresh_token"])
    assert claims["exp"] - claims["iat"] == GUEST_LIFE


async def test_revoking_a_guest_refresh_token_deletes_its_visitor(
    shop_client: TestClient[Any, Any], factory: Factory, pool: asyncpg.Pool
) -> None:
    shop = await factory.client("storefront")
    doomed, kept = await guest(shop_client, shop), await guest(shop_client, shop)
    revoked = await shop_client.post(
        "/oauth2-token/revoke",
        data={
            "token": doomed["refresh_token"],
            "client_id": shop.client_id,
            "client_secret": shop.client_secret,
        },
    )
    assert revoked.status == 200

    assert await session_ids(pool) == {session_of(kept)}
    assert (await refresh(shop_client, shop, doomed["refresh_token"])).status == 400
    assert (await refresh(shop_client, shop, kept["refresh_token"])).status == 200


async def test_a_reused_guest_refresh_token_deletes_its_visitor(
    shop_client: TestClient[Any, Any], factory: Factory, pool: asyncpg.Pool
) -> None:
    shop = await factory.client("storefront")
    first = await guest(shop_client, shop)
    second = await grant(shop_client, shop, "refresh_token", refresh_token=first["refresh_token"])

    reused = await refresh(shop_client, shop, first["refresh_token"])
    assert reused.status == 400
    assert await session_ids(pool) == set()
    assert (await refresh(shop_client, shop, second["refresh_token"])).status == 400


async def test_a_back_office_user_cannot_be_named_like_a_visitor(pool: asyncpg.Pool) -> None:
    with pytest.raises(Invalid):
        await UserRepository(pool).create("visitor:0123456789abcdef0123", "v@example.com", "h")
    assert await pool.fetchval("SELECT count(*) FROM users") == 0


@pytest.fixture
async def visitor_named_user(pool: asyncpg.Pool, factory: Factory) -> AsyncIterator[str]:
    """A back-office user named like a visitor, as the schema allowed before 0003."""
    constraint = "users_username_not_visitor"
    password_hash = await factory.passwords.hash("s3cret-pass")
    await pool.execute(f"ALTER TABLE users DROP CONSTRAINT IF EXISTS {constraint}")
    await pool.execute(
        "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3)",
        "visitor:legacy",
        "legacy@example.com",
        password_hash,
    )
    try:
        yield "visitor:legacy"
    finally:
        await pool.execute("DELETE FROM users WHERE username LIKE 'visitor:%'")
        if await pool.fetchval("SELECT to_regclass('revoked_families')"):  # since 0003
            await pool.execute(
                f"ALTER TABLE users ADD CONSTRAINT {constraint} "
                "CHECK (username NOT LIKE 'visitor:%')"
            )


async def test_back_office_tokens_are_indexed_whatever_the_username(
    client: TestClient[Any, Any], factory: Factory, settings: Settings, visitor_named_user: str
) -> None:
    """Its tokens are a back-office user's, so disabling the user revokes them."""
    back_office = await factory.client()
    tokens = await password_grant(client, back_office, username=visitor_named_user)
    assert (await client.get("/api/users", headers=bearer(tokens["access_token"]))).status == 200

    await commands.set_user_enabled(settings, visitor_named_user, False)
    assert (await client.get("/api/users", headers=bearer(tokens["access_token"]))).status == 401
    assert (await refresh(client, back_office, tokens["refresh_token"])).status == 400
