"""What the service runs on: Postgres and Redis (BENCH_DATABASE_URL / BENCH_REDIS_URL, else
the machine's servers on 127.0.0.1, else embedded ones), a throwaway database and Redis key
prefix, a generated config, a signing key and seed data. Everything the service stores is
made through its own command line, so the bench needs no knowledge of its tables."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis
import yaml

from service.config import Settings, load
from service.dev import embedded

LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LOCAL_REDIS = "redis://127.0.0.1:6379/0"
ACCOUNT_FAILURES = 1_000
UNREACHABLE_RATE = 10**9  # requests per minute per address


class SetupError(Exception):
    """The bench could not build what it measures."""


def clean_env() -> dict[str, str]:
    """The environment for the service's processes: SERVICE_* variables would override the
    generated config (and point the bench at someone's real database)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SERVICE_")}


@dataclass(frozen=True)
class Backends:
    postgres: str  # a server URL whose database we may CREATE DATABASE from
    redis: str
    origin: str  # where they came from, for the report


def _postgres_answers(url: str) -> bool:
    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=2)
        await conn.close()

    try:
        asyncio.run(probe())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


def _redis_answers(url: str) -> bool:
    try:
        with redis.Redis.from_url(url, socket_connect_timeout=2) as client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def _embedded_home() -> Path:
    """A folder for embedded servers. Removed at exit, after the servers stop: atexit runs
    handlers last-registered first, and theirs are registered after this one."""
    home = Path(tempfile.mkdtemp(prefix="bench-embedded-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    return home


def _pick(
    name: str, variable: str, local: str, answers: Callable[[str], bool], start: Callable[[], str]
) -> tuple[str, str]:
    """The server named by `variable`, else the local one if it answers, else an embedded
    one: its URL and where it came from."""
    if url := os.environ.get(variable):
        return url, f"{name} from {variable}"
    if answers(local):
        return local, f"{name} on {urlsplit(local).netloc.rpartition('@')[2]}"
    return start(), f"embedded {name}"


def pick_backends() -> Backends:
    pg_url, pg_origin = _pick(
        "postgres",
        "BENCH_DATABASE_URL",
        LOCAL_POSTGRES,
        _postgres_answers,
        lambda: embedded.postgres(_embedded_home()),
    )
    redis_url, redis_origin = _pick(
        "redis",
        "BENCH_REDIS_URL",
        LOCAL_REDIS,
        _redis_answers,
        lambda: embedded.redis(_embedded_home(), persist=False),
    )
    return Backends(pg_url, redis_url, f"{pg_origin}, {redis_origin}")


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A new empty database `bench_<random>`, dropped on the way out."""
    name = f"bench_{secrets.token_hex(4)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_url, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(server_url, name)
    finally:
        # FORCE: a worker killed mid-query may leave a session behind.
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def delete_keys(url: str, prefix: str) -> int:
    deleted = 0
    with redis.Redis.from_url(url) as client:
        batch: list[bytes] = []
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            batch.append(key)
            if len(batch) == 1000:
                deleted += client.unlink(*batch)
                batch.clear()
        if batch:
            deleted += client.unlink(*batch)
    return deleted


def _has_key(section: str, key: str) -> bool:
    """Whether this version of the service knows `section.key` (it refuses unknown keys)."""
    default = getattr(Settings(), section, None)
    return default is not None and hasattr(default, key)


def write_config(
    base: Path, target: Path, *, port: int, database: str, redis_url: str, prefix: str, tmp: Path
) -> Settings:
    """The repository's config with only what the bench must own replaced: so hashing
    parameters, pool sizes and any limits are the ones the service really ships with."""
    raw: dict[str, Any] = yaml.safe_load(base.read_text(encoding="utf-8")) or {}

    def section(name: str) -> dict[str, Any]:
        value = raw.get(name)
        raw[name] = value = dict(value) if isinstance(value, dict) else {}
        return value

    section("server").update(host="127.0.0.1", port=port, workers=2, var_dir=str(tmp / "var"))
    section("database").update(url=database)
    section("redis").update(url=redis_url, key_prefix=prefix)
    section("tokens").update(keys_dir=str(tmp / "keys"), issuer=f"http://127.0.0.1:{port}")
    # No periodic visitor cleanup in the middle of a measurement.
    section("maintenance").update(cleanup_interval=0)
    # All of wrk's connections come from one address. Lifted, not turned off (0): the
    # limiters still run on every request, so their cost is measured.
    for rate in ("requests_per_minute", "guest_logins_per_minute"):
        if _has_key("protection", rate):
            section("protection")[rate] = UNREACHABLE_RATE
    # The password row's connections all log in as one user, and an account's password
    # checks in flight are bounded by its failure limit (each could be a wrong guess): a
    # limit above the row's connections keeps them from queueing behind each other. The
    # reservation still runs on every login, so its cost is measured.
    if _has_key("protection", "max_account_failures"):
        section("protection")["max_account_failures"] = ACCOUNT_FAILURES
    target.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return load(target, env={})


class Cli:
    """`python -m service --config <generated> --json ...`, as an operator would run it."""

    def __init__(self, config: Path) -> None:
        self.config = config

    def __call__(self, *args: str, stdin: str | None = None) -> dict[str, Any]:
        argv = [sys.executable, "-m", "service", "--config", str(self.config), "--json", *args]
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            argv, input=stdin, capture_output=True, text=True, env=clean_env(), timeout=120
        )
        if done.returncode != 0:
            raise SetupError(f"service {' '.join(args)}: {done.stderr.strip()[-1000:]}")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result


@dataclass(frozen=True)
class Client:
    client_id: str
    secret: str


@dataclass(frozen=True)
class Seed:
    username: str
    password: str
    user_id: int
    backoffice: Client  # password, refresh_token, client_credentials; owned by the user
    storefront: Client  # password (guests), refresh_token
    victim: tuple[str, str]  # another back-office user (username, password): the flood's victim
    # authorization_code, refresh_token, skipping consent; None when the service lacks the flow
    code_client: Client | None


def _code_client(cli: Cli, redirect_uri: str) -> Client | None:
    """A back-office client for the code exchange row, or None if this version of the
    service has no authorization code flow (its command line refuses the flags)."""
    args = ["clients", "create", "--name", "bench code", "--redirect-uri", redirect_uri]
    args += ["--grants", "authorization_code,refresh_token", "--skip-consent"]
    try:
        made = cli(*args)
    except SetupError as exc:
        if any(s in str(exc) for s in ("No such option", "unrecognized arguments")):
            return None
        raise
    return Client(made["client_id"], made["client_secret"])


def prepare(cli: Cli, algorithm: str | None, redirect_uri: str) -> Seed:
    """Migrations, a key, two users, a customer user and three clients (one redirects to
    `redirect_uri`). Independent steps run side by side: each is a fresh interpreter, and
    its startup is most of its cost."""
    username, password = "u", secrets.token_urlsafe(12)
    keygen = ["keys", "generate", *(["--algorithm", algorithm] if algorithm else [])]
    user = ["users", "create", "--username", username, "--email", "u@example.com"]
    customer = ["customer-users", "create", "--email", "c@example.com"]
    storefront = ["clients", "create", "--name", "bench storefront", "--audience", "storefront"]
    storefront += ["--grants", "password,refresh_token"]
    backoffice = ["clients", "create", "--name", "bench back-office", "--owner-user", username]
    backoffice += ["--grants", "password,refresh_token,client_credentials"]
    with ThreadPoolExecutor(4) as pool:
        key_made = pool.submit(cli, *keygen)
        cli("migrate")
        user_made = pool.submit(cli, *user, "--password-stdin", stdin=password + "\n")
        other = secrets.token_urlsafe(12) + "\n"
        customer_made = pool.submit(cli, *customer, "--password-stdin", stdin=other)
        front = pool.submit(cli, *storefront)
        code = pool.submit(_code_client, cli, redirect_uri)
        victim = ("v", secrets.token_urlsafe(12))
        victim_user = ["users", "create", "--username", victim[0], "--email", "v@example.com"]
        victim_made = pool.submit(cli, *victim_user, "--password-stdin", stdin=victim[1] + "\n")
        user_id = int(user_made.result()["id"])
        back = cli(*backoffice)  # it names the user as its owner
        key_made.result()
        customer_made.result()
        front_client = front.result()
        victim_made.result()
    return Seed(
        username=username,
        password=password,
        user_id=user_id,
        backoffice=Client(back["client_id"], back["client_secret"]),
        storefront=Client(front_client["client_id"], front_client["client_secret"]),
        victim=victim,
        code_client=code.result(),
    )
