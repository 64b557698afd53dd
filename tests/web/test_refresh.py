"""The refresh_token grant: rotation, reuse detection, and the invalid_grant cases."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import Factory, Seeded, bearer, claims_of, grant, password_grant, refresh


async def test_rotation_returns_a_new_pair_and_revokes_the_old_access_token(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    first = await password_grant(client, seeded)
    second = await grant(client, seeded, "refresh_token", refresh_token=first["refresh_token"])

    assert list(second) == ["token_type", "expires_in", "access_token", "refresh_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert claims_of(second["access_token"])["sub"] == "admin"
    assert claims_of(second["access_token"])["fid"] == claims_of(first["access_token"])["fid"]
    assert (await client.get("/api/users", headers=bearer(first["access_token"]))).status == 401
    assert (await client.get("/api/users", headers=bearer(second["access_token"]))).status == 200


async def test_reuse_revokes_the_whole_family(client: TestClient[Any, Any], seeded: Seeded) -> None:
    first = await password_grant(client, seeded)
    second = await grant(client, seeded, "refresh_token", refresh_token=first["refresh_token"])

    reused = await refresh(client, seeded, first["refresh_token"])
    assert reused.status == 400
    assert (await reused.json())["error"] == "invalid_grant"
    # The newest tokens of the family are gone too.
    assert (await client.get("/api/users", headers=bearer(second["access_token"]))).status == 401
    assert (await refresh(client, seeded, second["refresh_token"])).status == 400
    # Another login of the same user is a different family and is untouched.
    other = await password_grant(client, seeded)
    assert (await client.get("/api/users", headers=bearer(other["access_token"]))).status == 200


async def test_50_concurrent_refreshes_of_one_token_have_exactly_one_winner(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    first = await password_grant(client, seeded)
    responses = await asyncio.gather(
        *(refresh(client, seeded, first["refresh_token"]) for _ in range(50))
    )
    statuses = sorted(r.status for r in responses)
    assert statuses.count(200) == 1
    assert statuses.count(400) == 49


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c"])
async def test_bad_refresh_tokens(client: TestClient[Any, Any], seeded: Seeded, token: str) -> None:
    response = await refresh(client, seeded, token)
    assert response.status == 400
    assert (await response.json())["error"] in ("invalid_grant", "invalid_request")


async def test_access_token_is_not_a_refresh_token(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    first = await password_grant(client, seeded)
    response = await refresh(client, seeded, first["access_token"])
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_grant"


async def test_another_clients_refresh_token_is_refused(
    client: TestClient[Any, Any], seeded: Seeded, factory: Factory
) -> None:
    first = await password_grant(client, seeded)
    other = await factory.client()
    response = await refresh(client, other, first["refresh_token"])
    assert response.status == 400
    assert (await response.json())["error"] == "invalid_grant"
    # ...and the attempt did not consume it for its owner.
    assert (await refresh(client, seeded, first["refresh_token"])).status == 200


async def test_user_disabled_since_login(
    client: TestClient[Any, Any], seeded: Seeded, pool: asyncpg.Pool
) -> None:
    first = await password_grant(client, seeded)
    await pool.execute("UPDATE users SET enabled = false WHERE username = 'admin'")
    response = await refresh(client, seeded, first["refresh_token"])
    body = await response.json()
    assert response.status == 400
    assert (body["error"], body["hint"]) == ("invalid_grant", "Account is disabled.")


async def test_client_without_the_refresh_grant(
    client: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.user()
    password_only = await factory.client(grants=("password",))
    assert "refresh_token" not in await password_grant(client, password_only)
    first = await password_grant(client, seeded := await factory.client())
    response = await refresh(client, password_only, first["refresh_token"])
    assert response.status == 401
    assert (await response.json())["error"] == "invalid_client"
    assert (await refresh(client, seeded, first["refresh_token"])).status == 200
