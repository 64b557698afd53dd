"""The Redis token store, one suite run on fakeredis and on the real Redis."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import fakeredis
import pytest
from redis.asyncio import Redis

from service.store.tokens import TokenRecord, TokenStore


@pytest.fixture(params=["fakeredis", "real"])
async def backend(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = (
        fakeredis.FakeAsyncRedis() if request.param == "fakeredis" else Redis.from_url(redis_url)
    )
    yield client
    await client.aclose()


@pytest.fixture
async def store(backend: Redis) -> AsyncIterator[TokenStore]:
    prefix = f"test:{secrets.token_hex(4)}:"
    yield TokenStore(backend, prefix)
    leftovers = [k async for k in backend.scan_iter(f"{prefix}*")]
    if leftovers:
        await backend.delete(*leftovers)


def pair(access_ttl: int = 60, refresh_ttl: int = 600) -> tuple[TokenRecord, TokenRecord]:
    family = secrets.token_urlsafe(16)
    access = TokenRecord(family, secrets.token_urlsafe(16), access_ttl)
    return access, TokenRecord(family, secrets.token_urlsafe(16), refresh_ttl)


async def test_recorded_tokens_are_alive_with_their_ttl(store: TokenStore, backend: Redis) -> None:
    access, refresh = pair()
    await store.record(access, refresh)

    assert await store.access_alive(access.family, access.jti)
    assert await store.refresh_alive(refresh.family, refresh.jti)
    assert 55 <= await backend.ttl(store.access_key(access.family, access.jti)) <= 60
    assert 595 <= await backend.ttl(store.family_key(refresh.family)) <= 600


async def test_refresh_record_remembers_its_access_token(store: TokenStore, backend: Redis) -> None:
    access, refresh = pair()
    await store.record(access, refresh)
    stored = await backend.get(store.family_key(refresh.family))
    assert stored == f"{refresh.jti} {access.jti}".encode()


async def test_unknown_tokens_are_not_alive(store: TokenStore) -> None:
    access, refresh = pair()
    assert not await store.access_alive(access.family, access.jti)
    assert not await store.refresh_alive(refresh.family, refresh.jti)


async def test_access_and_refresh_namespaces_are_separate(store: TokenStore) -> None:
    access, _ = pair()
    await store.record(access, None)
    assert not await store.refresh_alive(access.family, access.jti)


async def test_revoking_deletes_the_record(store: TokenStore) -> None:
    access, refresh = pair()
    await store.record(access, refresh)
    assert await store.revoke_access(access.family, access.jti)
    assert not await store.access_alive(access.family, access.jti)
    assert not await store.revoke_access(access.family, access.jti)
    assert await store.refresh_alive(refresh.family, refresh.jti)


async def test_keys_of_one_family_share_a_cluster_hash_tag(store: TokenStore) -> None:
    access, refresh = pair()
    tag = f"{{{access.family}}}"
    assert tag in store.access_key(access.family, access.jti)
    assert tag in store.family_key(refresh.family)


async def test_expired_records_disappear(store: TokenStore, backend: Redis) -> None:
    access, _ = pair(access_ttl=1)
    await store.record(access, None)
    key = store.access_key(access.family, access.jti)
    await backend.pexpire(key, 1)
    import asyncio

    await asyncio.sleep(0.05)
    assert not await store.access_alive(access.family, access.jti)
