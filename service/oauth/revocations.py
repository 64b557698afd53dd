"""Revoking one login (a family) so that it stays revoked: first where Postgres keeps it,
then in Redis. A guest's login is its visitor row, so that row goes; another login's family
is remembered until its last refresh token has expired. A Redis restored from an older copy
may bring the family's records back, but its refresh reads Postgres and is refused."""

from __future__ import annotations

from service.oauth.model import Claims, Subject
from service.oauth.ports import RevokedLogins, TokenRecords, Visitors


class Revocations:
    def __init__(
        self,
        store: TokenRecords,
        families: RevokedLogins,
        visitors: Visitors,
        lifetime: int,
    ) -> None:
        self._store = store
        self._families = families
        self._visitors = visitors
        self._lifetime = lifetime  # the longest a refresh token of the family can live

    async def remember(self, claims: Claims) -> None:
        """Keep the login of `claims` revoked in Postgres."""
        await self._remember(claims.subject, claims.family)

    async def _remember(self, subject: Subject, family: str) -> None:
        if subject.is_visitor:
            await self._visitors.delete(subject.name)
        else:
            await self._families.revoke_family(family, self._lifetime)

    async def revoke_family(self, claims: Claims) -> bool:
        """Revoke the login of `claims`; True if it had live tokens in Redis."""
        return await self.revoke_login(claims.subject, claims.family)

    async def revoke_login(self, subject: Subject, family: str) -> bool:
        """Revoke the subject's login `family` (which may not have been issued yet); True
        if it had live tokens in Redis."""
        await self._remember(subject, family)
        return await self._store.revoke_family(family)
