"""Storefront people in Postgres: customer users (log in by email) and guest visitors."""

from __future__ import annotations

import asyncpg

from service.oauth.entities import CustomerUser, Standing, Visitor
from service.oauth.model import Audience, Subject
from service.store.accounts import AccountRows
from service.store.errors import translated
from service.store.pg import delete_expired, find_login
from service.store.revocations import revocation_columns, standing

_COLUMNS = "id, email, first_name, last_name, password_hash, enabled, created_at, token_generation"


class CustomerUserRepository(AccountRows[CustomerUser]):
    """Implements service.oauth.ports.Accounts (storefront) and CustomerDirectory."""

    _TABLE = "customer_users"
    _SUBJECT = "lower(email) = lower($1)"  # as the unique index folds them
    _COLUMNS = _COLUMNS
    _SEARCHED = ("email",)
    _ENTITY = CustomerUser
    CHANGEABLE = frozenset({"first_name", "last_name", "enabled"})
    audience = Audience.STOREFRONT

    async def find_by_email(self, email: str) -> CustomerUser | None:
        return (await self._find_login(email))[0]

    async def _find_login(self, email: str) -> tuple[CustomerUser | None, str]:
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


class VisitorRepository:
    """Implements service.oauth.ports.Visitors."""

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

    async def extend(
        self, session_id: str, lifetime: int, client_id: str = "", family: str = ""
    ) -> Standing | None:
        """Make the row last at least `lifetime` more seconds (a new refresh token lives
        that long); None if it is gone. A row written gets a tenth more than it needs, so
        most refreshes find it lasting long enough and write nothing: they make one plain
        query, which also reads what a refresh must know of the client's and the family's
        revocation; only a row that would die first is written, by a second one (an UPDATE
        in the same statement cost Postgres about as much again on every refresh)."""
        with translated("customer_visitors"):
            row = await self._pool.fetchrow(
                "SELECT id, expires_at < now() + make_interval(secs => $2) AS short, "
                "true AS enabled, 0::bigint AS token_generation, "
                f"{revocation_columns('$3', '$4')} FROM customer_visitors "
                "WHERE session_id = $1",
                session_id,
                lifetime,
                client_id,
                family,
            )
            if row is not None and row["short"]:
                await self._pool.execute(
                    "UPDATE customer_visitors SET "
                    "expires_at = now() + make_interval(secs => $3) "
                    "WHERE id = $1 AND expires_at < now() + make_interval(secs => $2)",
                    row["id"],
                    lifetime,
                    _with_slack(lifetime),
                )
        return standing(row)

    async def delete(self, session_id: str) -> None:
        with translated("customer_visitors"):
            await self._pool.execute(
                "DELETE FROM customer_visitors WHERE session_id = $1", session_id
            )

    async def became(self, session_id: str, customer_user: Subject) -> bool:
        """Record the customer user the visitor logged in as (its first such login stays)."""
        with translated("customer_visitors"):
            status = await self._pool.execute(
                "UPDATE customer_visitors SET customer_user_id = c.id, converted_at = now() "
                "FROM customer_users c WHERE session_id = $1 AND lower(c.email) = lower($2) "
                "AND customer_visitors.customer_user_id IS NULL",
                session_id,
                customer_user.name,
            )
        return bool(status == "UPDATE 1")

    async def delete_expired(self) -> int:
        """Delete visitors none of whose tokens can live any more; return how many."""
        return await delete_expired(self._pool, "customer_visitors", "id", "expires_at")


def _with_slack(lifetime: int) -> int:
    return lifetime + lifetime // 10
