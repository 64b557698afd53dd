"""The authorize pages' sessions: a random id in a cookie, the session in Redis (any
replica continues the flow), a CSRF token for every form, a new id at login."""

from __future__ import annotations

import hmac
import secrets

from service.oauth.entities import LoginSession
from service.oauth.owners import Grantee
from service.oauth.ports import Sessions


def _new_id() -> str:
    return secrets.token_urlsafe(32)


class LoginSessions:
    def __init__(self, store: Sessions, lifetime: int) -> None:
        self._store = store
        self.lifetime = lifetime

    async def find(self, session_id: str | None) -> LoginSession | None:
        """The browser's session, its lifetime renewed; None: none, or expired."""
        if not session_id or len(session_id) > 64:
            return None
        return await self._store.load(session_id, self.lifetime)

    async def open(self, session_id: str | None) -> tuple[str, LoginSession]:
        """The browser's session (its lifetime renewed), or a new anonymous one."""
        session = await self.find(session_id)
        if session_id and session is not None:
            return session_id, session
        session_id, session = _new_id(), LoginSession(csrf=secrets.token_urlsafe(32))
        await self._store.save(session_id, session, self.lifetime)
        return session_id, session

    @staticmethod
    def csrf_ok(session: LoginSession, presented: str | None) -> bool:
        return presented is not None and hmac.compare_digest(
            session.csrf.encode(), presented.encode()
        )

    async def log_in(self, session_id: str, grantee: Grantee) -> tuple[str, LoginSession]:
        """The logged-in session under a new id and a new CSRF token; the old id is gone,
        so one planted before the login (session fixation) names nothing."""
        await self._store.delete(session_id)
        new_id = _new_id()
        session = LoginSession(secrets.token_urlsafe(32), grantee.subject, grantee.generation)
        await self._store.save(new_id, session, self.lifetime)
        return new_id, session

    async def log_out(self, session_id: str) -> None:
        await self._store.delete(session_id)
