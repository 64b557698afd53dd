"""What the command line does. Each command prints a line for people or JSON with --json."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg

from service import embedded
from service.config import EMBEDDED, Settings, replace
from service.oauth import keys
from service.oauth.clients import digest, new_client_id, new_secret
from service.oauth.entities import Client
from service.oauth.model import VISITOR_PREFIX, Audience, GrantType
from service.oauth.passwords import Passwords
from service.store import pg
from service.store.clients import ClientRepository
from service.store.customers import CustomerUserRepository, VisitorRepository
from service.store.errors import StoreError
from service.store.revocations import RevocationRepository
from service.store.users import UserRepository

log = logging.getLogger(__name__)


class CommandError(Exception):
    """Shown to the user as it is, with exit status 2."""


def out(as_json: bool, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data) if as_json else text)


def with_embedded(settings: Settings) -> Settings:
    """Start the embedded servers the config asks for and point the settings at them."""
    var = Path(settings.server.var_dir)
    changes: dict[str, dict[str, Any]] = {}
    if settings.database.url == EMBEDDED:
        changes["database"] = {"url": embedded.postgres(var / "postgres")}
    if settings.redis.url == EMBEDDED:
        changes["redis"] = {"url": embedded.redis(var / "redis")}
    return replace(settings, **changes) if changes else settings


def read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat: ") != password:
            raise CommandError("passwords differ")
    if len(password) < 8:
        raise CommandError("password: at least 8 characters")
    return password


async def _connect(settings: Settings) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(
            settings.database.url,
            timeout=settings.database.timeout,
            **pg.connect_options(settings.database),
        )
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise CommandError(f"database.url: cannot connect ({type(exc).__name__})") from None


async def migrate(settings: Settings) -> list[str]:
    conn = await _connect(settings)
    try:
        return await pg.migrate(conn)
    finally:
        await conn.close()


def generate_key(settings: Settings, algorithm: str | None) -> str:
    return keys.generate(settings.tokens.keys_dir, algorithm or settings.tokens.algorithm)


def ensure_key(settings: Settings) -> str | None:
    """Generate a key if the keys folder has none; return the new kid, if any."""
    if any(Path(settings.tokens.keys_dir).glob("*.pem")):
        return None
    return generate_key(settings, None)


async def hash_password(settings: Settings, password: str) -> str:
    passwords = Passwords(settings.password_hashing)
    try:
        return await passwords.hash(password)
    finally:
        passwords.close()


@contextlib.asynccontextmanager
async def postgres(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A small pool for one command; a store error inside becomes the command's error."""
    try:
        pool = await pg.create_pool(replace(settings, database={"pool_min_size": 1}).database)
    except StoreError as exc:
        raise CommandError(f"database.url: cannot connect ({exc})") from None
    try:
        yield pool
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    finally:
        await pool.close()


async def create_user(
    settings: Settings, username: str, email: str, password: str, first: str, last: str
) -> dict[str, Any]:
    if username.startswith(VISITOR_PREFIX):
        # A storefront guest's subject: tokens of such a user would pass for a guest's.
        raise CommandError(f"--username: names starting with {VISITOR_PREFIX!r} are reserved")
    password_hash = await hash_password(settings, password)
    async with postgres(settings) as pool:
        user = await UserRepository(pool).create(username, email, password_hash, first, last)
    return {"id": user.id, "username": user.username, "email": user.email}


async def create_customer_user(
    settings: Settings, email: str, password: str, first: str, last: str
) -> dict[str, Any]:
    password_hash = await hash_password(settings, password)
    async with postgres(settings) as pool:
        customer = await CustomerUserRepository(pool).create(email, password_hash, first, last)
    return {"id": customer.id, "email": customer.email}


async def cleanup(settings: Settings) -> dict[str, Any]:
    async with postgres(settings) as pool:
        deleted = await VisitorRepository(pool).delete_expired()
        families = await RevocationRepository(pool).delete_expired()
    return {"deleted_visitors": deleted, "deleted_revoked_logins": families}


async def create_client(
    settings: Settings,
    name: str,
    audience: str,
    grants: tuple[str, ...],
    public: bool,
    owner_username: str | None,
    owner_email: str | None = None,
    can_introspect: bool = False,
) -> dict[str, Any]:
    unknown = set(grants) - set(GrantType)
    if unknown:
        raise CommandError(f"--grants: unknown {', '.join(sorted(unknown))}")
    secret = None if public else new_secret()
    if owner_username and owner_email:
        raise CommandError("--owner-user and --owner-customer-user: give one owner at most")
    if "client_credentials" in grants and (public or not (owner_username or owner_email)):
        raise CommandError(
            "--grants client_credentials: needs a secret and an owner "
            "(--owner-user or --owner-customer-user)"
        )
    async with postgres(settings) as pool:
        owner_id = customer_owner_id = None
        if owner_username is not None:
            owner = await UserRepository(pool).find_for_login(owner_username)
            if owner is None:
                raise CommandError(f"--owner-user: no user {owner_username!r}")
            owner_id = owner.id
        if owner_email is not None:
            customer = await CustomerUserRepository(pool).find_by_email(owner_email)
            if customer is None:
                raise CommandError(f"--owner-customer-user: no customer user {owner_email!r}")
            customer_owner_id = customer.id
        client = await ClientRepository(pool).create(
            Client(
                client_id=new_client_id(),
                secret_digest=None if secret is None else digest(secret),
                name=name,
                audience=Audience(audience),
                grants=tuple(GrantType(g) for g in grants),
                active=True,
                confidential=not public,
                owner_user_id=owner_id,
                owner_customer_user_id=customer_owner_id,
                can_introspect=can_introspect,
            )
        )
    return {
        "client_id": client.client_id,
        "client_secret": secret,
        "name": client.name,
        "audience": client.audience,
        "grants": list(client.grants),
    }


def run(coro: Any) -> Any:
    return asyncio.run(coro)
