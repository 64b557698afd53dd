"""Back-office users and customer users: create, list, show, change, disable and enable,
set a password, lift a lockout, delete. Whatever stops an account's logins revokes its
tokens: its token generation is bumped in Postgres first, then its logins go in Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from service import metrics
from service.admin.errors import AdminError, NotFound
from service.admin.paging import checked
from service.admin.stores import Stores
from service.oauth.audit import audit
from service.oauth.entities import CustomerUser, User
from service.oauth.model import VISITOR_PREFIX, Audience
from service.oauth.owners import find_login
from service.oauth.passwords import Passwords
from service.oauth.protection import account
from service.store.accounts import AccountRows
from service.store.customers import CustomerUserRepository
from service.store.users import UserRepository

MIN_PASSWORD_LENGTH = 8


@dataclass(frozen=True)
class CreatedUser:
    id: int
    username: str
    email: str


@dataclass(frozen=True)
class CreatedCustomerUser:
    id: int
    email: str


@dataclass(frozen=True)
class Unlocked:
    account: str
    unlocked: bool


async def hashed(passwords: Passwords, password: str) -> str:
    """The hash of a password good enough to set."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AdminError(("password",), f"at least {MIN_PASSWORD_LENGTH} characters")
    return await passwords.hash(password)


async def create_user(
    pool: asyncpg.Pool,
    passwords: Passwords,
    username: str,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
) -> CreatedUser:
    if username.startswith(VISITOR_PREFIX):
        # A storefront guest's subject: tokens of such a user would pass for a guest's.
        raise AdminError(("username",), f"names starting with {VISITOR_PREFIX!r} are reserved")
    password_hash = await hashed(passwords, password)
    user = await UserRepository(pool).create(username, email, password_hash, first_name, last_name)
    return CreatedUser(user.id, user.username, user.email)


async def create_customer_user(
    pool: asyncpg.Pool,
    passwords: Passwords,
    email: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
) -> CreatedCustomerUser:
    password_hash = await hashed(passwords, password)
    customer = await CustomerUserRepository(pool).create(
        email, password_hash, first_name, last_name
    )
    return CreatedCustomerUser(customer.id, customer.email)


async def unlock(stores: Stores, audience: Audience, login: str) -> Unlocked:
    """Forget the failed logins of the account `login` names (by any spelling) and lift its
    lockout."""
    accounts = (
        UserRepository(stores.pool)
        if audience is Audience.BACKOFFICE
        else CustomerUserRepository(stores.pool)
    )
    found = await find_login(accounts, login)
    return Unlocked(login, await stores.limits.unlock(account(found)))


@dataclass(frozen=True)
class AccountView:
    """A back-office user (with a username) or a customer user, as an operator sees it."""

    id: int
    username: str | None
    email: str
    first_name: str
    last_name: str
    enabled: bool
    created_at: str  # ISO 8601

    @classmethod
    def of(cls, row: User | CustomerUser) -> AccountView:
        username = row.username if isinstance(row, User) else None
        return cls(
            row.id,
            username,
            row.email,
            row.first_name,
            row.last_name,
            row.enabled,
            row.created_at.isoformat(),
        )


@dataclass(frozen=True)
class AccountPage:
    accounts: list[AccountView]
    total: int


@dataclass(frozen=True)
class AccountChanged:
    account: AccountView
    revoked_logins: int  # the live logins revoked with the change


@dataclass(frozen=True)
class UserEnabled:
    username: str
    enabled: bool
    revoked_logins: int


@dataclass(frozen=True)
class PasswordSet:
    username: str
    revoked_logins: int


# How each audience's accounts are named: the input that names one, for AdminError.
KEY = {Audience.BACKOFFICE: "username", Audience.STOREFRONT: "email"}


def rows_of(stores: Stores | asyncpg.Pool, audience: Audience) -> AccountRows[Any]:
    pool = stores.pool if isinstance(stores, Stores) else stores
    if audience is Audience.BACKOFFICE:
        return UserRepository(pool)
    return CustomerUserRepository(pool)


async def find_account(rows: AccountRows[Any], audience: Audience, key: int | str) -> Any:
    """The account `key` names: its id, or its login (username or email) by any spelling."""
    found = await rows.get(key) if isinstance(key, int) else await rows.find_row(key)
    if found is None:
        who = "user" if audience is Audience.BACKOFFICE else "customer user"
        raise NotFound((KEY[audience],), f"no {who} {key!r}")
    return found


async def list_accounts(
    pool: asyncpg.Pool,
    audience: Audience,
    offset: int = 0,
    limit: int = 20,
    search: str | None = None,
) -> AccountPage:
    """A page of accounts by id; `search`: a part of the username or email, any case."""
    checked(offset, limit)
    rows, total = await rows_of(pool, audience).page(offset, limit, search or None)
    return AccountPage([AccountView.of(r) for r in rows], total)


async def show_account(pool: asyncpg.Pool, audience: Audience, key: int | str) -> AccountView:
    return AccountView.of(await find_account(rows_of(pool, audience), audience, key))


async def revoke_logins(stores: Stores, account: User | CustomerUser, generation: int) -> int:
    """Revoke in Redis the logins of an account whose generation Postgres just bumped."""
    metrics.count(metrics.REVOCATIONS, "owner")
    return await stores.tokens.revoke_owner(account.account.subject, generation)


async def update_account(
    stores: Stores,
    audience: Audience,
    key: int | str,
    changes: dict[str, Any],
    by: str = "command line",
) -> AccountChanged:
    """Change names, a user's email, `enabled` (disabling revokes the account's tokens)."""
    rows = rows_of(stores, audience)
    unknown = set(changes) - rows.CHANGEABLE
    if unknown:
        raise AdminError(tuple(sorted(unknown)), "cannot be changed")
    found = await find_account(rows, audience, key)
    updated = await rows.update(found.id, changes)
    if updated is None:  # deleted meanwhile
        raise NotFound((KEY[audience],), f"no account {key!r}")
    revoked = 0
    if changes.get("enabled") is False:
        revoked = await revoke_logins(stores, updated, updated.token_generation)
    audit(
        "account.changed",
        account=updated.account.subject.claim,
        fields=",".join(sorted(changes)),
        revoked_logins=revoked,
        by=by,
    )
    return AccountChanged(AccountView.of(updated), revoked)


async def set_password(
    stores: Stores,
    passwords: Passwords,
    audience: Audience,
    key: int | str,
    password: str,
    by: str = "command line",
) -> AccountChanged:
    """A new password; the account's tokens are revoked."""
    password_hash = await hashed(passwords, password)
    rows = rows_of(stores, audience)
    found = await find_account(rows, audience, key)
    generation = await rows.set_password_hash(found.id, password_hash)
    if generation is None:  # deleted meanwhile
        raise NotFound((KEY[audience],), f"no account {key!r}")
    revoked = await revoke_logins(stores, found, generation)
    audit("account.password_set", account=found.account.subject.claim, by=by)
    return AccountChanged(AccountView.of(found), revoked)


async def delete_account(
    stores: Stores, audience: Audience, key: int | str, by: str = "command line"
) -> AccountChanged:
    """Revoke the account's tokens, then delete it (and the clients acting as it)."""
    rows = rows_of(stores, audience)
    found = await find_account(rows, audience, key)
    generation = await rows.revoke_tokens(found.id)
    revoked = 0 if generation is None else await revoke_logins(stores, found, generation)
    if not await rows.delete(found.id):
        raise NotFound((KEY[audience],), f"no account {key!r}")
    audit("account.deleted", account=found.account.subject.claim, revoked_logins=revoked, by=by)
    return AccountChanged(AccountView.of(found), revoked)


async def set_user_enabled(
    stores: Stores, username: str, enabled: bool, by: str = "command line"
) -> UserEnabled:
    changed = await update_account(stores, Audience.BACKOFFICE, username, {"enabled": enabled}, by)
    return UserEnabled(username, enabled, changed.revoked_logins)


async def set_user_password(
    stores: Stores, passwords: Passwords, username: str, password: str, by: str = "command line"
) -> PasswordSet:
    changed = await set_password(stores, passwords, Audience.BACKOFFICE, username, password, by)
    return PasswordSet(username, changed.revoked_logins)
