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
from service.oauth.ports import LiveLogin, Owner, Recorded, Replay, Rotation, TokenRecord
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
    before = int(time.time())
    await store.record(OWNER, access, refresh)
    stored = (await backend.get(keys.family_key(prefix, refresh.family))).decode()
    # Then the login as the admin's list shows it: when, refreshed never, which client.
    current, at, never, client = stored.rsplit(" ", 3)
    assert current == f"{refresh.jti} {access.jti}"
    assert before <= int(at) <= time.time()
    assert (never, client) == ("-", OWNER.client_id)


async def test_an_owners_login_without_refresh_token_is_one_record(
    store: TokenStore, backend: Redis, prefix: str
) -> None:
    """Its family record lives as long as the access token, and is the token's record."""
    access, _ = pair(access_ttl=60)
    await store.record(OWNER, access, None)
    assert [k.decode() async for k in backend.scan_iter(f"{prefix}*{{*")] == [
        keys.family_key(prefix, access.family)
    ]
    assert 55 <= await backend.ttl(keys.family_key(prefix, access.family)) <= 60
    assert await alive(store, access)
    other, _ = next_pair(access)
    assert not await alive(store, other)

    assert await store.revoke_access(claims_for(access, OWNER))
    assert not await alive(store, access)
    assert not await backend.exists(keys.family_key(prefix, access.family))
    assert not await store.revoke_access(claims_for(access, OWNER))


async def test_a_visitors_access_token_keeps_a_key_of_its_own(
    store: TokenStore, backend: Redis, prefix: str
) -> None:
    visitor = Owner(Subject.visitor("0123456789abcdef0123"), "shop")
    access, _ = pair()
    await store.record(visitor, access, None)
    assert await backend.get(keys.family_key(prefix, access.family)) == f"- {access.jti}".encode()
    assert await backend.exists(keys.access_key(prefix, access.family, access.jti))
    assert await alive(store, access)
    assert await store.revoke_access(claims_for(access, visitor))
    assert not await alive(store, access)


async def test_a_record_without_the_logins_details_needs_its_access_key(
    store: TokenStore, backend: Redis, prefix: str
) -> None:
    """A family record written before it held the login's details: its access token lives
    only while its own key does (one revoked then must not come back)."""
    access, _ = pair()
    await backend.set(keys.family_key(prefix, access.family), f"- {access.jti}", ex=60)
    assert not await alive(store, access)
    await backend.set(keys.access_key(prefix, access.family, access.jti), "1", ex=60)
    assert await alive(store, access)


async def test_a_record_without_the_logins_details_rotates(
    store: TokenStore, backend: Redis, prefix: str
) -> None:
    access, refresh = pair()
    family = keys.family_key(prefix, refresh.family)
    await backend.set(family, f"{refresh.jti} {access.jti}", ex=600)
    await backend.set(keys.access_key(prefix, access.family, access.jti), "1", ex=60)
    new_access, new_refresh = next_pair(refresh)
    outcome = await store.rotate(presented(refresh, OWNER), new_access, new_refresh)
    assert outcome is Rotation.ROTATED
    assert await backend.get(family) == f"{new_refresh.jti} {new_access.jti}".encode()
    assert not await alive(store, access)
    assert await alive(store, new_access)


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
        ]
    )


async def test_expired_records_disappear(store: TokenStore, backend: Redis, prefix: str) -> None:
    access, refresh = pair()
    await store.record(OWNER, access, refresh)
    alone, _ = pair()  # no refresh token: its family record is its record
    await store.record(OWNER, alone, None)
    await backend.pexpire(keys.access_key(prefix, access.family, access.jti), 1)
    await backend.pexpire(keys.family_key(prefix, alone.family), 1)
    await asyncio.sleep(0.05)
    assert not await alive(store, access)
    assert not await alive(store, alone)
    assert await alive(store, refresh, refresh=True)


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
    first, refresh = pair()
    await store.record(OWNER, first, refresh)
    access, current = next_pair(refresh)
    # A rotation kept what a retry would get: that goes too.
    await store.rotate(presented(refresh, OWNER), access, current, Replay("sealed", 10))
    assert await store.revoke_family(refresh.family)
    # Nothing of the login is left, the admin's view of it included, not at its TTL weeks later.
    assert [k async for k in backend.scan_iter(f"{prefix}{{{refresh.family}}}*")] == []
    assert not await alive(store, access)
    assert not await alive(store, current, refresh=True)
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


async def test_a_login_in_flight_reads_the_markers_after_recording(store: TokenStore) -> None:
    """The owner's tokens revoked since the login read its generation, or the client's
    since the request started: what it recorded is revoked, and it is told which."""
    await store.revoke_owner(OWNER.subject, generation=3)
    stale, refresh = pair()
    outcome = await store.record(Owner(OWNER.subject, OWNER.client_id, 2), stale, refresh)
    assert outcome is Recorded.OWNER_REVOKED
    assert not await alive(store, stale)
    assert not await alive(store, refresh, refresh=True)
    current, _ = pair()
    assert await store.record(Owner(OWNER.subject, OWNER.client_id, 3), current, None) is (
        Recorded.ISSUED
    )
    assert await alive(store, current)

    started = time.time()
    await store.revoke_client(OTHER_CLIENT.client_id)
    late, _ = pair()
    assert await store.record(OTHER_CLIENT, late, None, started) is Recorded.CLIENT_REVOKED
    assert not await alive(store, late)


async def test_logins_are_listed_from_their_family_records(
    store: TokenStore, backend: Redis, prefix: str
) -> None:
    before = int(time.time())
    first, refresh = pair(refresh_ttl=600)
    await store.record(OWNER, first, refresh)
    await store.rotate(presented(refresh, OWNER), *next_pair(refresh))
    alone, _ = pair(access_ttl=60)
    await store.record(OTHER_CLIENT, alone, None)
    # A family recorded before its record held the login's details: listed without them.
    legacy, _ = pair()
    await backend.set(keys.family_key(prefix, legacy.family), f"x {legacy.jti}", ex=60)
    await backend.zadd(keys.owner_index(prefix, OWNER.subject), {legacy.family: before + 60})
    gone, _ = pair()
    await store.record(OWNER, gone, None)
    await store.revoke_access(claims_for(gone, OWNER))

    logins = {login.family: login for login in await store.logins(OWNER.subject)}
    assert set(logins) == {refresh.family, alone.family, legacy.family}
    rotated, once = logins[refresh.family], logins[alone.family]
    assert rotated.client_id == OWNER.client_id
    assert before <= (rotated.logged_in_at or 0) <= (rotated.refreshed_at or 0) <= time.time()
    assert before + 600 <= rotated.expires_at <= time.time() + 600
    assert (once.client_id, once.refreshed_at) == (OTHER_CLIENT.client_id, None)
    assert before + 60 <= once.expires_at <= time.time() + 60
    assert logins[legacy.family] == LiveLogin(legacy.family, None, None, None, before + 60)
