"""Revoking every token of a user, a customer user or a client on demand. Each records the
revocation in Postgres first (an owner's token generation, a client's `revoked_before`),
where a refresh reads it even if Redis loses the rest, then revokes the tokens in Redis, so
every instance refuses them on its next request; a login in flight meanwhile refuses its
own tokens."""

from __future__ import annotations

import time
from dataclasses import dataclass

from service import metrics
from service.admin.accounts import find_account, rows_of
from service.admin.errors import NotFound
from service.admin.stores import Stores
from service.oauth.audit import audit
from service.oauth.clients import CACHE_SECONDS
from service.oauth.model import Audience, Subject
from service.oauth.ports import LiveLogin
from service.store.customers import CustomerUserRepository
from service.store.revocations import RevocationRepository
from service.store.users import UserRepository


@dataclass(frozen=True)
class RevokedLogins:
    revoked_logins: int


@dataclass(frozen=True)
class RevokedBefore:
    revoked_before: int


@dataclass(frozen=True)
class Logins:
    subject: str
    logins: list[LiveLogin]


async def list_logins(stores: Stores, audience: Audience, key: int | str) -> Logins:
    """The live logins of a user or customer user (`key`: its id or login), newest first:
    when, with which client, when last refreshed, until when it can last be used."""
    found = await find_account(rows_of(stores, audience), audience, key)
    subject = found.account.subject
    return Logins(subject.claim, await stores.tokens.logins(subject))


async def revoke_user(stores: Stores, login: str, by: str = "command line") -> RevokedLogins:
    """`login`: a back-office username or email."""
    users = UserRepository(stores.pool)
    found = await users.find_for_login(login)
    generation = None if found is None else await users.revoke_tokens(found.id)
    if found is None or generation is None:
        raise NotFound(("user",), f"no user {login!r}")
    families = await stores.tokens.revoke_owner(Subject.user(found.username), generation)
    metrics.count(metrics.REVOCATIONS, "owner")
    audit("tokens.revoked_all", user=login, logins=families, by=by)
    return RevokedLogins(families)


async def revoke_customer_user(
    stores: Stores, email: str, by: str = "command line"
) -> RevokedLogins:
    customers = CustomerUserRepository(stores.pool)
    customer = await customers.find_by_email(email)
    generation = None if customer is None else await customers.revoke_tokens(customer.id)
    if customer is None or generation is None:
        raise NotFound(("customer_user",), f"no customer user {email!r}")
    subject = Subject.customer_user(customer.email)
    families = await stores.tokens.revoke_owner(subject, generation)
    metrics.count(metrics.REVOCATIONS, "owner")
    audit("tokens.revoked_all", customer_user=email, logins=families, by=by)
    return RevokedLogins(families)


async def revoke_client(stores: Stores, client_id: str, by: str = "command line") -> RevokedBefore:
    revoked_before = await revoke_client_tokens(stores, client_id, deactivate=False)
    if revoked_before is None:
        raise NotFound(("client",), f"no client {client_id!r}")
    audit("tokens.revoked_all", client_id=client_id, before=revoked_before, by=by)
    return RevokedBefore(revoked_before)


async def revoke_client_tokens(
    stores: Stores, client_id: str, deactivate: bool, ahead: bool | None = None
) -> int | None:
    """Refuse the client's tokens issued up to now; with `deactivate`, the client too. With
    `ahead` (by default with `deactivate`: its row changed), up to CACHE_SECONDS ahead:
    instances may go on using its cached row for that long, and what they issue meanwhile
    is revoked too. The second revoked before; None: no client."""
    ahead = deactivate if ahead is None else ahead
    until = int(time.time()) + (CACHE_SECONDS if ahead else 0)
    if not await RevocationRepository(stores.pool).revoke_client(client_id, until, deactivate):
        return None
    metrics.count(metrics.REVOCATIONS, "client")
    return await stores.tokens.revoke_client(client_id, until)
