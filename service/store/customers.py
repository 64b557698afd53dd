"""Storefront people in Postgres: customer users (log in by email) and guest visitors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from service.store.errors import translated
from service.store.pg import find_login

_COLUMNS = "id, email, first_name, last_name, password_hash, enabled, created_at"


@dataclass(frozen=True)
class CustomerUser:
    id: int
    email: str
    first_name: str
    last_name: str
    password_hash: str
    enabled: bool
    created_at: datetime


@dataclass(frozen=True)
class Visitor:
    id: int
    session_id: str
    created_at: datetime
    expires_at: datetime


class CustomerUserRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def find_by_email(self, email: str) -> CustomerUser | None:
        return (await self.find_login(email))[0]

    async def find_login(self, email: str) -> tuple[CustomerUser | None, str]:
        """The customer user of this email in any case, as the unique index on lower(email)
        folds them; and the email as lower() folds it (Python's str.lower() differs, e.g. on
        "İ")."""
        found, folded = await find_login(
            self._pool,
            "customer_users",
            "lower($1)",
            f"SELECT {_COLUMNS} FROM customer_users WHERE lower(email) = lower($1)",
            email,
        )
        return (None if found is None else CustomerUser(**found)), folded

    async def get(self, customer_id: int) -> CustomerUser | None:
        with translated("customer_users"):
            row = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM customer_users WHERE id = $1", customer_id
            )
        return None if row is None else CustomerUser(**dict(row))

    async def create(
        self, email: str, password_hash: str, first_name: str = "", last_name: str = ""
    ) -> CustomerUser:
        with translated("customer_users"):
            row = await self._pool.fetchrow(
                "INSERT INTO customer_users (email, password_hash, first_name, last_name) "
                f"VALUES ($1, $2, $3, $4) RETURNING {_COLUMNS}",
                email,
                password_hash,
                first_name,
                last_name,
            )
        assert row is not None
        return CustomerUser(**dict(row))

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with translated("customer_users"):
            await self._pool.execute(
                "UPDATE customer_users SET password_hash = $2, updated_at = now() WHERE id = $1",
                user_id,
                password_hash,
            )


class VisitorRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, session_id: str, lifetime: int) -> Visitor:
        with translated("customer_visitors"):
            row = await self._pool.fetchrow(
                "INSERT INTO customer_visitors (session_id, expires_at) "
                "VALUES ($1, now() + make_interval(secs => $2)) "
                "RETURNING id, session_id, created_at, expires_at",
                session_id,
                _with_slack(lifetime),
            )
        assert row is not None
        return Visitor(**dict(row))

    async def get(self, session_id: str) -> Visitor | None:
        with translated("customer_visitors"):
            row = await self._pool.fetchrow(
                "SELECT id, session_id, created_at, expires_at FROM customer_visitors "
                "WHERE session_id = $1",
                session_id,
            )
        return None if row is None else Visitor(**dict(row))

    async def extend(self, session_id: str, lifetime: int) -> bool:
        """Make the row last at least `lifetime` more seconds (a new refresh token lives
        that long); False if it is gone. A row written gets a tenth more than it needs, so
        most refreshes find it lasting long enough and write nothing."""
        with translated("customer_visitors"):
            found = await self._pool.fetchval(
                "WITH visitor AS (SELECT id, expires_at FROM customer_visitors "
                "WHERE session_id = $1), "
                "extended AS (UPDATE customer_visitors SET "
                "expires_at = now() + make_interval(secs => $3) "
                "WHERE id = (SELECT id FROM visitor) "
                "AND expires_at < now() + make_interval(secs => $2)) "
                "SELECT count(*) FROM visitor",
                session_id,
                lifetime,
                _with_slack(lifetime),
            )
        return bool(found)

    async def delete(self, session_id: str) -> None:
        with translated("customer_visitors"):
            await self._pool.execute(
                "DELETE FROM customer_visitors WHERE session_id = $1", session_id
            )

    async def delete_expired(self, batch: int = 10_000) -> int:
        """Delete visitors none of whose tokens can live any more; return how many."""
        deleted = 0
        with translated("customer_visitors"):
            while True:
                status = await self._pool.execute(
                    "DELETE FROM customer_visitors WHERE id IN (SELECT id FROM customer_visitors "
                    "WHERE expires_at < now() ORDER BY expires_at LIMIT $1)",
                    batch,
                )
                count = int(status.split()[-1])
                deleted += count
                if count < batch:
                    return deleted


def _with_slack(lifetime: int) -> int:
    return lifetime + lifetime // 10
