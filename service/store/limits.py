"""Brute-force counters in Redis, shared by every instance.

<prefix>fail:a:<account>   sorted set of failure times (a true sliding window)
<prefix>lock:a:<account>   exists while the account is locked
<prefix>fail:ip:<address>  sorted set of failure times of one client address
<prefix>rate:<address>:<n> request count of fixed window n (two windows are blended
                           into a sliding estimate, as Cloudflare's rate limiter does)
"""

from __future__ import annotations

import secrets
import time

from service.store.errors import translated
from service.store.topology import RedisClient

# KEYS: failures zset[, lock key]. ARGV: now (ms), window (ms), max failures (0: never lock,
# and no lock key), lock seconds, a unique member. Returns the failure count, or -1 if this
# failure locked the account.
_FAIL = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
if tonumber(ARGV[3]) > 0 and count >= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[4])
  redis.call('DEL', KEYS[1])
  return -1
end
return count
"""

# KEYS: current window, previous window. ARGV: limit, window (s), elapsed fraction (0..1).
# Returns 0 if allowed, else the seconds to wait.
_RATE = """
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local estimate = previous * (1 - tonumber(ARGV[3])) + current
if estimate >= tonumber(ARGV[1]) then
  return math.max(1, math.ceil(tonumber(ARGV[2]) * (1 - tonumber(ARGV[3]))))
end
redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return 0
"""


class LimitStore:
    def __init__(self, redis: RedisClient, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._fail = redis.register_script(_FAIL)
        self._rate = redis.register_script(_RATE)

    def _keys(self, account: str) -> list[str]:
        # One hash tag per account: both keys of the script share a Cluster slot.
        return [f"{self._prefix}fail:a:{{{account}}}", f"{self._prefix}lock:a:{{{account}}}"]

    async def locked(self, account: str) -> bool:
        with translated("redis"):
            return bool(await self._redis.exists(self._keys(account)[1]))

    async def account_failed(
        self, account: str, window: int, max_failures: int, lockout: int
    ) -> bool:
        """Count a failure; True if it locked the account."""
        with translated("redis"):
            result = await self._fail(
                keys=self._keys(account),
                args=[
                    int(time.time() * 1000),
                    window * 1000,
                    max_failures,
                    lockout,
                    secrets.token_hex(8),
                ],
            )
        return int(result) == -1

    async def account_succeeded(self, account: str) -> None:
        with translated("redis"):
            await self._redis.delete(self._keys(account)[0])

    async def unlock(self, account: str) -> bool:
        with translated("redis"):
            return bool(await self._redis.delete(*self._keys(account)))

    async def address_failed(self, address: str, window: int) -> int:
        """Count a failed login from this address; return the failures in the window."""
        key = f"{self._prefix}fail:ip:{{{address}}}"
        with translated("redis"):
            return int(
                await self._fail(
                    keys=[key],
                    args=[int(time.time() * 1000), window * 1000, 0, 0, secrets.token_hex(8)],
                )
            )

    async def address_failures(self, address: str, window: int) -> int:
        key = f"{self._prefix}fail:ip:{{{address}}}"
        now = int(time.time() * 1000)
        with translated("redis"):
            return int(await self._redis.zcount(key, now - window * 1000, "+inf"))

    async def hit(self, address: str, limit: int, window: int) -> int:
        """Count a request; 0 if under the limit, else seconds until one would be allowed."""
        now = time.time()
        index, elapsed = divmod(now, window)
        keys = [
            f"{self._prefix}rate:{{{address}}}:{int(index)}",
            f"{self._prefix}rate:{{{address}}}:{int(index) - 1}",
        ]
        with translated("redis"):
            return int(await self._rate(keys=keys, args=[limit, window, elapsed / window]))
