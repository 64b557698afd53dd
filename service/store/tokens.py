"""The token store.

A token is valid only while its record exists. A family is one login (password or
client_credentials grant) and everything refreshed from it; its id is the Redis Cluster
hash tag of its keys, so each family's operations stay in one slot:

    <prefix>{<family>}:f               -> "<refresh jti> <access jti>"  TTL refresh lifetime
                                          + " <logged in at> <refreshed at> <client id>"
                                          (without refresh token: "- ...", access's TTL)
    <prefix>{<family>}:a:<access jti>  -> "1"                          TTL access lifetime
    <prefix>{<family>}:r               -> "<jti rotated> <sealed pair>" TTL the retry window

The family record names the family's one live refresh token ("-" when none was issued) and
its one live access token. An owner's login (not a visitor's) goes on with what the admin's
list of an owner's logins shows: when it logged in and was last refreshed (unix seconds;
"-": never) and its client (last: the rest of the value). An access token has a key of its
own, which expires before the family does, except in an owner's login without a refresh
token: there the family record lives exactly as long, and is the access token's record.
(Records written before the login's details were kept there always came with an access
key; an owner's login was described by a hash `{<family>}:m`, no longer read: it expires.)

A presented refresh token whose jti is not the current one was used before, which is
theft (RFC 9700 §4.14.2), and the family goes in the same round trip.

To revoke everything of an owner, an index names the owner's live families (scored by when
each can last be used, trimmed as logins come, so it holds only live ones). Guests have one
family each and no index. A client can have millions of live families, so revoking a client
instead writes a marker: its tokens issued up to that second are refused.

    <prefix>idx:o:<realm>:<subject>    -> sorted set {family: expiry}  TTL the longest lifetime
    <prefix>rc:<client_id>             -> unix second of the revocation TTL the longest lifetime
    <prefix>gen:o:<realm>:<subject>    -> the owner's token generation TTL the longest lifetime

A login in flight while its owner or client is revoked must not slip through: an owner-wide
revocation first bumps the owner's generation (Postgres, then the marker above), then scans
the index. A login records its tokens (index entry first), then reads both markers. Either
its index entry was there before the scan, which revokes it, or it reads the new marker and
revokes itself. Postgres keeps every revocation too (see service/oauth/revocations.py), so
a Redis that comes back from an older copy brings back no refresh.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from service.config import Settings
from service.oauth.model import Claims, Subject, TokenKind
from service.oauth.ports import LiveLogin, Owner, Recorded, Replay, Replayed, Rotation, TokenRecord
from service.store.errors import translated
from service.store.topology import RedisClient

# In every script: a family record's refresh jti, access jti, and the login's details
# (from its first space on, or empty).
_FIELDS = "string.match(current, '^(%S+) (%S+)(.*)$')"

# KEYS: owner index, the access token's key, family record, owner's generation marker,
# client's revocation marker. ARGV: family, its index entry's score (0: not indexed), now,
# index TTL, access TTL (0: no key of its own), family record, its TTL. Single Redis only:
# the index and the markers live in other Cluster slots than the family. In the order the
# module docstring requires: the index entry, the records, then both markers read.
_RECORD = """
if ARGV[2] ~= '0' then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
if ARGV[5] ~= '0' then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[5])
end
redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[7])
return {redis.call('GET', KEYS[4]), redis.call('GET', KEYS[5])}
"""

# KEYS: family record, new access key, retry record; on a single Redis also the client's
# revocation marker (read first) and the owner index (the family's entry moved on with a
# rotation; a Cluster keeps both in other slots, for separate commands). ARGV: presented
# refresh jti, access key prefix, new refresh jti, new access jti, new access TTL, new
# refresh TTL, sealed pair, retry window (0: none), now, family, index score (0: not
# indexed), index TTL. Returns {outcome, sealed pair, the client's revocation marker}.
# The retry record is "<jti rotated> <sealed pair>": the same jti presented again while it
# lives, and while that pair's access token does, gets the pair. (The old access key is
# built in the script; it shares the family's hash tag, so its slot.)
_ROTATE = f"""
local revoked = false
if KEYS[4] then revoked = redis.call('GET', KEYS[4]) end
local current = redis.call('GET', KEYS[1])
if not current then return {{0, false, revoked}} end
local refresh, access, details = {_FIELDS}
if refresh ~= ARGV[1] then
  local retry = redis.call('GET', KEYS[3])
  if retry and redis.call('EXISTS', ARGV[2] .. access) == 1 then
    local rotated, sealed = string.match(retry, '^(%S+) (%S+)$')
    if rotated == ARGV[1] then return {{2, sealed, revoked}} end
  end
  redis.call('DEL', KEYS[1], ARGV[2] .. access, KEYS[3])
  return {{-1, false, revoked}}
end
local value = ARGV[3] .. ' ' .. ARGV[4]
local at, client = string.match(details, '^ (%S+) %S+ (.*)$')
if at then value = value .. ' ' .. at .. ' ' .. ARGV[9] .. ' ' .. client end
redis.call('DEL', ARGV[2] .. access)
redis.call('SET', KEYS[2], '1', 'EX', ARGV[5])
redis.call('SET', KEYS[1], value, 'EX', ARGV[6])
if tonumber(ARGV[8]) > 0 then
  redis.call('SET', KEYS[3], ARGV[1] .. ' ' .. ARGV[7], 'EX', ARGV[8])
else
  redis.call('DEL', KEYS[3])
end
if KEYS[5] and ARGV[11] ~= '0' then
  redis.call('ZADD', KEYS[5], ARGV[11], ARGV[10])
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[9])
  redis.call('EXPIRE', KEYS[5], ARGV[12])
end
return {{1, false, revoked}}
"""

# KEYS: family record. ARGV: access key prefix, retry record. Deletes the family's record
# (its refresh token, and what the admin sees of the login), its current access token, and
# what a retry of its last rotation would get: a revoked login leaves nothing behind.
_REVOKE_FAMILY = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local access = string.match(current, '^%S+ (%S+)')
redis.call('DEL', ARGV[2])
return redis.call('DEL', KEYS[1], ARGV[1] .. access)
"""

# KEYS: the access token's key, its family record. ARGV: its jti. Where the family record
# is the token's record (no refresh token), the login goes: nothing of it is left to use.
_REVOKE_ACCESS = f"""
if redis.call('DEL', KEYS[1]) == 1 then return 1 end
local current = redis.call('GET', KEYS[2])
if not current then return 0 end
local refresh, access, details = {_FIELDS}
if refresh == '-' and access == ARGV[1] and details ~= '' then
  return redis.call('DEL', KEYS[2])
end
return 0
"""


# KEYS: the owner's generation marker. ARGV: the new generation, TTL. Generations only grow,
# whatever order two commands' writes arrive in.
_RAISE_GENERATION = """
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then
  return redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return redis.call('EXPIRE', KEYS[1], ARGV[2])
"""


# KEYS: the token's family record, its client's revocation marker, the access token's key.
# ARGV: "1" for a refresh token, its jti, its iat. Single Redis only: on a Cluster the
# marker may live on another node (there is_live decides on the same reads).
_USABLE = f"""
local revoked = redis.call('GET', KEYS[2])
if revoked and tonumber(ARGV[3]) <= tonumber(revoked) then return 0 end
if ARGV[1] == '0' and redis.call('EXISTS', KEYS[3]) == 1 then return 1 end
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local refresh, access, details = {_FIELDS}
if ARGV[1] == '1' then
  return refresh == ARGV[2] and 1 or 0
end
return (refresh == '-' and access == ARGV[2] and details ~= '') and 1 or 0
"""


class TokenStore:
    """Implements service.oauth.ports.TokenRecords."""

    def __init__(
        self, redis: RedisClient, prefix: str, index_ttl: int, revocation_wait_ms: int = 0
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._index_ttl = index_ttl
        self._record = redis.register_script(_RECORD)
        self._rotate = redis.register_script(_ROTATE)
        self._revoke_family = redis.register_script(_REVOKE_FAMILY)
        self._revoke_access = redis.register_script(_REVOKE_ACCESS)
        self._raise_generation = redis.register_script(_RAISE_GENERATION)
        self._usable = redis.register_script(_USABLE)
        self._cluster = isinstance(redis, RedisCluster)
        self._replicas = _Replicas(redis, revocation_wait_ms)

    @classmethod
    def configured(cls, redis: RedisClient, settings: Settings) -> TokenStore:
        """The store as config.yml sets it up: markers and indexes outlive every token."""
        r = settings.redis
        return cls(redis, r.key_prefix, settings.tokens.longest_lifetime, r.revocation_wait_ms)

    def _queue(self, pipe: Any, script: AsyncScript, keys: list[str], args: list[Any]) -> None:
        """Queue a script as a plain EVALSHA: redis-py would otherwise send SCRIPT EXISTS
        first, a second round trip (`_execute` loads it on NOSCRIPT). ClusterPipeline refuses
        EVALSHA, so on a Cluster the body goes as EVAL, cached by each node."""
        if self._cluster:
            pipe.eval(script.script, len(keys), *keys, *args)
        else:
            pipe.evalsha(script.sha, len(keys), *keys, *args)

    async def _execute(self, queue: Callable[[Any], None], *, durable: bool = False) -> list[Any]:
        """Run a pipeline built by `queue`; if Redis lost our scripts (a restart), load them
        and run it again (every queued command is idempotent). On a Cluster the commands
        go concurrently one by one instead: redis-py's async ClusterPipeline breaks when
        several run at once (a connection is closed under a concurrent send), and they
        would be split per node anyway. `durable` (a revocation): where the server has
        replicas, the same connection then waits for one to have the writes (WAIT,
        bounded), so a failover right after it does not undo the revocation."""
        if self._cluster:
            batch = _Batch()
            queue(batch)
            calls = (getattr(self._redis, name)(*args, **kw) for name, args, kw in batch.calls)
            return list(await asyncio.gather(*calls))
        wait_ms = await self._replicas.wait_ms() if durable else 0
        for attempt in range(2):
            async with self._redis.pipeline(transaction=False) as pipe:
                queue(pipe)
                if wait_ms:
                    pipe.execute_command("WAIT", 1, wait_ms)
                try:
                    results = list(await pipe.execute())
                    return results[:-1] if wait_ms else results
                except NoScriptError:
                    if attempt:
                        raise
            for script in (self._revoke_family, self._revoke_access, self._raise_generation):
                await self._redis.script_load(script.script)
        raise AssertionError("unreachable")

    def _access_prefix(self, family: str) -> str:
        return f"{self._prefix}{{{family}}}:a:"

    def _access_key(self, family: str, jti: str) -> str:
        return self._access_prefix(family) + jti

    def _family_key(self, family: str) -> str:
        return f"{self._prefix}{{{family}}}:f"

    def _retry_key(self, family: str) -> str:
        return f"{self._prefix}{{{family}}}:r"

    def _owner_index(self, subject: Subject) -> str:
        return f"{self._prefix}idx:o:{subject.audience}:{subject.claim}"

    def _client_marker(self, client_id: str) -> str:
        return f"{self._prefix}rc:{client_id}"

    def _owner_marker(self, subject: Subject) -> str:
        return f"{self._prefix}gen:o:{subject.audience}:{subject.claim}"

    @staticmethod
    def _index_score(subject: Subject, now: int, ttl: int) -> int:
        """The score of the family's entry in its owner's index: when its last token can last
        be used; 0 for a visitor, who has one login and no owner-wide revocation, so no
        index to keep."""
        return 0 if subject.is_visitor else now + ttl

    def _index(self, pipe: Any, subject: Subject, family: str, now: int, ttl: int) -> None:
        score = self._index_score(subject, now, ttl)
        if score:
            key = self._owner_index(subject)
            pipe.zadd(key, {family: score})
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.expire(key, self._index_ttl)

    async def record(
        self,
        owner: Owner,
        access: TokenRecord,
        refresh: TokenRecord | None,
        started: float | None = None,
    ) -> Recorded:
        """Index the family, record the tokens, then read the owner's and the client's
        revocation markers: a login whose owner was revoked since it read its generation,
        or whose client was revoked since `started` (when the request began, before it
        authenticated the client), revokes what it just recorded. Issued only if all of it
        succeeded. One script on a single Redis; on a Cluster (where the index lives in
        another slot than the family) the writes, then the reads."""
        subject, family, now = owner.subject, access.family, int(time.time())
        value = f"{refresh.jti if refresh else '-'} {access.jti}"
        if not subject.is_visitor:  # an owner's login, for the admin's list of them
            value += f" {now} - {owner.client_id}"
        family_ttl = refresh.ttl if refresh else access.ttl
        # Without a refresh token, an owner's family record is the access token's record.
        access_ttl = access.ttl if refresh or subject.is_visitor else 0
        owner_marker = self._owner_marker(subject)
        client_marker = self._client_marker(owner.client_id)

        with translated("redis"):
            if self._cluster:

                def write(pipe: Any) -> None:
                    self._index(pipe, subject, family, now, family_ttl)
                    if access_ttl:
                        pipe.set(self._access_key(family, access.jti), b"1", ex=access_ttl)
                    pipe.set(self._family_key(family), value, ex=family_ttl)

                def read(pipe: Any) -> None:
                    pipe.get(owner_marker)
                    pipe.get(client_marker)

                await self._execute(write)  # concurrent commands: the reads wait for these
                generation, client_revoked = await self._execute(read)
            else:
                keys = [
                    self._owner_index(subject),
                    self._access_key(family, access.jti),
                    self._family_key(family),
                    owner_marker,
                    client_marker,
                ]
                args: list[str | int] = [
                    family,
                    self._index_score(subject, now, family_ttl),
                    now,
                    self._index_ttl,
                    access_ttl,
                    value,
                    family_ttl,
                ]
                generation, client_revoked = await self._record(keys=keys, args=args)
        outcome = Recorded.ISSUED
        if int(generation or -1) > owner.generation:
            outcome = Recorded.OWNER_REVOKED
        if started is not None and int(started) <= int(client_revoked or -1):
            outcome = Recorded.CLIENT_REVOKED
        if outcome is not Recorded.ISSUED:
            await self.revoke_family(access.family)
        return outcome

    async def rotate(
        self,
        presented: Claims,
        access: TokenRecord,
        refresh: TokenRecord,
        replay: Replay | None = None,
    ) -> Rotation | Replayed:
        """Consume the presented refresh token of `refresh.family` and record the new pair,
        atomically: of two concurrent uses of one refresh token, one wins (the other, within
        a `replay` window, gets what the winner kept). One round trip (one script on a
        single Redis), but for a client revoked since the token was issued, whose family
        then goes."""
        subject, family, now = presented.subject, refresh.family, int(time.time())
        keys = [
            self._family_key(family),
            self._access_key(access.family, access.jti),
            self._retry_key(family),
        ]
        args: list[str | int] = [
            presented.jti,
            self._access_prefix(access.family),
            refresh.jti,
            access.jti,
            access.ttl,
            refresh.ttl,
            replay.sealed if replay else "-",
            replay.window if replay else 0,
            now,
        ]
        marker = self._client_marker(presented.client_id)
        with translated("redis"):
            if self._cluster:

                def queue(pipe: Any) -> None:
                    pipe.get(marker)
                    self._queue(pipe, self._rotate, keys, args)
                    # The family lives on: so must the index entry that finds it.
                    self._index(pipe, subject, family, now, refresh.ttl)

                revoked_at, (outcome, sealed, _), *_ = await self._execute(queue)
            else:
                keys += [marker, self._owner_index(subject)]
                args += [family, self._index_score(subject, now, refresh.ttl), self._index_ttl]
                outcome, sealed, revoked_at = await self._rotate(keys=keys, args=args)
        if revoked_at is not None and presented.issued_at <= int(revoked_at):
            await self.revoke_family(family)
            return Rotation.UNKNOWN
        if sealed is not None:
            return Replayed(_text(sealed))
        return Rotation(int(outcome))

    async def is_live(self, claims: Claims) -> bool:
        """The token's record exists (for a refresh token: it is its family's current one)
        and its client was not revoked since it was issued: one round trip (one script on
        a single Redis, a pipeline on a Cluster)."""
        refresh, family, jti = claims.kind is TokenKind.REFRESH, claims.family, claims.jti
        issued_at = claims.issued_at
        marker = self._client_marker(claims.client_id)
        family_key, access_key = self._family_key(family), self._access_key(family, jti)
        if not self._cluster:
            with translated("redis"):
                found = await self._usable(
                    keys=[family_key, marker, access_key],
                    args=["1" if refresh else "0", jti, issued_at],
                )
            return bool(found)

        def queue(pipe: Any) -> None:
            pipe.get(family_key)
            pipe.get(marker)
            if not refresh:
                pipe.exists(access_key)

        with translated("redis"):
            current, revoked_at, *own_key = await self._execute(queue)
        if revoked_at is not None and issued_at <= int(revoked_at):
            return False
        if refresh:
            return _fields(current)[0] == jti
        return bool(own_key[0]) or _is_access_record(current, jti)

    async def revoke_access(self, claims: Claims) -> bool:
        keys = [self._access_key(claims.family, claims.jti), self._family_key(claims.family)]
        with translated("redis"):
            [deleted] = await self._execute(
                lambda pipe: self._queue(pipe, self._revoke_access, keys, [claims.jti]),
                durable=True,
            )
        return bool(deleted)

    def _queue_revoke_family(self, pipe: Any, family: str) -> None:
        self._queue(
            pipe,
            self._revoke_family,
            keys=[self._family_key(family)],
            args=[self._access_prefix(family), self._retry_key(family)],
        )

    async def revoke_family(self, family: str) -> bool:
        """Revoke every live token of the family (one round trip, whatever its history)."""
        with translated("redis"):
            [deleted] = await self._execute(
                lambda pipe: self._queue_revoke_family(pipe, family), durable=True
            )
        return bool(deleted)

    async def revoke_owner(self, subject: Subject, generation: int | None = None) -> int:
        """Revoke every live family of the owner; return how many were live. With the
        owner's new `generation` (bumped in Postgres first), its marker is written before
        the index is read, so a login in flight is either found or finds the marker."""
        index = self._owner_index(subject)
        with translated("redis"):
            if generation is not None:
                marker = [self._owner_marker(subject)]
                args = [generation, self._index_ttl]
                await self._execute(
                    lambda pipe: self._queue(pipe, self._raise_generation, marker, args),
                    durable=True,
                )
            members = await self._redis.zrangebyscore(index, int(time.time()), "+inf")
            families = [m.decode() if isinstance(m, bytes) else str(m) for m in members]

            def queue(pipe: Any) -> None:
                for family in families:
                    self._queue_revoke_family(pipe, family)
                pipe.delete(index)

            results = await self._execute(queue, durable=True)
        return sum(1 for r in results[:-1] if r)

    async def logins(self, subject: Subject) -> list[LiveLogin]:
        """The owner's live logins, newest first: its index's live entries whose family
        still has a record."""
        index = self._owner_index(subject)
        with translated("redis"):
            members: list[Any] = await self._redis.zrangebyscore(
                index, int(time.time()), "+inf", withscores=True
            )
            entries = [(_text(m), int(score)) for m, score in members]

            def queue(pipe: Any) -> None:
                for family, _ in entries:
                    pipe.get(self._family_key(family))

            records = await self._execute(queue) if entries else []
        found = []
        for (family, expires), record in zip(entries, records, strict=True):
            if record is None:
                continue
            *_, at, refreshed, client = _fields(record)
            found.append(LiveLogin(family, client, _number(at), _number(refreshed), expires))
        return sorted(found, key=lambda login: login.logged_in_at or 0, reverse=True)

    async def revoke_client(self, client_id: str, until: int | None = None) -> int:
        """Refuse every token the client was issued up to the second `until` (default: now);
        return it. (Tokens issued later in the same second are refused too: a client
        revocation is rare.)"""
        until = int(time.time()) if until is None else until
        with translated("redis"):
            await self._execute(
                lambda pipe: pipe.set(self._client_marker(client_id), until, ex=self._index_ttl),
                durable=True,
            )
        return until


class _Replicas:
    """Whether a revocation should wait for a replica: the server's connected replicas,
    asked at most every REPLICAS_TTL seconds (revocations are rare; a replica attached
    meanwhile is waited for from the next check on)."""

    REPLICAS_TTL = 10.0

    def __init__(self, redis: RedisClient, wait_ms: int) -> None:
        self._redis = redis
        self._wait_ms = wait_ms
        self._checked_at = -self.REPLICAS_TTL
        self._count = 0

    async def wait_ms(self) -> int:
        """How long to WAIT after a revocation's writes: 0 (not at all) without replicas."""
        if not self._wait_ms or isinstance(self._redis, RedisCluster):
            return 0
        now = time.monotonic()
        if now - self._checked_at >= self.REPLICAS_TTL:
            info = await self._redis.info("replication")
            self._count = int(info.get("connected_slaves", 0))
            self._checked_at = now
        return self._wait_ms if self._count else 0


class _Batch:
    """Records pipeline-style calls (`batch.set(...)`) to replay them as single commands."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))

        return record


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _number(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _fields(
    record: bytes | str | None,
) -> tuple[str | None, str | None, str | None, str | None, str | None]:
    """A family record's refresh jti, access jti, login time, refresh time and client (None
    for what it does not hold), as the scripts read it (_FIELDS)."""
    if record is None:
        return None, None, None, None, None
    refresh, access, *details = _text(record).split(" ", 4)
    at, refreshed, client = details if len(details) == 3 else (None, None, None)
    return refresh, access, at, refreshed, client


def _is_access_record(record: bytes | str | None, jti: str) -> bool:
    """The family record is the access token `jti`'s own (as `_USABLE` decides)."""
    refresh, access, at, *_ = _fields(record)
    return refresh == "-" and access == jti and at is not None
