"""The Redis token store, one suite run on fakeredis and on the real Redis."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator

import fakeredis
import pytest
from redis.asyncio import Redis

from service.oauth.model import Subject, TokenKind
from service.oauth.ports import Owner, Rotation, TokenRecord
from service.store.tokens import TokenStore
from tests.records import claims_for, presented
from tests.store import keys


async def alive(store: TokenStore, record: TokenRecord, refresh: bool = False) -> bool:
    """Whether the store would accept the token (of a client never revoked)."""
    kind = TokenKind.REFRESH if refresh else TokenKind.ACCESS
    owner = Owner(Subject.user("admin"), "never-revoked")
    return await store.is_live(claims_for(record, owner, kind))


OWNER = Owner(Subject.user("admin"), "client-1")
OTHER_CLIENT = Owner(Subject.user("admin"), "other-client")


@pytest.fixture(params=["fakeredis", "real"])
async def backend(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = (
        fakeredis.FakeAsyncRedis() if request.param == "fakeredis" else Redis.from_url(redis_url)
    )
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test:{secrets.token_hex(4)}:"


@pytest.fixture
async def store(backend: Redis, prefix: str) -> AsyncIterator[TokenStore]:
    yield TokenStore(backend, prefix, 600)
    leftovers = [k async for k in backend.scan_iter(f"{prefix}*")]
    if leftovers:
        await backend.delete(*leftovers)


def pair(access_ttl: int = 60, refresh_ttl: int = 600) -> tuple[TokenRecord, TokenRecord]:
    family = secrets.token_urlsafe(16)
    access = TokenRecord(family, secrets.token_urlsafe(16), access_ttl)
    return access, TokenRecord(family, secrets.token_urlsafe(16), refresh_ttl)


async def test_recorded_tokens_are_alive_with_their_ttl(
    store: TokenStore, backend: Redis, prefix: str
) -> None:
    access, refresh = pair()
    await store.record(OWNER, access, refresh)

    assert await alive(store, access)
    assert await alive(store, refresh, refresh=True)
    assert 55 <= await backend.ttl(keys.access_key(prefix, access.family, access.jti)) <= 60
    assert 595 <= await backend.ttl(keys.family_key(prefix, refresh.family)) <= 600


async def test_refresh_record_remembers_its_access_token(
    store: TokenStore, backend: Redis, prefix: str
) -> None:
    access, refresh = pair()
    await store.record(OWNER, access, refresh)
    stored = await backend.get(keys.family_key(prefix, refresh.family))
    assert stored == f"{refresh.jti} {access.jti}".encode()


async def test_unknown_tokens_are_not_alive(store: TokenStore) -> None:
    access, refresh = pair()
    assert not await alive(store, access)
    assert not await alive(store, refresh, refresh=True)


async def test_access_and_refresh_namespaces_are_separate(store: TokenStore) -> None:
    access, _ = pair()
    await store.record(OWNER, access, None)
    assert not await alive(store, access, refresh=True)


async def test_revoking_deletes_the_record(store: TokenStore) -> None:
    access, refresh = pair()
    await store.record(OWNER, access, refresh)
    assert await store.revoke_access(claims_for(access, OWNER))
    assert not await alive(store, access)
    assert not await store.revoke_access(claims_for(access, OWNER))
    assert await alive(store, refresh, refresh=True)


async def test_keys_of_one_family_share_a_cluster_hash_tag(
    store: TokenStore, backend: Redis, prefix: str
) -> None:
    access, refresh = pair()
    await store.record(OWNER, access, refresh)
    names = [k.decode() async for k in backend.scan_iter(match=f"{prefix}{{*")]
    assert sorted(names) == sorted(
        [
            keys.access_key(prefix, access.family, access.jti),
            keys.family_key(prefix, refresh.family),
            keys.login_key(prefix, refresh.family),
        ]
    )


async def test_expired_records_disappear(store: TokenStore, backend: Redis, prefix: str) -> None:
    access, _ = pair(access_ttl=1)
    await store.record(OWNER, access, None)
    key = keys.access_key(prefix, access.family, access.jti)
    await backend.pexpire(key, 1)
    await asyncio.sleep(0.05)
    assert not await alive(store, access)


def next_pair(previous: TokenRecord) -> tuple[TokenRecord, TokenRecord]:
    return (
        TokenRecord(previous.family, secrets.token_urlsafe(16), 60),
        TokenRecord(previous.family, secrets.token_urlsafe(16), 600),
    )


async def test_rotation_replaces_the_pair(store: TokenStore) -> None:
    access, refresh = pair()
    await store.record(OWNER, access, refresh)
    new_access, new_refresh = next_pair(refresh)

    assert (
        await store.rotate(presented(refresh, OWNER), new_access, new_refresh) is Rotation.ROTATED
    )
    assert not await alive(store, access)
    assert not await alive(store, refresh, refresh=True)
    assert await alive(store, new_access)
    assert await alive(store, new_refresh, refresh=True)


async def test_reuse_revokes_the_family(store: TokenStore) -> None:
    access, refresh = pair()
    await store.record(OWNER, access, refresh)
    new_access, new_refresh = next_pair(refresh)
    await store.rotate(presented(refresh, OWNER), new_access, new_refresh)

    thief_access, thief_refresh = next_pair(refresh)
    assert (
        await store.rotate(presented(refresh, OWNER), thief_access, thief_refresh)
        is Rotation.REUSED
    )
    for record in (new_access, thief_access):
        assert not await alive(store, record)
    assert not await alive(store, new_refresh, refresh=True)
    assert (
        await store.rotate(presented(new_refresh, OWNER), *next_pair(refresh)) is Rotation.UNKNOWN
    )


async def test_unknown_family_does_not_rotate(store: TokenStore) -> None:
    _, refresh = pair()
    new_access, new_refresh = next_pair(refresh)
    assert (
        await store.rotate(presented(refresh, OWNER), new_access, new_refresh) is Rotation.UNKNOWN
    )
    assert not await alive(store, new_access)


async def test_concurrent_rotations_of_one_token_have_one_winner(store: TokenStore) -> None:
    access, refresh = pair()
    await store.record(OWNER, access, refresh)
    outcomes = await asyncio.gather(
        *(store.rotate(presented(refresh, OWNER), *next_pair(refresh)) for _ in range(20))
    )
    assert outcomes.count(Rotation.ROTATED) == 1


async def test_revoke_family(store: TokenStore, backend: Redis, prefix: str) -> None:
    access, refresh = pair()
    await store.record(OWNER, access, refresh)
    assert await backend.exists(keys.login_key(prefix, refresh.family))
    assert await store.revoke_family(refresh.family)
    # The admin's record of the login goes with it, not at its TTL weeks later.
    assert not await backend.exists(keys.login_key(prefix, refresh.family))
    assert not await alive(store, access)
    assert not await alive(store, refresh, refresh=True)
    assert not await store.revoke_family(refresh.family)


async def test_client_revocation_is_a_marker_checked_with_the_record(store: TokenStore) -> None:
    access, refresh = pair()
    await store.record(OWNER, access, refresh)
    before = int(time.time()) - 1
    assert await store.is_live(claims_for(access, OWNER, issued_at=before))

    revoked_at = await store.revoke_client(OWNER.client_id)
    assert not await store.is_live(claims_for(access, OWNER, issued_at=before))
    assert not await store.is_live(presented(refresh, OWNER, before))
    assert await store.is_live(claims_for(access, OTHER_CLIENT, issued_at=before))
    # Tokens issued after the revocation's second are not affected.
    assert await store.is_live(claims_for(access, OWNER, issued_at=revoked_at + 1))
    # A refresh token issued before it cannot rotate, and its family goes.
    new_access, new_refresh = next_pair(refresh)
    outcome = await store.rotate(presented(refresh, OWNER, before), new_access, new_refresh)
    assert outcome is Rotation.UNKNOWN
    assert not await alive(store, new_access)


async def test_owner_index_holds_only_live_families(
    store: TokenStore, backend: Redis, prefix: str
) -> None:
    first, _ = pair()
    await store.record(OWNER, first, None)
    index = keys.owner_index(prefix, OWNER.subject)
    await backend.zadd(index, {first.family: int(time.time()) - 5})  # as if it had expired
    second, _ = pair()
    await store.record(OWNER, second, None)
    assert [m.decode() for m in await backend.zrange(index, 0, -1)] == [second.family]


async def test_visitors_are_not_indexed(store: TokenStore, backend: Redis, prefix: str) -> None:
    visitor = Owner(Subject.visitor("0123456789abcdef0123"), "shop")
    access, refresh = pair()
    await store.record(visitor, access, refresh)
    assert not await backend.exists(keys.owner_index(prefix, visitor.subject))
    assert await alive(store, access)


async def test_rotation_survives_redis_forgetting_its_scripts(
    store: TokenStore, backend: Redis
) -> None:
    access, refresh = pair()
    await store.record(OWNER, access, refresh)
    await backend.script_flush()
    new_access, new_refresh = next_pair(refresh)
    assert (
        await store.rotate(presented(refresh, OWNER), new_access, new_refresh) is Rotation.ROTATED
    )
