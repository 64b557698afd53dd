"""The schema's constraints, checked on the real Postgres."""

from __future__ import annotations

import asyncpg
import pytest

from service.store.errors import Conflict, Invalid
from service.store.users import UserRepository


async def test_user_emails_are_unique_ignoring_case(pool: asyncpg.Pool) -> None:
    users = UserRepository(pool)
    await users.create("a", "Same@Example.com", "h")
    with pytest.raises(Conflict):
        await users.create("b", "same@example.COM", "h")
    with pytest.raises(Conflict):
        await users.create("a", "other@example.com", "h")


async def test_customer_user_emails_are_unique_ignoring_case(pool: asyncpg.Pool) -> None:
    insert = "INSERT INTO customer_users (email, password_hash) VALUES ($1, 'h')"
    await pool.execute(insert, "Buyer@Shop.example")
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(insert, "buyer@shop.EXAMPLE")


async def test_bad_values_are_refused_by_the_database(pool: asyncpg.Pool) -> None:
    users = UserRepository(pool)
    with pytest.raises(Invalid):
        await users.create("", "x@example.com", "h")
    with pytest.raises(Invalid):
        await users.create("x", "not-an-email", "h")
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO oauth_clients (client_id, name, audience, confidential) "
            "VALUES ('c', 'n', 'everyone', false)"
        )
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO customer_visitors (session_id, expires_at) VALUES ('XYZ', now())"
        )


async def test_login_lookup_by_username_or_email(pool: asyncpg.Pool) -> None:
    users = UserRepository(pool)
    created = await users.create("jdoe", "John@Example.com", "h")
    assert await users.find_for_login("jdoe") == created
    assert await users.find_for_login("JOHN@example.com") == created
    assert await users.find_for_login("JDOE") is None
    assert await users.find_for_login("nobody") is None


async def test_a_visitor_row_outlives_its_newest_refresh_token(pool: asyncpg.Pool) -> None:
    from service.store.customers import VisitorRepository

    async def lasts() -> float:
        """How many more seconds the row lives."""
        left = await pool.fetchval("SELECT expires_at - now() FROM customer_visitors")
        return float(left.total_seconds())

    visitors = VisitorRepository(pool)
    created = await visitors.create("0123456789abcdef0123", 100)
    assert await lasts() == pytest.approx(110, abs=1)  # a tenth more than it must
    assert await visitors.extend(created.session_id, 100)  # a refresh right away:
    assert await pool.fetchval("SELECT expires_at FROM customer_visitors") == created.expires_at

    await pool.execute("UPDATE customer_visitors SET expires_at = now() + interval '99 s'")
    assert await visitors.extend(created.session_id, 100)  # it would die before the token
    assert await lasts() == pytest.approx(110, abs=1)
    assert not await visitors.extend("ffffffffffffffffffff", 100)
