"""The Redis connection pool, in single and Sentinel mode: at most redis.max_connections; a
command finding them all busy waits for one (up to redis.pool_timeout) instead of failing,
and past that wait it is a StoreUnavailable like any Redis outage (the 503 path)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
import pytest

from service.config import RedisSettings
from service.store.errors import StoreUnavailable, translated
from service.store.topology import RedisClient, close, create_redis
from tests.servers import redis_sentinel

MASTER = "pool-master"


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    with redis_sentinel(tmp_path_factory.mktemp("sentinel"), MASTER) as ports:
        yield ports


@pytest.fixture(params=["single", "sentinel"])
def pool_settings(request: pytest.FixtureRequest, redis_url: str) -> RedisSettings:
    settings = RedisSettings(url=redis_url, max_connections=2, pool_timeout=0.5)
    if request.param == "sentinel":
        _, port = request.getfixturevalue("sentinel")
        settings = msgspec.structs.replace(
            settings,
            url="redis://ignored/0",
            mode="sentinel",
            sentinels=(f"127.0.0.1:{port}",),
            sentinel_master=MASTER,
        )
    return settings


@pytest.fixture
async def two_connections(pool_settings: RedisSettings) -> AsyncIterator[RedisClient]:
    client = await create_redis(pool_settings)
    yield client
    await close(client)


async def _hold(client: RedisClient, seconds: float) -> None:
    """Keep one pooled connection busy for `seconds` (BLPOP on a key nobody writes)."""
    await client.blpop([f"test:pool:{secrets.token_hex(4)}"], timeout=seconds)


async def test_a_full_pool_waits_for_a_connection(two_connections: RedisClient) -> None:
    holders = [asyncio.create_task(_hold(two_connections, 0.3)) for _ in range(2)]
    await asyncio.sleep(0.05)
    start = time.monotonic()
    assert await two_connections.ping() is True  # waited for a holder, did not fail
    assert 0.15 < time.monotonic() - start < 0.5
    await asyncio.gather(*holders)


async def test_a_burst_takes_its_turns_on_the_pool(
    two_connections: RedisClient, pool_settings: RedisSettings
) -> None:
    """Six commands on two connections: each command that ends gives its connection to one
    waiting (a connection nobody waits for goes back without waking anyone)."""
    key = f"test:pool:{secrets.token_hex(4)}"

    async def take() -> Any:
        return await two_connections.blpop([key], timeout=2)

    takers = [asyncio.create_task(take()) for _ in range(6)]
    pusher = await create_redis(pool_settings)
    try:
        for n in range(6):
            await asyncio.sleep(0.03)
            await pusher.rpush(key, n)
        taken = await asyncio.wait_for(asyncio.gather(*takers), 1)  # no wait hit pool_timeout
    finally:
        await close(pusher)
    assert sorted(int(value) for _, value in taken) == list(range(6))


async def test_a_wait_past_pool_timeout_is_unavailable(two_connections: RedisClient) -> None:
    holders = [asyncio.create_task(_hold(two_connections, 1.5)) for _ in range(2)]
    await asyncio.sleep(0.05)
    start = time.monotonic()
    with pytest.raises(StoreUnavailable), translated("redis"):
        await two_connections.ping()
    assert 0.4 < time.monotonic() - start < 1.2  # pool_timeout, not the holders' 1.5 s
    await asyncio.gather(*holders)
