"""The Redis client for the configured topology, built with redis-py's own clients: one
server, a master found through Sentinel, or a Redis Cluster. No I/O here; the caller pings."""

from __future__ import annotations

from typing import Any, TypeAlias

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import parse_url
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool

from service.config import RedisSettings

# Every store takes either: both run the same commands, scripts and pipelines.
RedisClient: TypeAlias = Redis | RedisCluster


def _sentinel_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def connect(settings: RedisSettings, **options: Any) -> RedisClient:
    """A client for settings.mode; `options` (timeouts, retry) apply to every connection."""
    if settings.mode == "cluster":
        # The async cluster client fails a command outright (MaxConnectionsError) rather
        # than wait once a node's pool is full; its default of 100 is below what one busy
        # worker keeps in flight.
        return RedisCluster.from_url(settings.url, max_connections=1024, **options)
    if settings.mode == "sentinel":
        # The URL gives only credentials, the database and TLS; the sentinels name the host.
        parsed = parse_url(settings.url)
        master: dict[str, Any] = {
            k: parsed[k] for k in ("username", "password", "db") if k in parsed
        }
        if settings.url.startswith("rediss://"):
            master["ssl"] = True
        sentinel = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
            [_sentinel_address(a) for a in settings.sentinels],
            sentinel_kwargs={k: v for k, v in options.items() if k.startswith("socket_")},
            **options,
        )
        client: Redis = sentinel.master_for(settings.sentinel_master, **master)
        return client
    return Redis.from_url(settings.url, **options)


async def close(client: RedisClient) -> None:
    """Close the client, and in sentinel mode the connections to the sentinels too."""
    await client.aclose()
    if isinstance(client, RedisCluster):
        # aclose() skips a cluster client that lost a node and awaits re-initialisation,
        # leaving its connections to the live nodes open; close them anyway.
        await client.nodes_manager.aclose()
        await client.nodes_manager.aclose("startup_nodes")
    pool = getattr(client, "connection_pool", None)
    if isinstance(pool, SentinelConnectionPool):
        for sentinel in pool.sentinel_manager.sentinels:
            await sentinel.aclose()
