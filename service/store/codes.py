"""Authorization codes and the authorize pages' sessions in Redis.

Neither a code nor a session id is written as it is: the keys hold their SHA-256, so a
copy of Redis lets no one redeem a code or ride a session.

    <prefix>code:<sha256 of the code>   -> hash {d: the grant (JSON), u: used, r: reused}
                                           TTL tokens.auth_code_lifetime
    <prefix>sess:<sha256 of the id>     -> the session (JSON)  TTL authorize.session_lifetime
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from service.oauth.entities import CodeGrant, LoginSession
from service.oauth.model import Subject, SubjectKind
from service.store.errors import translated
from service.store.topology import RedisClient

# KEYS: the code. 1 for the first use, 0 for any later one (then marked reused), -1: gone.
# One script: a code that expired meanwhile must not come back as a hash without a TTL.
_REDEEM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local first = redis.call('HSETNX', KEYS[1], 'u', '1')
if first == 0 then redis.call('HSET', KEYS[1], 'r', '1') end
return first
"""

# KEYS: the code. ARGV: the grant (JSON), its TTL. One script: never a code without a TTL.
_SAVE = """
redis.call('HSET', KEYS[1], 'd', ARGV[1])
return redis.call('EXPIRE', KEYS[1], ARGV[2])
"""


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _subject_data(subject: Subject) -> dict[str, str]:
    return {"kind": subject.kind.value, "name": subject.name}


def _subject(data: dict[str, Any]) -> Subject:
    return Subject(SubjectKind(data["kind"]), data["name"])


class CodeStore:
    """Implements service.oauth.ports.AuthorizationCodes."""

    def __init__(self, redis: RedisClient, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._save = redis.register_script(_SAVE)
        self._redeem = redis.register_script(_REDEEM)

    def key(self, code: str) -> str:
        return f"{self._prefix}code:{_digest(code)}"

    async def save(self, code: str, grant: CodeGrant, ttl: int) -> None:
        data = {
            "client_id": grant.client_id,
            "redirect_uri": grant.redirect_uri,
            "redirect_given": grant.redirect_given,
            "challenge": grant.challenge,
            "challenge_method": grant.challenge_method,
            "subject": _subject_data(grant.subject),
            "generation": grant.generation,
            "scopes": list(grant.scopes),
            "visitor": grant.visitor,
            "family": grant.family,
        }
        with translated("redis"):
            await self._save(keys=[self.key(code)], args=[orjson.dumps(data), ttl])

    async def find(self, code: str) -> CodeGrant | None:
        with translated("redis"):
            raw = await self._redis.hget(self.key(code), "d")
        if raw is None:
            return None
        data = orjson.loads(raw)
        return CodeGrant(
            client_id=data["client_id"],
            redirect_uri=data["redirect_uri"],
            redirect_given=data["redirect_given"],
            challenge=data["challenge"],
            challenge_method=data["challenge_method"],
            subject=_subject(data["subject"]),
            generation=data["generation"],
            scopes=tuple(data["scopes"]),
            visitor=data["visitor"],
            family=data["family"],
        )

    async def redeem(self, code: str) -> bool:
        with translated("redis"):
            first = await self._redeem(keys=[self.key(code)])
        return int(first) == 1

    async def reused(self, code: str) -> bool:
        with translated("redis"):
            return bool(await self._redis.hexists(self.key(code), "r"))


class SessionStore:
    """Implements service.oauth.ports.Sessions."""

    def __init__(self, redis: RedisClient, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix

    def key(self, session_id: str) -> str:
        return f"{self._prefix}sess:{_digest(session_id)}"

    async def load(self, session_id: str, ttl: int) -> LoginSession | None:
        with translated("redis"):
            raw = await self._redis.getex(self.key(session_id), ex=ttl)
        if raw is None:
            return None
        data = orjson.loads(raw)
        subject = None if data.get("subject") is None else _subject(data["subject"])
        return LoginSession(data["csrf"], subject, data.get("generation", 0))

    async def save(self, session_id: str, session: LoginSession, ttl: int) -> None:
        subject = session.subject
        data = {
            "csrf": session.csrf,
            "subject": None if subject is None else _subject_data(subject),
            "generation": session.generation,
        }
        with translated("redis"):
            await self._redis.set(self.key(session_id), orjson.dumps(data), ex=ttl)

    async def delete(self, session_id: str) -> None:
        with translated("redis"):
            await self._redis.delete(self.key(session_id))
