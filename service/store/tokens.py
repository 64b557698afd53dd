"""The Redis client and the token store: one key per live token, TTL = its lifetime."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.asyncio import Redis

from service.config import RedisSettings
from service.store.errors import translated
from service.store.pg import hide_password

log = logging.getLogger(__name__)


async def create_redis(settings: RedisSettings) -> Redis:
    client = Redis.from_url(
        settings.url,
        socket_timeout=settings.timeout,
        socket_connect_timeout=settings.timeout,
    )
    with translated("redis"):
        await client.ping()
    log.info("redis client open", extra={"dsn": hide_password(settings.url)})
    return client


@dataclass(frozen=True)
class TokenRecord:
    """What the store needs of an issued token: where it lives and for how long."""

    family: str
    jti: str
    ttl: int


class TokenStore:
    """Every token of one login shares a family, and the family is the hash tag of its
    keys, so operations on one family stay in one Redis Cluster slot."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def access_key(self, family: str, jti: str) -> str:
        return f"{self._prefix}{{{family}}}:a:{jti}"

    def refresh_key(self, family: str, jti: str) -> str:
        return f"{self._prefix}{{{family}}}:r:{jti}"

    async def record(self, access: TokenRecord, refresh: TokenRecord | None) -> None:
        """Record an access token and, issued with it, a refresh token; both or neither."""
        with translated("redis"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self.access_key(access.family, access.jti), b"1", ex=access.ttl)
                if refresh is not None:
                    key = self.refresh_key(refresh.family, refresh.jti)
                    pipe.set(key, access.jti, ex=refresh.ttl)
                await pipe.execute()

    async def access_alive(self, family: str, jti: str) -> bool:
        with translated("redis"):
            return bool(await self._redis.exists(self.access_key(family, jti)))

    async def refresh_alive(self, family: str, jti: str) -> bool:
        with translated("redis"):
            return bool(await self._redis.exists(self.refresh_key(family, jti)))

    async def revoke_access(self, family: str, jti: str) -> bool:
        with translated("redis"):
            return bool(await self._redis.delete(self.access_key(family, jti)))
