"""The stores the revoking operations work on: Postgres records a revocation durably,
Redis makes every instance refuse the tokens on its next request."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from service.config import Settings
from service.store.limits import LimitStore
from service.store.tokens import TokenStore
from service.store.topology import RedisClient


@dataclass(frozen=True)
class Stores:
    pool: asyncpg.Pool
    tokens: TokenStore
    limits: LimitStore
    settings: Settings  # what bounds the operations' values (a client's lifetimes, keys)

    @classmethod
    def configured(cls, pool: asyncpg.Pool, redis: RedisClient, settings: Settings) -> Stores:
        return cls(
            pool,
            TokenStore.configured(redis, settings),
            LimitStore(redis, settings.redis.key_prefix),
            settings,
        )
