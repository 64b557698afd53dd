"""Refresh retries across instances: a client whose refresh answer was lost presents the same
refresh token again, to whichever instance the load balancer picks."""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio import Redis

from service.app import create_app
from service.config import Settings, replace
from tests.conftest import Seeded, bearer, claims_of, grant, password_grant, refresh


async def _instances(aiohttp_client: Any, settings: Settings, window: int) -> list[Any]:
    windowed = replace(settings, tokens={"refresh_reuse_interval": window})
    return [await aiohttp_client(create_app(windowed)) for _ in range(2)]


async def test_a_retry_on_another_instance_gets_the_same_pair(
    aiohttp_client: Any, settings: Settings, seeded: Seeded, redis: Redis
) -> None:
    one, two = await _instances(aiohttp_client, settings, window=10)
    first = await password_grant(one, seeded)
    second = await grant(one, seeded, "refresh_token", refresh_token=first["refresh_token"])

    again = await grant(two, seeded, "refresh_token", refresh_token=first["refresh_token"])
    # The same pair; expires_in is what is left of it, a second less across a second's edge.
    assert {**again, "expires_in": second["expires_in"]} == second
    assert second["expires_in"] - 1 <= again["expires_in"] <= second["expires_in"]
    # The login lives: the pair works and rotates as usual, on either instance.
    assert (await two.get("/api/users", headers=bearer(second["access_token"]))).status == 200
    third = await grant(two, seeded, "refresh_token", refresh_token=second["refresh_token"])
    assert (await one.get("/api/users", headers=bearer(third["access_token"]))).status == 200

    # Redis keeps the pair sealed: no token appears in what it holds.
    family = claims_of(first["refresh_token"])["fid"]
    [kept] = [k async for k in redis.scan_iter(match=f"{settings.redis.key_prefix}{{{family}}}:r")]
    value = await redis.get(kept)
    assert value is not None
    for token in (*second.values(), *third.values()):
        assert str(token).encode() not in value
    assert 0 < await redis.ttl(kept) <= 10


async def test_concurrent_uses_of_one_refresh_token_get_one_pair(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    one, two = await _instances(aiohttp_client, settings, window=10)
    first = await password_grant(one, seeded)
    answers = await asyncio.gather(
        *(refresh(c, seeded, first["refresh_token"]) for c in (one, two) * 5)
    )
    assert [a.status for a in answers] == [200] * 10
    pairs = {(b["access_token"], b["refresh_token"]) for b in [await a.json() for a in answers]}
    assert len(pairs) == 1


async def test_after_the_window_reuse_revokes_the_login(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    one, two = await _instances(aiohttp_client, settings, window=1)
    first = await password_grant(one, seeded)
    second = await grant(one, seeded, "refresh_token", refresh_token=first["refresh_token"])
    await asyncio.sleep(1.1)

    reused = await refresh(two, seeded, first["refresh_token"])
    assert reused.status == 400
    assert (await reused.json())["hint"] == "Token has been revoked"
    assert (await one.get("/api/users", headers=bearer(second["access_token"]))).status == 401
    assert (await refresh(one, seeded, second["refresh_token"])).status == 400


async def test_a_retry_of_an_older_token_or_by_another_client_gets_nothing(
    aiohttp_client: Any, settings: Settings, seeded: Seeded, factory: Any
) -> None:
    one, two = await _instances(aiohttp_client, settings, window=10)
    other: Seeded = await factory.client()
    first = await password_grant(one, seeded)
    # Another client presenting the token: refused, and the login is untouched.
    stolen = await refresh(two, other, first["refresh_token"])
    assert (await stolen.json())["hint"] == "Token is not linked to client"

    second = await grant(one, seeded, "refresh_token", refresh_token=first["refresh_token"])
    await grant(one, seeded, "refresh_token", refresh_token=second["refresh_token"])
    # `first` is two rotations old: theft, window or not.
    assert (await refresh(two, seeded, first["refresh_token"])).status == 400
    assert (await refresh(one, seeded, second["refresh_token"])).status == 400


async def test_a_revoked_login_is_not_brought_back_by_a_retry(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    one, two = await _instances(aiohttp_client, settings, window=10)
    first = await password_grant(one, seeded)
    second = await grant(one, seeded, "refresh_token", refresh_token=first["refresh_token"])
    revoked = await one.post(
        "/oauth2-token/revoke",
        data={
            "token": second["refresh_token"],
            "client_id": seeded.client_id,
            "client_secret": seeded.client_secret,
        },
    )
    assert revoked.status == 200
    assert (await refresh(two, seeded, first["refresh_token"])).status == 400
