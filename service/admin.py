"""Account changes that must reach every instance at once: disabling a user, changing a
password, deactivating a client, or revoking on demand. Each records the revocation in
Postgres first (an owner's token generation, a client's `revoked_before`), where a refresh
reads it even if Redis loses the rest, then revokes the tokens in Redis, so every instance
refuses them on its next request; a login in flight meanwhile refuses its own tokens."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg

from service.app import token_store
from service.commands import CommandError, hash_password, postgres
from service.config import Settings
from service.oauth.audit import audit
from service.oauth.clients import CACHE_SECONDS
from service.oauth.model import Audience, Subject
from service.oauth.owners import find_login
from service.oauth.protection import account
from service.store.clients import ClientRepository
from service.store.customers import CustomerUserRepository
from service.store.errors import StoreError
from service.store.limits import LimitStore
from service.store.revocations import RevocationRepository
from service.store.tokens import TokenStore, create_redis
from service.store.topology import RedisClient, close
from service.store.users import UserRepository


@dataclass
class Stores:
    pool: asyncpg.Pool
    redis: RedisClient
    tokens: TokenStore


@contextlib.asynccontextmanager
async def stores(settings: Settings) -> AsyncIterator[Stores]:
    async with postgres(settings) as pool:
        try:
            redis = await create_redis(settings.redis)
        except StoreError as exc:
            raise CommandError(f"redis.url: cannot connect ({exc})") from None
        try:
            yield Stores(pool, redis, token_store(redis, settings))
        finally:
            await close(redis)


async def revoke(
    settings: Settings,
    user: str | None = None,
    customer_user: str | None = None,
    client: str | None = None,
) -> dict[str, Any]:
    if sum(x is not None for x in (user, customer_user, client)) != 1:
        raise CommandError("give exactly one of --user, --customer-user, --client")
    async with stores(settings) as s:
        if user is not None:
            users = UserRepository(s.pool)
            found = await users.find_for_login(user)
            generation = None if found is None else await users.revoke_tokens(found.id)
            if found is None or generation is None:
                raise CommandError(f"--user: no user {user!r}")
            families = await s.tokens.revoke_owner(Subject.user(found.username), generation)
        elif customer_user is not None:
            customers = CustomerUserRepository(s.pool)
            customer = await customers.find_by_email(customer_user)
            generation = None if customer is None else await customers.revoke_tokens(customer.id)
            if customer is None or generation is None:
                raise CommandError(f"--customer-user: no customer user {customer_user!r}")
            subject = Subject.customer_user(customer.email)
            families = await s.tokens.revoke_owner(subject, generation)
        else:
            assert client is not None
            revoked_before = await _revoke_client(s, client, deactivate=False)
            if revoked_before is None:
                raise CommandError(f"--client: no client {client!r}")
            audit("tokens.revoked_all", client_id=client, before=revoked_before, by="command line")
            return {"revoked_before": revoked_before}
    audit(
        "tokens.revoked_all",
        user=user,
        customer_user=customer_user,
        logins=families,
        by="command line",
    )
    return {"revoked_logins": families}


async def set_user_enabled(settings: Settings, username: str, enabled: bool) -> dict[str, Any]:
    async with stores(settings) as s:
        user = await UserRepository(s.pool).set_enabled(username, enabled)
        if user is None:
            raise CommandError(f"--username: no user {username!r}")
        revoked = 0
        if not enabled:
            revoked = await s.tokens.revoke_owner(
                Subject.user(user.username), user.token_generation
            )
    return {"username": username, "enabled": enabled, "revoked_logins": revoked}


async def set_user_password(settings: Settings, username: str, password: str) -> dict[str, Any]:
    password_hash = await hash_password(settings, password)
    async with stores(settings) as s:
        users = UserRepository(s.pool)
        user = await users.find_for_login(username)
        if user is None or user.username != username:
            raise CommandError(f"--username: no user {username!r}")
        generation = await users.set_password_hash(user.id, password_hash)
        if generation is None:  # deleted meanwhile
            raise CommandError(f"--username: no user {username!r}")
        revoked = await s.tokens.revoke_owner(Subject.user(user.username), generation)
    return {"username": username, "revoked_logins": revoked}


async def unlock(settings: Settings, audience: str, login: str) -> dict[str, Any]:
    """Forget the failed logins of the account `login` names (by any spelling) and lift its
    lockout."""
    async with stores(settings) as s:
        accounts = (
            UserRepository(s.pool)
            if audience == Audience.BACKOFFICE
            else CustomerUserRepository(s.pool)
        )
        found = await find_login(accounts, login)
        unlocked = await LimitStore(s.redis, settings.redis.key_prefix).unlock(account(found))
    return {"account": login, "unlocked": unlocked}


async def _revoke_client(s: Stores, client_id: str, deactivate: bool) -> int | None:
    """Refuse the client's tokens issued up to now; with `deactivate`, the client too, and
    up to CACHE_SECONDS ahead: instances may go on using its cached row for that long, and
    what they issue meanwhile is revoked too. The second revoked before; None: no client."""
    until = int(time.time()) + (CACHE_SECONDS if deactivate else 0)
    if not await RevocationRepository(s.pool).revoke_client(client_id, until, deactivate):
        return None
    return await s.tokens.revoke_client(client_id, until)


async def set_client_active(settings: Settings, client_id: str, active: bool) -> dict[str, Any]:
    async with stores(settings) as s:
        if active:
            found = await ClientRepository(s.pool).set_active(client_id, True)
            revoked_before = None
        else:
            revoked_before = await _revoke_client(s, client_id, deactivate=True)
            found = revoked_before is not None
        if not found:
            raise CommandError(f"--client-id: no client {client_id!r}")
    return {"client_id": client_id, "active": active, "revoked_before": revoked_before}
