"""Back-office users in Postgres."""

from __future__ import annotations

import asyncpg

from service.oauth.entities import User
from service.oauth.model import Audience
from service.store.accounts import AccountRows
from service.store.errors import translated
from service.store.pg import find_login

_COLUMNS = (
    "id, username, email, first_name, last_name, password_hash, enabled, created_at, "
    "token_generation"
)


def _user(row: asyncpg.Record | None) -> User | None:
    return None if row is None else User(**dict(row))


class UserRepository(AccountRows):
    """Implements service.oauth.ports.Accounts (back-office) and UserDirectory."""

    _TABLE = "users"
    _SUBJECT = "username = $1"  # a back-office token's subject is the username
    audience = Audience.BACKOFFICE

    async def find_for_login(self, login: str) -> User | None:
        return (await self._find_login(login))[0]

    async def _find_login(self, login: str) -> tuple[User | None, str]:
        """The user whose username is `login`, or whose email is `login` in any case; and
        `login` folded as the lookup matches it (an email by lower(), a username as it is)."""
        found, folded = await find_login(
            self._pool,
            "users",
            "CASE WHEN strpos($1, '@') > 0 THEN lower($1) ELSE $1 END",
            f"SELECT {_COLUMNS} FROM users WHERE username = $1 "
            f"UNION ALL SELECT {_COLUMNS} FROM users WHERE lower(email) = lower($1) LIMIT 1",
            login,
        )
        return (None if found is None else User(**found)), folded

    async def get(self, row_id: int) -> User | None:
        with translated("users"):
            row = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM users WHERE id = $1",
                row_id,
            )
        return _user(row)

    async def page(self, offset: int, limit: int) -> tuple[list[User], int]:
        with translated("users"):
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(
                    f"SELECT {_COLUMNS} FROM users ORDER BY id OFFSET $1 LIMIT $2",
                    offset,
                    limit,
                )
                total = await conn.fetchval("SELECT count(*) FROM users")
        return [User(**dict(r)) for r in rows], int(total)

    async def create(
        self,
        username: str,
        email: str,
        password_hash: str,
        first_name: str = "",
        last_name: str = "",
    ) -> User:
        with translated("users"):
            row = await self._pool.fetchrow(
                "INSERT INTO users (username, email, password_hash, first_name, last_name) "
                f"VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}",
                username,
                email,
                password_hash,
                first_name,
                last_name,
            )
        assert row is not None
        return User(**dict(row))

    async def set_enabled(self, username: str, enabled: bool) -> User | None:
        """Enable or disable the user; disabling also bumps its token generation."""
        with translated("users"):
            row = await self._pool.fetchrow(
                "UPDATE users SET enabled = $2, updated_at = now(), "
                "token_generation = token_generation + CASE WHEN $2 THEN 0 ELSE 1 END "
                f"WHERE username = $1 RETURNING {_COLUMNS}",
                username,
                enabled,
            )
        return _user(row)

    async def set_password_hash(self, user_id: int, password_hash: str) -> int | None:
        """The operator's new password: bumps the token generation; returns the new one."""
        with translated("users"):
            generation: int | None = await self._pool.fetchval(
                "UPDATE users SET password_hash = $2, updated_at = now(), "
                "token_generation = token_generation + 1 WHERE id = $1 "
                "RETURNING token_generation",
                user_id,
                password_hash,
            )
        return generation
