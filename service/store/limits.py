"""Brute-force counters in Redis, shared by every instance.

Every key has one hash tag ({bf}), so a single script reads and writes them all on one
Redis, a Sentinel master or a Cluster node alike (the price: in a Cluster these small keys
all live on one node).

<prefix>limits{bf}:rate:<bucket>:<n>    request count of fixed minute n (two minutes are
<prefix>limits{bf}:guest:<bucket>:<n>   blended into a sliding estimate, as Cloudflare's
                                      rate limiter does); guest logins alike
<prefix>limits{bf}:fail:ip:<bucket>     sorted set: the address's verified wrong passwords
<prefix>limits{bf}:pend:ip:<bucket>     sorted set: its attempts being verified right now
<prefix>limits{bf}:fail:a:<account>     the same two for an account (a true sliding window)
<prefix>limits{bf}:pend:a:<account>
<prefix>limits{bf}:lock:a:<account>     exists while the account is locked

A <bucket> is a client address or an IPv6 network; members of the sorted sets are one id per
attempt, scored by time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from service.oauth.ports import Attempt, Limits, Verdict
from service.store.errors import translated
from service.store.topology import RedisClient

TAG = "limits{bf}:"
MINUTE = 60

# hit(current, previous, limit, elapsed fraction of the current minute): counts a request
# and returns 0, or returns the seconds to wait if the sliding estimate is at the limit.
_HIT = """
local function hit(current, previous, limit, elapsed)
  local estimate = tonumber(redis.call('GET', previous) or '0') * (1 - elapsed)
    + tonumber(redis.call('GET', current) or '0')
  if estimate >= limit then
    return math.max(1, math.ceil(60 * (1 - elapsed)))
  end
  redis.call('INCR', current)
  redis.call('EXPIRE', current, 120)
  return 0
end
-- rates(first key, first arg): the request rates named by KEYS from `first` on (current and
-- previous minute of each) and ARGV from `first` on (elapsed fraction, then one limit
-- each); the seconds to wait for the first one at its limit and its place (from 1), or 0.
local function rates(key, arg)
  for i = arg + 1, #ARGV do
    local wait = hit(KEYS[key], KEYS[key + 1], tonumber(ARGV[i]), tonumber(ARGV[arg]))
    if wait > 0 then
      return wait, i - arg
    end
    key = key + 2
  end
  return 0, 0
end
"""

_RATES = _HIT + "return {rates(1, 1)}\n"

# KEYS: address failures, address pending, account failures, account pending, lock.
# ARGV: now (ms), window (ms), max address failures, max account failures (0: not counted),
# attempt id. Returns {verdict, seconds to wait}; see Verdict.
# An attempt still pending after 60 s was orphaned (its process died mid-check: a
# check takes milliseconds, seconds when queued): it stops holding a slot of the limit.
_RESERVE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local address_max, account_max = tonumber(ARGV[3]), tonumber(ARGV[4])
local function count(key, horizon)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - horizon)
  return redis.call('ZCARD', key)
end
local pending = math.min(window, 60000)
-- Failures alone at the limit refuse; failures and attempts still being verified at the
-- limit make the caller wait for those to end.
local busy = false
if address_max > 0 then
  local failed = count(KEYS[1], window)
  if failed >= address_max then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {2, math.max(1, math.ceil((tonumber(oldest[2]) + window - now) / 1000))}
  end
  busy = failed + count(KEYS[2], pending) >= address_max
end
if account_max > 0 then
  if redis.call('EXISTS', KEYS[5]) == 1 then
    return {3, 0}
  end
  local failed = count(KEYS[3], window)
  if failed >= account_max then
    return {3, 0}
  end
  busy = busy or failed + count(KEYS[4], pending) >= account_max
end
if busy then
  return {4, 0}
end
for i, max in ipairs({address_max, account_max}) do
  if max > 0 then
    redis.call('ZADD', KEYS[2 * i], now, ARGV[5])
    redis.call('PEXPIRE', KEYS[2 * i], window)
  end
end
return {0, 0}
"""

# KEYS as _RESERVE's first five. ARGV: now (ms), window (ms), max address failures, max
# account failures, lock seconds, attempt id. The attempt becomes a failure; returns 1 if
# that locked the account.
_FAILED = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local locked = 0
for i, max in ipairs({tonumber(ARGV[3]), tonumber(ARGV[4])}) do
  local failures, pending = KEYS[2 * i - 1], KEYS[2 * i]
  if max > 0 then
    redis.call('ZREM', pending, ARGV[6])
    redis.call('ZADD', failures, now, ARGV[6])
    redis.call('PEXPIRE', failures, window)
    redis.call('ZREMRANGEBYSCORE', failures, '-inf', now - window)
    if i == 2 and redis.call('ZCARD', failures) >= max then
      redis.call('SET', KEYS[5], '1', 'EX', ARGV[5])
      redis.call('DEL', failures)
      locked = 1
    end
  end
end
return locked
"""

# KEYS: address pending, account pending, account failures. ARGV: attempt id, 1 to forget
# the account's failures too.
_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[3])
end
return 0
"""


def _window_args(limits: Limits) -> list[str | int | float]:
    """The scripts' first arguments: now (ms), window (ms), the two maximums."""
    now = int(time.time() * 1000)
    return [now, limits.window * 1000, limits.max_address_failures, limits.max_account_failures]


class LimitStore:
    """Implements service.oauth.ports.Counters."""

    def __init__(self, redis: RedisClient, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix + TAG
        self._rates = redis.register_script(_RATES)
        self._reserve = redis.register_script(_RESERVE)
        self._failed = redis.register_script(_FAILED)
        self._release = redis.register_script(_RELEASE)

    def _attempt_keys(self, attempt: Attempt) -> list[str]:
        p = self._prefix
        return [
            f"{p}fail:ip:{attempt.bucket}",
            f"{p}pend:ip:{attempt.bucket}",
            *self._account_keys(attempt.account),
        ]

    def _account_keys(self, account: str) -> list[str]:
        p = self._prefix
        return [f"{p}fail:a:{account}", f"{p}pend:a:{account}", f"{p}lock:a:{account}"]

    def _rate_args(
        self, bucket: str, rates: Sequence[tuple[str, int]]
    ) -> tuple[list[str], list[float]]:
        """Keys and arguments of per-minute rates, each (name, limit), for `rates` in Lua."""
        index, elapsed = divmod(time.time(), MINUTE)
        p, minute = self._prefix, int(index)
        keys = [f"{p}{name}:{bucket}:{minute - back}" for name, _ in rates for back in (0, 1)]
        return keys, [elapsed / MINUTE, *(limit for _, limit in rates)]

    async def hit(self, bucket: str, rates: Sequence[tuple[str, int]]) -> tuple[int, str]:
        """Count a request in each (name, per-minute limit) rate of the bucket, in order;
        (0, "") if under every limit, else the seconds until one would be allowed and the
        name of the first at its limit (the rates before it counted the request)."""
        keys, args = self._rate_args(bucket, rates)
        with translated("redis"):
            wait, place = await self._rates(keys=keys, args=args)
        return int(wait), rates[int(place) - 1][0] if wait else ""

    async def reserve(self, attempt: Attempt, limits: Limits) -> tuple[Verdict, int]:
        """Reserve the attempt against its address and account if neither is at its limit;
        the verdict and, if refused, seconds to wait."""
        with translated("redis"):
            verdict, wait = await self._reserve(
                keys=self._attempt_keys(attempt), args=[*_window_args(limits), attempt.id]
            )
        return Verdict(int(verdict)), int(wait)

    async def failed(self, attempt: Attempt, limits: Limits, lockout: int) -> bool:
        """The attempt was a wrong password: it stays counted. True if it locked the account."""
        args = [*_window_args(limits), lockout, attempt.id]
        with translated("redis"):
            return bool(await self._failed(keys=self._attempt_keys(attempt), args=args))

    async def release(self, attempt: Attempt, forget_failures: bool) -> None:
        """The attempt was not a wrong password: it no longer counts."""
        keys = self._attempt_keys(attempt)
        with translated("redis"):
            await self._release(
                keys=[keys[1], keys[3], keys[2]], args=[attempt.id, int(forget_failures)]
            )

    async def unlock(self, account: str) -> bool:
        """Forget the account's failures and lift its lock; True if there was either."""
        failures, _, lock = self._account_keys(account)
        with translated("redis"):
            return bool(await self._redis.delete(failures, lock))
