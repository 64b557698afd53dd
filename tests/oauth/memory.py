"""In-memory implementations of service.oauth.ports, for the domain's unit tests: no
Postgres, no Redis. They keep the contracts' meaning, not the stores' layout."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from service.oauth.entities import Account, Client, Standing, Visitor
from service.oauth.model import Audience, Claims, Subject, TokenKind
from service.oauth.ports import (
    Attempt,
    Limits,
    Owner,
    Recorded,
    Replay,
    Replayed,
    Rotation,
    TokenRecord,
    Verdict,
)

_ids = itertools.count(1)


@dataclass
class MemoryAccounts:
    audience: Audience
    rows: dict[int, Account] = field(default_factory=dict)
    revoked_families: set[str] = field(default_factory=set)

    def add(self, name: str, password_hash: str, enabled: bool = True) -> Account:
        subject = (
            Subject.user(name)
            if self.audience is Audience.BACKOFFICE
            else Subject.customer_user(name)
        )
        account = Account(next(_ids), subject, password_hash, enabled, 0)
        self.rows[account.id] = account
        return account

    def change(self, account: Account, **changes: object) -> None:
        self.rows[account.id] = replace(self.rows[account.id], **changes)  # type: ignore[arg-type]

    async def find_login(self, login: str) -> tuple[Account | None, str]:
        folded = login.lower() if self.audience is Audience.STOREFRONT else login
        for account in self.rows.values():
            name = account.subject.name
            if (name.lower() if self.audience is Audience.STOREFRONT else name) == folded:
                return account, folded
        return None, folded

    async def account(self, account_id: int) -> Account | None:
        return self.rows.get(account_id)

    async def rehash(self, account_id: int, verified_hash: str, password_hash: str) -> bool:
        account = self.rows.get(account_id)
        if account is None or account.password_hash != verified_hash:
            return False
        self.change(account, password_hash=password_hash)
        return True

    async def standing(self, subject: Subject, client_id: str, family: str) -> Standing | None:
        account, _ = await self.find_login(subject.name)
        if account is None:
            return None
        return Standing(account.enabled, account.generation, None, family in self.revoked_families)


@dataclass
class MemoryVisitors:
    rows: dict[str, Visitor] = field(default_factory=dict)

    async def create(self, session_id: str, lifetime: int) -> Visitor:
        now = datetime.now(UTC)
        self.rows[session_id] = Visitor(next(_ids), session_id, now, now)
        return self.rows[session_id]

    async def get(self, session_id: str) -> Visitor | None:
        return self.rows.get(session_id)

    async def extend(
        self, session_id: str, lifetime: int, client_id: str, family: str
    ) -> Standing | None:
        return Standing(True, 0, None, False) if session_id in self.rows else None

    async def delete(self, session_id: str) -> None:
        self.rows.pop(session_id, None)

    async def became(self, session_id: str, customer_user: Subject) -> bool:
        return session_id in self.rows


@dataclass
class MemoryTokens:
    """Live records by jti, the current refresh jti per family, and owners' generations."""

    live: set[str] = field(default_factory=set)
    current: dict[str, str] = field(default_factory=dict)  # family -> refresh jti
    generations: dict[Subject, int] = field(default_factory=dict)
    indexed: dict[Subject, set[str]] = field(default_factory=dict)
    # family -> (the refresh jti rotated last, what a retry of it gets, until when)
    kept: dict[str, tuple[str, str, float]] = field(default_factory=dict)
    clock: Callable[[], float] = time.time

    async def record(
        self,
        owner: Owner,
        access: TokenRecord,
        refresh: TokenRecord | None,
        started: float | None = None,
    ) -> Recorded:
        if not owner.subject.is_visitor:
            self.indexed.setdefault(owner.subject, set()).add(access.family)
        self.live.add(access.jti)
        if refresh is not None:
            self.current[access.family] = refresh.jti
        if self.generations.get(owner.subject, -1) > owner.generation:
            await self.revoke_family(access.family)
            return Recorded.OWNER_REVOKED
        return Recorded.ISSUED

    async def rotate(
        self,
        presented: Claims,
        access: TokenRecord,
        refresh: TokenRecord,
        replay: Replay | None = None,
    ) -> Rotation | Replayed:
        family = presented.family
        current = self.current.get(family)
        if current is None:
            return Rotation.UNKNOWN
        if current != presented.jti:
            kept = self.kept.get(family)
            if kept is not None and kept[0] == presented.jti and self.clock() < kept[2]:
                return Replayed(kept[1])
            await self.revoke_family(family)
            return Rotation.REUSED
        self.live.add(access.jti)
        self.current[family] = refresh.jti
        self.kept.pop(family, None)
        if replay is not None:
            self.kept[family] = (presented.jti, replay.sealed, self.clock() + replay.window)
        return Rotation.ROTATED

    async def is_live(self, claims: Claims) -> bool:
        if claims.kind is TokenKind.REFRESH:
            return self.current.get(claims.family) == claims.jti
        return claims.jti in self.live

    async def revoke_access(self, claims: Claims) -> bool:
        was = claims.jti in self.live
        self.live.discard(claims.jti)
        return was

    async def revoke_family(self, family: str) -> bool:
        self.kept.pop(family, None)
        return self.current.pop(family, None) is not None

    async def revoke_owner(self, subject: Subject, generation: int | None = None) -> int:
        if generation is not None:
            self.generations[subject] = generation
        families = self.indexed.pop(subject, set())
        return sum([await self.revoke_family(f) for f in families])

    async def revoke_client(self, client_id: str, until: int | None = None) -> int:
        return 0


@dataclass
class MemoryClients:
    rows: dict[str, Client] = field(default_factory=dict)

    async def get(self, client_id: str) -> Client | None:
        return self.rows.get(client_id)


@dataclass
class MemoryRevokedLogins:
    families: set[str] = field(default_factory=set)

    async def revoke_family(self, family: str, lifetime: int) -> None:
        self.families.add(family)


@dataclass
class ScriptedCounters:
    """Answers reservations from a script of verdicts, then RESERVED; remembers the rest."""

    verdicts: list[tuple[Verdict, int]] = field(default_factory=list)
    failures: list[Attempt] = field(default_factory=list)
    released: list[tuple[Attempt, bool]] = field(default_factory=list)
    lock_after: int = 0  # the failure that locks the account (0: never)

    async def hit(self, bucket: str, rates: list[tuple[str, int]]) -> tuple[int, str]:
        return 0, ""

    async def reserve(self, attempt: Attempt, limits: Limits) -> tuple[Verdict, int]:
        return self.verdicts.pop(0) if self.verdicts else (Verdict.RESERVED, 0)

    async def failed(self, attempt: Attempt, limits: Limits, lockout: int) -> bool:
        self.failures.append(attempt)
        return len(self.failures) == self.lock_after

    async def release(self, attempt: Attempt, forget_failures: bool) -> None:
        self.released.append((attempt, forget_failures))
