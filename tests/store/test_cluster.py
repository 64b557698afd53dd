"""The token store on a real 3-node Redis Cluster started by this module on loopback: the
shared token-store suite once more, then what only a cluster can show (a family's keys on one
node, its index sets and the families they name spread over all of them)."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio.cluster import RedisCluster

from service.app import create_app
from service.config import RedisSettings, Settings, replace
from service.oauth.model import Subject
from service.oauth.ports import Owner, Rotation, TokenRecord
from service.store.errors import StoreUnavailable
from service.store.health import ping_redis
from service.store.tokens import TokenStore
from service.store.topology import close, create_redis
from tests.conftest import Seeded, bearer, grant, password_grant, token_request
from tests.records import claims_for, presented
from tests.servers import redis_binaries, redis_cluster
from tests.store import test_tokens as shared

# Every test of the shared suite runs here too, on the cluster (fixtures below).
globals().update({name: test for name, test in vars(shared).items() if name.startswith("test_")})

OWNER = Owner(Subject.user("admin"), "client-1")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as ports:
        yield f"redis://127.0.0.1:{ports[0]}"


@pytest.fixture
async def backend(cluster: str) -> AsyncIterator[RedisCluster]:
    client = await create_redis(RedisSettings(url=cluster, mode="cluster"))
    assert isinstance(client, RedisCluster)
    yield client
    await close(client)


@pytest.fixture
def prefix() -> str:
    return f"test:{secrets.token_hex(4)}:"


@pytest.fixture
async def store(backend: RedisCluster, prefix: str) -> AsyncIterator[TokenStore]:
    yield TokenStore(backend, prefix, 600)
    async for key in backend.scan_iter(f"{prefix}*"):
        await backend.delete(key)


def family() -> tuple[TokenRecord, TokenRecord]:
    name = secrets.token_urlsafe(16)
    access = TokenRecord(name, secrets.token_urlsafe(16), 60)
    return access, TokenRecord(name, secrets.token_urlsafe(16), 600)


async def spread_families(
    store: TokenStore, backend: RedisCluster, owner: Owner, nodes: int = 3
) -> list[tuple[TokenRecord, TokenRecord]]:
    """Families of `owner` until their keys sit on every node (with random ids, a few do)."""
    families: list[tuple[TokenRecord, TokenRecord]] = []
    seen: set[str] = set()
    while len(seen) < nodes or len(families) < 6:
        access, refresh = family()
        await store.record(owner, access, refresh)
        families.append((access, refresh))
        # A key's slot is its hash tag's: the family id.
        node = backend.get_node_from_key(f"{{{refresh.family}}}")
        assert node is not None
        seen.add(node.name)
    return families


async def test_the_cluster_has_three_primaries(backend: RedisCluster) -> None:
    assert len(backend.get_primaries()) == 3


async def test_a_familys_keys_live_on_one_node(
    store: TokenStore, backend: RedisCluster, prefix: str
) -> None:
    access, refresh = family()
    await store.record(Owner(Subject.visitor("x"), "c"), access, refresh)  # not indexed
    names = [key async for key in backend.scan_iter(f"{prefix}*")]
    assert len(names) == 2  # the access token's record and the family's
    assert len({backend.keyslot(name) for name in names}) == 1


async def test_rotation_and_reuse_on_every_node(store: TokenStore, backend: RedisCluster) -> None:
    for access, refresh in await spread_families(store, backend, OWNER):
        fresh = TokenRecord(access.family, secrets.token_urlsafe(16), 60)
        fresh_refresh = TokenRecord(access.family, secrets.token_urlsafe(16), 600)
        assert (
            await store.rotate(presented(refresh, OWNER), fresh, fresh_refresh) is Rotation.ROTATED
        )
        assert not await shared.alive(store, access)
        assert await shared.alive(store, fresh)

        thief = TokenRecord(access.family, secrets.token_urlsafe(16), 60)
        thief_refresh = TokenRecord(access.family, secrets.token_urlsafe(16), 600)
        assert (
            await store.rotate(presented(refresh, OWNER), thief, thief_refresh) is Rotation.REUSED
        )
        for record in (fresh, thief):
            assert not await shared.alive(store, record)
        assert not await shared.alive(store, fresh_refresh, refresh=True)


async def test_revoke_owner_reaches_families_on_every_node(
    store: TokenStore, backend: RedisCluster
) -> None:
    other = Owner(Subject.user("someone-else"), "client-1")
    families = await spread_families(store, backend, OWNER)
    (kept_access, _), *_ = await spread_families(store, backend, other, nodes=1)

    assert await store.revoke_owner(OWNER.subject) == len(families)
    for access, refresh in families:
        assert not await shared.alive(store, access)
        assert not await shared.alive(store, refresh, refresh=True)
    assert await shared.alive(store, kept_access)
    assert await store.revoke_owner(OWNER.subject) == 0


async def test_revoke_client_reaches_families_of_every_owner(
    store: TokenStore, backend: RedisCluster
) -> None:
    owners = [Owner(Subject.customer_user(f"user-{i}@shop.example"), "shop") for i in range(4)]
    families = [f for owner in owners for f in await spread_families(store, backend, owner, 1)]
    elsewhere = Owner(Subject.customer_user("user-0@shop.example"), "other-client")
    kept, _ = family()
    await store.record(elsewhere, kept, None)

    issued_at = int(time.time()) - 1
    assert await store.revoke_client("shop") >= issued_at
    for access, _ in families:
        assert not await store.is_live(claims_for(access, owners[0], issued_at=issued_at))
    assert await store.is_live(claims_for(kept, elsewhere, issued_at=issued_at))


async def test_concurrent_rotations_across_families(
    store: TokenStore, backend: RedisCluster
) -> None:
    families = await spread_families(store, backend, OWNER)

    async def race(refresh: TokenRecord) -> list[Rotation]:
        return await asyncio.gather(
            *(
                store.rotate(
                    presented(refresh, OWNER),
                    TokenRecord(refresh.family, secrets.token_urlsafe(16), 60),
                    TokenRecord(refresh.family, secrets.token_urlsafe(16), 600),
                )
                for _ in range(10)
            )
        )

    for outcomes in await asyncio.gather(*(race(refresh) for _, refresh in families)):
        assert outcomes.count(Rotation.ROTATED) == 1


@pytest.fixture
async def cluster_client(
    aiohttp_client: Callable[..., Any], settings: Settings, cluster: str, pool: Any
) -> AsyncIterator[TestClient[Any, Any]]:
    on_cluster = replace(settings, redis={"url": cluster, "mode": "cluster"})
    client: TestClient[Any, Any] = await aiohttp_client(create_app(on_cluster))
    yield client
    redis = await create_redis(on_cluster.redis)
    async for key in redis.scan_iter(f"{on_cluster.redis.key_prefix}*"):
        await redis.delete(key)
    await close(redis)


async def test_the_service_on_the_cluster(
    cluster_client: TestClient[Any, Any], seeded: Seeded
) -> None:
    """Login, API call, rotation, reuse detection and readiness, all through the app."""
    first = await password_grant(cluster_client, seeded)
    assert (await cluster_client.get("/api/users", headers=bearer(first["access_token"]))).ok

    second = await grant(
        cluster_client, seeded, "refresh_token", refresh_token=first["refresh_token"]
    )
    assert (await cluster_client.get("/api/users", headers=bearer(second["access_token"]))).ok
    gone = await cluster_client.get("/api/users", headers=bearer(first["access_token"]))
    assert gone.status == 401

    reused = await token_request(
        cluster_client, seeded, "refresh_token", refresh_token=first["refresh_token"]
    )
    assert reused.status == 400
    family_gone = await cluster_client.get("/api/users", headers=bearer(second["access_token"]))
    assert family_gone.status == 401

    ready = await cluster_client.get("/health/ready")
    assert ready.status == 200
    assert (await ready.json())["checks"] == {"postgres": "ok", "redis": "ok"}


async def test_not_ready_when_a_primary_is_down(tmp_path: Path) -> None:
    """Readiness pings every primary: a token's slot may live on the one that is gone."""
    with redis_cluster(tmp_path) as ports:
        settings = RedisSettings(url=f"redis://127.0.0.1:{ports[0]}", mode="cluster", timeout=0.5)
        client = await create_redis(settings)
        try:
            await ping_redis(client)
            _, cli = redis_binaries()
            subprocess.run(  # noqa: ASYNC221 - a test's one-off shutdown of a node
                [cli, "-p", str(ports[2]), "shutdown", "nosave"], check=False, timeout=10
            )
            with pytest.raises(StoreUnavailable):
                await ping_redis(client)
        finally:
            await close(client)


async def test_lockout_on_the_cluster(
    cluster_client: TestClient[Any, Any], seeded: Seeded, backend: RedisCluster, settings: Settings
) -> None:
    """The reservation script touches the rate, address and account keys at once: they share
    one slot, so it runs on a Cluster as on one Redis."""
    for _ in range(5):
        wrong = await token_request(
            cluster_client, seeded, "password", username="admin", password="wrong-pass"
        )
        assert (await wrong.json()).get("hint") is None
    locked = await token_request(
        cluster_client, seeded, "password", username="admin", password="s3cret-pass"
    )
    assert (await locked.json())["hint"] == "Account is locked."

    prefix = settings.redis.key_prefix
    keys = [key async for key in backend.scan_iter(f"{prefix}limits*")]
    assert len(keys) >= 3  # the rate, the address's failures, the lock
    assert len({backend.keyslot(key) for key in keys}) == 1
