"""The operator's commands as the command line runs them: service.admin on stores opened
for the one call (in-process, so a test can race them against requests)."""

from __future__ import annotations

from service.admin import accounts, clients, tokens
from service.cli.context import hasher, stores
from service.config import Settings
from service.oauth.model import Audience


async def set_user_enabled(
    settings: Settings, username: str, enabled: bool
) -> accounts.UserEnabled:
    async with stores(settings) as s:
        return await accounts.set_user_enabled(s, username, enabled)


async def set_user_password(
    settings: Settings, username: str, password: str
) -> accounts.PasswordSet:
    with hasher(settings) as passwords:
        async with stores(settings) as s:
            return await accounts.set_user_password(s, passwords, username, password)


async def unlock(settings: Settings, audience: Audience, login: str) -> accounts.Unlocked:
    async with stores(settings) as s:
        return await accounts.unlock(s, Audience(audience), login)


async def set_client_active(
    settings: Settings, client_id: str, active: bool
) -> clients.ClientActive:
    async with stores(settings) as s:
        return await clients.set_client_active(s, client_id, active)


async def revoke(
    settings: Settings, user: str | None = None, client: str | None = None
) -> tokens.RevokedLogins | tokens.RevokedBefore:
    async with stores(settings) as s:
        if user is not None:
            return await tokens.revoke_user(s, user)
        assert client is not None
        return await tokens.revoke_client(s, client)
