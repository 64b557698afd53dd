"""Creating back-office users and customer users; lifting an account's lockout."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from service.admin.errors import AdminError
from service.admin.stores import Stores
from service.oauth.model import VISITOR_PREFIX, Audience, Subject
from service.oauth.owners import find_login
from service.oauth.passwords import Passwords
from service.oauth.protection import account
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
class UserEnabled:
    username: str
    enabled: bool
    revoked_logins: int


@dataclass(frozen=True)
class PasswordSet:
    username: str
    revoked_logins: int


async def set_user_enabled(stores: Stores, username: str, enabled: bool) -> UserEnabled:
    """Disabling bumps the user's token generation with `enabled = false` (one UPDATE),
    then revokes its logins in Redis."""
    user = await UserRepository(stores.pool).set_enabled(username, enabled)
    if user is None:
        raise AdminError(("username",), f"no user {username!r}")
    revoked = 0
    if not enabled:
        revoked = await stores.tokens.revoke_owner(
            Subject.user(user.username), user.token_generation
        )
    return UserEnabled(username, enabled, revoked)


async def set_user_password(
    stores: Stores, passwords: Passwords, username: str, password: str
) -> PasswordSet:
    password_hash = await hashed(passwords, password)
    users = UserRepository(stores.pool)
    user = await users.find_for_login(username)
    if user is None or user.username != username:
        raise AdminError(("username",), f"no user {username!r}")
    generation = await users.set_password_hash(user.id, password_hash)
    if generation is None:  # deleted meanwhile
        raise AdminError(("username",), f"no user {username!r}")
    revoked = await stores.tokens.revoke_owner(Subject.user(user.username), generation)
    return PasswordSet(username, revoked)
