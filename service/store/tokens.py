"""The Redis client and the token store.

A token is valid only while its record exists. Keys, all carrying the family (one password
login and everything refreshed from it) as their Redis Cluster hash tag:

    <prefix>{<family>}:a:<access jti>  -> "1"                          TTL access lifetime
    <prefix>{<family>}:r               -> "<refresh jti> <access jti>"  TTL refresh lifetime

A family has at most one live refresh token, so its record is keyed by the family: a
presented refresh token whose jti is not the family's current one has been used before,
which is theft (RFC 9700 §4.14.2), and the whole family goes in the same round trip."""

from __future__ import annotations

import enum
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


class Rotation(enum.Enum):
    ROTATED = 1  # the presented refresh token was current: a new pair replaced it
    UNKNOWN = 0  # no live family: expired, revoked, or never issued
    REUSED = -1  # an earlier refresh token of a live family: the family is now revoked


# KEYS: family record, new access key. ARGV: presented refresh jti, access key prefix,
# new family record value, new access TTL, new refresh TTL.
_ROTATE = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local refresh, access = string.match(current, '^(%S+) (%S+)$')
redis.call('DEL', KEYS[1], ARGV[2] .. access)
if refresh ~= ARGV[1] then return -1 end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[4])
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[5])
return 1
"""

# KEYS: family record. Deletes the family's refresh record and its current access token.
_REVOKE_FAMILY = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local access = string.match(current, ' (%S+)$')
return redis.call('DEL', KEYS[1], ARGV[1] .. access)
"""


class TokenStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._rotate = redis.register_script(_ROTATE)
        self._revoke_family = redis.register_script(_REVOKE_FAMILY)

    def _access_prefix(self, family: str) -> str:
        return f"{self._prefix}{{{family}}}:a:"

    def access_key(self, family: str, jti: str) -> str:
        return self._access_prefix(family) + jti

    def family_key(self, family: str) -> str:
        return f"{self._prefix}{{{family}}}:r"

    async def record(self, access: TokenRecord, refresh: TokenRecord | None) -> None:
        """Record an access token and, issued with it, a refresh token; both or neither."""
        with translated("redis"):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self.access_key(access.family, access.jti), b"1", ex=access.ttl)
                if refresh is not None:
                    value = f"{refresh.jti} {access.jti}"
                    pipe.set(self.family_key(refresh.family), value, ex=refresh.ttl)
                await pipe.execute()

    async def rotate(
        self, presented_jti: str, access: TokenRecord, refresh: TokenRecord
    ) -> Rotation:
        """Consume the presented refresh token of `refresh.family` and record the new pair,
        atomically: of two concurrent uses of one refresh token, one wins."""
        with translated("redis"):
            outcome = await self._rotate(
                keys=[self.family_key(refresh.family), self.access_key(access.family, access.jti)],
                args=[
                    presented_jti,
                    self._access_prefix(access.family),
                    f"{refresh.jti} {access.jti}",
                    access.ttl,
                    refresh.ttl,
                ],
            )
        return Rotation(int(outcome))

    async def access_alive(self, family: str, jti: str) -> bool:
        with translated("redis"):
            return bool(await self._redis.exists(self.access_key(family, jti)))

    async def refresh_alive(self, family: str, jti: str) -> bool:
        with translated("redis"):
            current: bytes | str | None = await self._redis.get(self.family_key(family))
        if isinstance(current, bytes):
            current = current.decode("ascii")
        return current is not None and current.split(" ")[0] == jti

    async def revoke_access(self, family: str, jti: str) -> bool:
        with translated("redis"):
            return bool(await self._redis.delete(self.access_key(family, jti)))

    async def revoke_family(self, family: str) -> bool:
        """Revoke every live token of the family (one round trip, whatever its history)."""
        with translated("redis"):
            deleted = await self._revoke_family(
                keys=[self.family_key(family)], args=[self._access_prefix(family)]
            )
        return bool(deleted)
