"""The asyncpg pool and the migration runner."""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from service.config import DatabaseSettings
from service.store.errors import StoreUnavailable, translated

log = logging.getLogger(__name__)
# Any constant works; it serialises concurrent `migrate` runs (several replicas starting).
_MIGRATION_LOCK = 0x6F726F74


def hide_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def find_login(
    pool: asyncpg.Pool, table: str, fold: str, match: str, login: str
) -> tuple[dict[str, Any] | None, str]:
    """The row `match` finds for the login ($1), if any, and the login as the SQL expression
    `fold` folds it: both from Postgres, so whoever keys on the folded login keys on the very
    spelling the lookup compared."""
    with translated(table):
        row = await pool.fetchrow(
            f"SELECT {fold} AS folded, m.* FROM ({match}) m RIGHT JOIN (SELECT) one ON true",
            login,
        )
    assert row is not None  # the join answers one row, found or not
    found = dict(row)
    folded = found.pop("folded")
    return (None if found["id"] is None else found), folded


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Replaces asyncpg's reset on release (advisory unlocks, CLOSE ALL, UNLISTEN, RESET ALL:
    a round trip per query). The service sets no session state, takes no session locks and
    listens to nothing, so there is nothing to reset."""


def connect_options(db: DatabaseSettings) -> dict[str, Any]:
    """Options for every connection. Behind PgBouncer in transaction mode two statements of
    one connection may reach different servers, so no prepared statement may outlive its
    query: asyncpg's statement cache goes off and it prepares each query unnamed."""
    return {"statement_cache_size": 0} if db.pgbouncer else {}


async def create_pool(db: DatabaseSettings, *, require: bool = True) -> asyncpg.Pool:
    """A pool, checked with one query. With require=False a Postgres that is down only gets
    a warning and an empty pool: requests answer 503 until it is back."""

    def pool(min_size: int) -> asyncpg.Pool:
        return asyncpg.create_pool(
            db.url,
            min_size=min_size,
            max_size=db.pool_max_size,
            timeout=db.timeout,
            command_timeout=db.timeout,
            reset=_keep_session,
            **connect_options(db),
        )

    try:
        with translated("postgres"):
            ready = await pool(db.pool_min_size)
            await ready.fetchval("SELECT 1")
    except StoreUnavailable:
        if require:
            raise
        log.warning("postgres unavailable at start", extra={"dsn": hide_password(db.url)})
        return await pool(0)
    log.info("postgres pool open", extra={"dsn": hide_password(db.url)})
    return ready


async def delete_expired(pool: asyncpg.Pool, table: str, key: str, expiry: str) -> int:
    """Delete the rows of `table` whose `expiry` column is past, in batches of 10,000 (no
    long lock, however many there are); return how many."""
    batch, deleted = 10_000, 0
    with translated(table):
        while True:
            status = await pool.execute(
                f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} "
                f"WHERE {expiry} < now() ORDER BY {expiry} LIMIT $1)",
                batch,
            )
            count = int(status.split()[-1])
            deleted += count
            if count < batch:
                return deleted


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files("service.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply the migrations not yet recorded, all in one transaction; return their names."""
    applied: list[str] = []
    with translated("migrate"):
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
            await conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    integer PRIMARY KEY,
                       name       text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, name, sql in _migrations():
                if version in done:
                    continue
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", version, name
                )
                applied.append(name)
    return applied
