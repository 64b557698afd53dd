"""The schema and the housekeeping every instance also does on its own."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from service.store import pg
from service.store.customers import VisitorRepository
from service.store.revocations import RevocationRepository


@dataclass(frozen=True)
class Cleaned:
    deleted_visitors: int
    deleted_revoked_logins: int


async def migrate(conn: asyncpg.Connection) -> list[str]:
    """Apply the migrations not yet applied; return their names."""
    return await pg.migrate(conn)


async def cleanup(pool: asyncpg.Pool) -> Cleaned:
    """Delete the visitors whose tokens can no longer be refreshed, and the revoked logins
    none of whose refresh tokens can live any more."""
    deleted = await VisitorRepository(pool).delete_expired()
    families = await RevocationRepository(pool).delete_expired()
    return Cleaned(deleted, families)
