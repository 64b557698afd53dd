"""The Redis client for the configured topology, built with redis-py's own clients: one
server, a master found through Sentinel, or a Redis Cluster."""

from __future__ import annotations

import logging
from typing import Any, TypeAlias

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import BlockingConnectionPool, parse_url
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import ExponentialBackoff

from service.config import CLUSTER_CONNECTIONS, RedisSettings
from service.store.errors import StoreUnavailable, translated
from service.store.pg import hide_password

log = logging.getLogger(__name__)

# Every store takes either: both run the same commands, scripts and pipelines.
RedisClient: TypeAlias = Redis | RedisCluster


class WaitingConnectionPool(BlockingConnectionPool):
    """A full pool waits for a connection (BlockingConnectionPool), but an idle connection
    is taken, and one nobody waits for is put back, without the condition, the timeout
    and the bookkeeping around them: that costs more than the rest of a command's Python
    (tests/store/test_redis_pool.py holds the waiting to its promise)."""

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        if not self._available_connections or getattr(self, "_in_maintenance", False):
            return await super().get_connection()  # type: ignore[no-untyped-call]
        connection = self._available_connections.pop()
        self._in_use_connections.add(connection)
        try:
            await self.ensure_connection(connection)
        except BaseException:
            await self.release(connection)
            raise
        return connection

    async def release(self, connection: Any) -> None:
        if getattr(self, "_in_maintenance", False):
            await super().release(connection)
            return
        self._in_use_connections.remove(connection)
        if connection.should_reconnect():
            await connection.disconnect()
        self._available_connections.append(connection)
        if self._condition._waiters:  # someone waits: wake one
            async with self._condition:
                self._condition.notify()


class BlockingSentinelConnectionPool(SentinelConnectionPool, WaitingConnectionPool):
    """The master's address from the sentinels (SentinelConnectionPool), and a full pool
    waits for a connection (WaitingConnectionPool's get_connection and release), which
    redis-py offers only apart."""


def _sentinel_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def connect(settings: RedisSettings, **options: Any) -> RedisClient:
    """A client for settings.mode; `options` (timeouts, retry) apply to every connection.

    At most `max_connections`: a command that finds them all busy waits up to
    `pool_timeout` for one, then fails as if Redis were down (redis-py's default pool
    fails at once, and a burst of requests became a burst of 503s)."""
    if settings.mode == "cluster":
        # The async cluster client cannot wait: a node's full pool fails the command
        # (MaxConnectionsError). Its pool is made larger than what a worker may have in
        # flight (server.max_requests_in_flight, checked by config), so it does not fill.
        return RedisCluster.from_url(settings.url, max_connections=CLUSTER_CONNECTIONS, **options)
    pooling: dict[str, Any] = {
        "max_connections": settings.max_connections,
        "timeout": settings.pool_timeout,
    }
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
        client: Redis = sentinel.master_for(
            settings.sentinel_master,
            connection_pool_class=BlockingSentinelConnectionPool,
            **master,
            **pooling,
        )
        return client
    # from_pool: the client closes the pool with itself.
    return Redis.from_pool(WaitingConnectionPool.from_url(settings.url, **options, **pooling))


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


async def create_redis(settings: RedisSettings, *, require: bool = True) -> RedisClient:
    """A client; pinged once. With require=False a Redis that is down only gets a warning:
    requests answer 503 until it is back, and the process does not die of it."""
    client = connect(
        settings,
        socket_timeout=settings.timeout,
        socket_connect_timeout=settings.timeout,
        # One quick retry replaces a pooled connection that died with a restarted server;
        # more would stretch how long a request waits before its 503.
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1),
    )
    try:
        with translated("redis"):
            await client.ping()
    except StoreUnavailable:
        if require:
            await close(client)
            raise
        log.warning("redis unavailable at start", extra={"dsn": hide_password(settings.url)})
    else:
        log.info("redis client open", extra={"dsn": hide_password(settings.url)})
    return client
