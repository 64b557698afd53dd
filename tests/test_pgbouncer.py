"""`database.pgbouncer: true` for real: Debian's PgBouncer in transaction pooling between the
service and the test Postgres, with fewer server connections than clients so that
transactions of both instances (and of the command line) share them. Migrations (two at
once on a fresh database), every grant, the APIs, revocation and introspection on two
instances, and the admin commands, all through PgBouncer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import pytest
import yaml

from tests.conftest import FAST_HASHING, bearer
from tests.servers import pgbouncer
from tests.test_cli import cli, ok
from tests.test_scaling import _FORGET, ROOT, Instance, instances

PASSWORD = "bouncer-pass"


@pytest.fixture(scope="module")
def through(postgres_server_url: str) -> Iterator[Callable[[str], str]]:
    with pgbouncer(postgres_server_url) as through:
        yield through


@pytest.fixture(scope="module")
def config(
    tmp_path_factory: pytest.TempPathFactory,
    through: Callable[[str], str],
    database_url: str,
    redis_url: str,
    keys_dir: Path,
) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("pgbouncer")
    prefix = f"test:pgbouncer:{secrets.token_hex(4)}:"
    path = folder / "config.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "server": {"host": "127.0.0.1", "var_dir": str(folder / "var")},
                "admin": {"port": 0},
                "database": {
                    "url": through(database_url),
                    "pgbouncer": True,
                    "pool_min_size": 1,
                    "pool_max_size": 4,
                },
                "redis": {"url": redis_url, "key_prefix": prefix},
                # No refresh retry window: the reuse below is theft at once.
                "tokens": {
                    "keys_dir": str(keys_dir),
                    "issuer": "https://auth.test",
                    "refresh_reuse_interval": 0,
                },
                "password_hashing": FAST_HASHING,
                "maintenance": {"cleanup_interval": 0},
            }
        )
    )
    yield path
    subprocess.run([sys.executable, "-c", _FORGET, redis_url, prefix], check=False, timeout=30)


@pytest.fixture(scope="module")
def two(config: Path) -> Iterator[list[Instance]]:
    """Two instances of 2 workers each, on the same PgBouncer."""
    with instances(config, 2, workers=2) as running:
        yield running


def admin(config: Path, *args: str, stdin: str = "") -> Any:
    """`python -m service --json ...` (through PgBouncer, by `config`): its JSON answer."""
    return ok(cli(config, *args, stdin=stdin))


@contextlib.asynccontextmanager
async def fresh_database(server_url: str) -> Any:
    name = f"oauth_bouncer_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def test_migrations_run_through_pgbouncer_two_at_once(
    postgres_server_url: str, through: Callable[[str], str], tmp_path: Path, redis_url: str
) -> None:
    """Their advisory lock is transaction-level (pg_advisory_xact_lock): it holds behind a
    pooler that hands the session's server connection to someone else between transactions."""
    async with fresh_database(postgres_server_url) as url:
        config = tmp_path / "config.yml"
        config.write_text(
            yaml.safe_dump(
                {"database": {"url": through(url), "pgbouncer": True}, "redis": {"url": redis_url}}
            )
        )
        command = [sys.executable, "-m", "service", "--config", str(config), "--json", "migrate"]
        runs = [
            await asyncio.create_subprocess_exec(
                *command, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            for _ in range(2)
        ]
        outputs = [await run.communicate() for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
        applied = [json.loads(out)["applied"] for out, _ in outputs]
        conn = await asyncpg.connect(url)
        try:
            recorded = [r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")]
            tables = await conn.fetchval(
                "SELECT count(*) FROM pg_tables WHERE tablename IN ('users', 'oauth_clients')"
            )
        finally:
            await conn.close()
        # One run applied everything, the other found it done.
        assert sorted(applied, key=len) == [[], sorted(recorded)]
        assert tables == 2


async def post(
    http: aiohttp.ClientSession, url: str, body: dict[str, Any], path: str = "/oauth2-token"
) -> tuple[int, dict[str, Any]]:
    async with http.post(f"{url}{path}", data=body) as answer:
        return answer.status, await answer.json(content_type=None)


async def get(http: aiohttp.ClientSession, url: str, token: str) -> int:
    async with http.get(url, headers=bearer(token)) as answer:
        await answer.read()
        return answer.status


async def test_grants_apis_and_revocation_on_two_instances(
    config: Path, two: list[Instance]
) -> None:
    a, b = (i.url for i in two)
    name = f"bouncer-{secrets.token_hex(3)}"
    admin(config, "users", "create", "--username", name, "--email", f"{name}@example.com",
        "--password-stdin", stdin=f"{PASSWORD}\n")  # fmt: skip
    office = admin(config, "clients", "create", "--name", name)  # password, refresh_token
    machine = admin(config, "clients", "create", "--name", f"{name}-m",
                  "--grants", "client_credentials", "--owner-user", name)  # fmt: skip
    shop = admin(config, "clients", "create", "--name", f"{name}-s", "--audience", "storefront")

    def creds(client: dict[str, Any]) -> dict[str, str]:
        return {"client_id": client["client_id"], "client_secret": client["client_secret"]}

    login = {**creds(office), "grant_type": "password", "username": name, "password": PASSWORD}
    guest = {**creds(shop), "grant_type": "password", "username": "guest", "password": "guest"}
    async with aiohttp.ClientSession() as http:
        # Both instances at once: more transactions in flight than PgBouncer's 2 connections.
        logins = await asyncio.gather(*(post(http, (a, b)[n % 2], login) for n in range(12)))
        guests = await asyncio.gather(*(post(http, (a, b)[n % 2], guest) for n in range(12)))
        assert [s for s, _ in logins + guests] == [200] * 24, logins + guests

        pair = logins[0][1]
        assert await get(http, f"{b}/api/users", pair["access_token"]) == 200
        refresh = {**creds(office), "grant_type": "refresh_token"}
        status, rotated = await post(http, b, {**refresh, "refresh_token": pair["refresh_token"]})
        assert status == 200, rotated
        # The used refresh token, again, on the other instance: reuse revokes the family.
        status, _ = await post(http, a, {**refresh, "refresh_token": pair["refresh_token"]})
        assert status == 400
        assert await get(http, f"{a}/api/users", rotated["access_token"]) == 401

        status, owned = await post(http, a, {**creds(machine), "grant_type": "client_credentials"})
        assert status == 200, owned
        assert await get(http, f"{b}/api/users", owned["access_token"]) == 200

        visitor = guests[1][1]["access_token"]
        mine = "/storefront/api/customervisitors/mine"
        assert await get(http, f"{a}{mine}", visitor) == 200
        assert await get(http, f"{b}{mine}", visitor) == 200

        live = logins[1][1]["access_token"]
        inspect = {**creds(office), "token": live}
        assert (await post(http, a, inspect, "/oauth2-token/introspect"))[1]["active"] is True
        assert (await post(http, b, inspect, "/oauth2-token/revoke"))[0] == 200
        assert (await post(http, a, inspect, "/oauth2-token/introspect"))[1]["active"] is False
        assert await get(http, f"{a}/api/users", live) == 401


async def test_admin_commands_through_pgbouncer(config: Path, two: list[Instance]) -> None:
    a, b = (i.url for i in two)
    name = f"bouncer-{secrets.token_hex(3)}"
    admin(config, "users", "create", "--username", name, "--email", f"{name}@example.com",
        "--password-stdin", stdin=f"{PASSWORD}\n")  # fmt: skip
    first = admin(config, "clients", "create", "--name", name)
    second = admin(config, "clients", "create", "--name", f"{name}-2")
    third = admin(config, "clients", "create", "--name", f"{name}-3")

    async def tokens(client: dict[str, Any], count: int) -> list[str]:
        body = {
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "grant_type": "password",
            "username": name,
            "password": PASSWORD,
        }
        answers = [await post(http, (a, b)[n % 2], body) for n in range(count)]
        assert [s for s, _ in answers] == [200] * count, answers
        return [pair["access_token"] for _, pair in answers]

    async def refused(token: str) -> bool:
        return {await get(http, f"{url}/api/users", token) for url in (a, b)} == {401}

    async with aiohttp.ClientSession() as http:
        on_first = await tokens(first, 2)
        assert admin(config, "tokens", "revoke", "--user", name) == {"revoked_logins": 2}
        assert all([await refused(t) for t in on_first])

        on_second = await tokens(second, 2)
        admin(config, "clients", "deactivate", "--client-id", second["client_id"])
        assert all([await refused(t) for t in on_second])

        on_third = await tokens(third, 1)
        admin(config, "tokens", "revoke", "--client", third["client_id"])
        assert await refused(on_third[0])

        on_first = await tokens(first, 1)
        assert admin(config, "users", "disable", "--username", name)["enabled"] is False
        assert await refused(on_first[0])
        admin(config, "cleanup")
