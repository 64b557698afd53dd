"""Revocation against logins in flight (issue 11, item 3). A login is held in flight by a
slow password hash (argon2id with a large time cost, which the service verifies at the
stored parameters) while the operator's command runs; once the command has returned, no
token of those logins works on any instance."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import Settings
from tests import commands
from tests.conftest import Factory, Seeded, bearer, login, password_grant, refresh
from tests.hashing import Verifying

Instance = TestClient[Any, Any]


# Hashes of "old-password" (argon2id, 64 MiB) at other parameters than the service's: a
# login verifies them at these parameters, slowly, then rehashes. Written out: making them
# costs as much as verifying them.
SLOW = "$argon2id$v=19$m=65536,t=16,p=1$p6w5ueQIVvm2i+6hDYltBQ$LC3rPVpkhAXKNiI+l4OMjGzuScG9YNJ366+hxRvLNH0"  # noqa: E501  ~0.7 s
SLOWER = "$argon2id$v=19$m=65536,t=100,p=1$5YJoLIcEvvTP/1ivvgqyVA$Nqq4ChkpE7qn/9v6LH0fVWXPdD9fyAH+7Mi9eUNdKyw"  # noqa: E501  ~4.5 s


async def slow_user(pool: asyncpg.Pool, factory: Factory, password_hash: str = SLOW) -> None:
    """The user `slow`, password "old-password", verified slowly."""
    user = await factory.user("slow")
    await pool.execute("UPDATE users SET password_hash = $2 WHERE id = $1", user.id, password_hash)


async def in_flight(
    instances: list[Instance], seeded: Seeded, per_instance: int, username: str, password: str
) -> list[asyncio.Task[Any]]:
    """Logins started on every instance; returns once all of them are verifying."""
    counters = [Verifying(one.app) for one in instances]
    tasks = [
        asyncio.create_task(one.post("/oauth2-token", json=login(seeded, username, password)))
        for one in instances
        for _ in range(per_instance)
    ]
    for counter in counters:
        await counter.reaches(per_instance)
    return tasks


async def assert_dead(instances: list[Instance], seeded: Seeded, body: dict[str, Any]) -> None:
    """Refused by every instance: the API, introspection, a refresh."""
    for one in instances:
        api = await one.get("/api/users", headers=bearer(body["access_token"]))
        assert api.status == 401
        for token in (body["access_token"], body["refresh_token"]):
            introspected = await one.post(
                "/oauth2-token/introspect",
                data={
                    "token": token,
                    "client_id": seeded.client_id,
                    "client_secret": seeded.client_secret,
                },
            )
            assert await introspected.json() == {"active": False}
    assert (await refresh(instances[0], seeded, body["refresh_token"])).status == 400


async def answers(tasks: list[asyncio.Task[Any]]) -> list[tuple[int, dict[str, Any]]]:
    done = []
    for response in await asyncio.gather(*tasks):
        done.append((response.status, await response.json()))
    return done


Command = Callable[[Settings], Awaitable[Any]]
OWNER_WIDE: dict[str, tuple[Command, str | None]] = {
    "users disable": (
        lambda s: commands.set_user_enabled(s, "slow", False),
        "Account is disabled.",
    ),
    "users set-password": (lambda s: commands.set_user_password(s, "slow", "another-pass"), None),
    "tokens revoke --user": (lambda s: commands.revoke(s, user="slow"), None),
}


@pytest.mark.parametrize("command", list(OWNER_WIDE))
async def test_an_owner_wide_revocation_kills_logins_in_flight_on_every_instance(
    aiohttp_client: Any,
    settings: Settings,
    factory: Factory,
    pool: asyncpg.Pool,
    command: str,
) -> None:
    instances = [await aiohttp_client(create_app(settings)) for _ in range(2)]
    seeded = await factory.client()
    await slow_user(pool, factory)

    tasks = await in_flight(instances, seeded, 2, "slow", "old-password")
    run, hint = OWNER_WIDE[command]
    await run(settings)
    assert not all(task.done() for task in tasks)  # the race did happen

    for status, body in await answers(tasks):
        if status == 200:
            await assert_dead(instances, seeded, body)
        else:
            assert (status, body["error"], body.get("hint")) == (
                400,
                "invalid_grant",
                hint or "Token has been revoked",
            )


async def test_a_rehash_in_flight_does_not_bring_back_the_old_password(
    client: Instance, settings: Settings, factory: Factory, pool: asyncpg.Pool
) -> None:
    seeded = await factory.client()
    await slow_user(pool, factory)

    [task] = await in_flight([client], seeded, 1, "slow", "old-password")
    await commands.set_user_password(settings, "slow", "the-new-password")
    assert not task.done()
    status, body = (await answers([task]))[0]
    if status == 200:
        await assert_dead([client], seeded, body)

    new = await password_grant(client, seeded, username="slow", password="the-new-password")
    assert (await client.get("/api/users", headers=bearer(new["access_token"]))).status == 200
    old = await client.post("/oauth2-token", json=login(seeded, "slow", "old-password"))
    assert (old.status, (await old.json())["error"]) == (400, "invalid_grant")


async def test_deactivating_a_client_kills_a_login_slower_than_the_client_cache(
    client: Instance, settings: Settings, factory: Factory, pool: asyncpg.Pool
) -> None:
    seeded = await factory.client()
    await factory.user()
    await password_grant(client, seeded)  # the instance now has the client's row cached
    # Verifying takes longer than the 2 s a deactivation revokes ahead of its second.
    await slow_user(pool, factory, SLOWER)
    [task] = await in_flight([client], seeded, 1, "slow", "old-password")
    await commands.set_client_active(settings, seeded.client_id, False)
    assert not task.done()

    status, body = (await answers([task]))[0]
    if status == 200:
        await assert_dead([client], seeded, body)
    assert status == 400


async def test_refreshes_in_flight_are_revoked_with_their_owner(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    """Nothing new here: a rotation after the family is revoked finds nothing to rotate,
    and one before it is revoked with the family (the index names it)."""
    instances = [await aiohttp_client(create_app(settings)) for _ in range(2)]
    logins = [await password_grant(instances[i % 2], seeded) for i in range(16)]
    refreshes = [
        asyncio.create_task(refresh(instances[i % 2], seeded, body["refresh_token"]))
        for i, body in enumerate(logins)
    ]
    await asyncio.sleep(0)
    await commands.revoke(settings, user="admin")
    for response in await asyncio.gather(*refreshes):
        if response.status == 200:
            await assert_dead(instances, seeded, await response.json())
        else:
            assert response.status == 400
