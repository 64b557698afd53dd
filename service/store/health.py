"""One cheap round trip to each store, for the readiness check (timed like any operation)."""

from __future__ import annotations

import asyncpg
from redis.asyncio.cluster import RedisCluster

from service.store.errors import translated
from service.store.topology import RedisClient


async def ping_postgres(pool: asyncpg.Pool) -> None:
    with translated("ping"):
        await pool.fetchval("SELECT 1")


async def ping_redis(client: RedisClient) -> None:
    """On a Cluster every primary must answer: a token's slot may be on any of them."""
    with translated("redis"):
        if isinstance(client, RedisCluster):
            await client.ping(target_nodes=RedisCluster.PRIMARIES)
        else:
            await client.ping()
