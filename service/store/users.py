"""Back-office users in Postgres."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from service.store.errors import translated
from service.store.pg import find_login

_COLUMNS = "id, username, email, first_name, last_name, password_hash, enabled, created_at"


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    password_hash: str
    enabled: bool
    created_at: datetime


def _user(row: asyncpg.Record | None) -> User | None:
    return None if row is None else User(**dict(row))


class UserRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def find_for_login(self, login: str) -> User | None:
        return (await self.find_login(login))[0]

    async def find_login(self, login: str) -> tuple[User | None, str]:
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

    async def get(self, user_id: int) -> User | None:
        with translated("users"):
            row = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM users WHERE id = $1",
                user_id,
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
        with translated("users"):
            row = await self._pool.fetchrow(
                "UPDATE users SET enabled = $2, updated_at = now() WHERE username = $1 "
                f"RETURNING {_COLUMNS}",
                username,
                enabled,
            )
        return _user(row)

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        with translated("users"):
            await self._pool.execute(
                "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
                user_id,
                password_hash,
            )
