"""Redis through Sentinel (a real master and Sentinel on loopback), the topology settings, and
Postgres behind a transaction pooler: no server-side prepared statement survives a query."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import asyncpg
import pytest
from redis.asyncio import Redis

from service.config import ConfigError, DatabaseSettings, RedisSettings, from_mapping
from service.oauth.model import Subject
from service.oauth.ports import Owner, Rotation, TokenRecord
from service.store.errors import StoreUnavailable
from service.store.pg import create_pool
from service.store.tokens import TokenStore
from service.store.topology import close, create_redis
from tests.records import presented
from tests.servers import redis_sentinel
from tests.store import keys

MASTER = "oauth-master"


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    with redis_sentinel(tmp_path_factory.mktemp("sentinel"), MASTER) as ports:
        yield ports


async def test_sentinel_mode_finds_the_master_and_runs_the_store(
    sentinel: tuple[int, int],
) -> None:
    master_port, sentinel_port = sentinel
    settings = RedisSettings(
        url="redis://ignored-host/3",
        mode="sentinel",
        sentinels=(f"127.0.0.1:{sentinel_port}",),
        sentinel_master=MASTER,
    )
    client = await create_redis(settings)
    try:
        prefix = f"test:{secrets.token_hex(4)}:"
        store = TokenStore(client, prefix, 600)
        owner = Owner(Subject.user("admin"), "c")
        access = TokenRecord("fam", secrets.token_hex(8), 60)
        refresh = TokenRecord("fam", secrets.token_hex(8), 600)
        await store.record(owner, access, refresh)
        new = TokenRecord("fam", secrets.token_hex(8), 60), TokenRecord("fam", "r2", 600)
        assert await store.rotate(presented(refresh, owner, 0), *new) is Rotation.ROTATED

        # The writes went to the master the sentinel named, in the URL's database.
        direct = Redis(port=master_port, db=3)
        assert await direct.exists(keys.family_key(prefix, "fam"))
        await direct.flushdb()
        await direct.aclose()
    finally:
        await close(client)


async def test_sentinel_mode_without_a_known_master_is_unavailable(
    sentinel: tuple[int, int],
) -> None:
    settings = RedisSettings(
        url="redis://x/0",
        mode="sentinel",
        sentinels=(f"127.0.0.1:{sentinel[1]}",),
        sentinel_master="no-such-master",
        timeout=0.5,
    )
    with pytest.raises(StoreUnavailable):
        await create_redis(settings)


@pytest.mark.parametrize(
    ("redis", "named"),
    [
        ({"mode": "replicated"}, "redis.mode"),
        ({"mode": "sentinel", "url": "redis://x/0"}, "redis.sentinels"),
        ({"mode": "sentinel", "url": "redis://x/0", "sentinels": ["nohost"]}, "redis.sentinels"),
        ({"mode": "sentinel", "url": "redis://x/0", "sentinels": ["s:99999"]}, "redis.sentinels"),
        ({"mode": "sentinel", "url": "redis://x/0", "sentinels": ["s:²"]}, "redis.sentinels"),
        (
            {"mode": "sentinel", "url": "redis://x/0", "sentinels": ["s:1"], "sentinel_master": ""},
            "redis.sentinel_master",
        ),
        ({"mode": "sentinel", "sentinels": ["s:26379"]}, "redis.url"),
        ({"mode": "cluster"}, "redis.url"),
        ({"mode": "cluster", "url": "unix:///tmp/r.sock"}, "redis.url"),
        ({"mode": "cluster", "url": "redis://node:6379/2"}, "redis.url"),
        ({"sentinels": "s:26379"}, "redis.sentinels"),
    ],
)
def test_bad_topology_names_the_key(redis: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        from_mapping({"redis": redis}, {})


def test_good_topologies_load() -> None:
    cluster = from_mapping({"redis": {"mode": "cluster", "url": "redis://node:6379"}}, {})
    assert cluster.redis.mode == "cluster"
    sentinel = from_mapping(
        {
            "redis": {
                "mode": "sentinel",
                "url": "redis://:pw@master/0",
                "sentinels": ["s1:26379", "[::1]:26379"],
            }
        },
        {},
    )
    assert sentinel.redis.sentinel_master == "mymaster"


async def _named_statements(db: DatabaseSettings) -> list[str]:
    """The server-side prepared statements a pooled connection holds after two queries."""
    pool = await create_pool(db)
    try:
        async with pool.acquire() as conn:
            for _ in range(2):
                await conn.fetchval("SELECT count(*) FROM users WHERE id > $1", 0)
            rows = await conn.fetch("SELECT name FROM pg_prepared_statements")
    finally:
        await pool.close()
    return [r["name"] for r in rows]


async def test_pgbouncer_switch_keeps_no_prepared_statement(database_url: str) -> None:
    default = await _named_statements(DatabaseSettings(url=database_url))
    assert default, "asyncpg caches named statements by default"
    assert await _named_statements(DatabaseSettings(url=database_url, pgbouncer=True)) == []


async def test_pgbouncer_switch_pool_still_answers(database_url: str) -> None:
    pool = await create_pool(DatabaseSettings(url=database_url, pgbouncer=True))
    try:
        assert isinstance(pool, asyncpg.Pool)
        assert await pool.fetchval("SELECT $1::int + 1", 41) == 42
    finally:
        await pool.close()
