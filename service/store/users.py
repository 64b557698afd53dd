"""Back-office users in Postgres."""

from __future__ import annotations

from service.oauth.entities import User
from service.oauth.model import Audience
from service.store.accounts import AccountRows
from service.store.errors import translated
from service.store.pg import find_login

_COLUMNS = (
    "id, username, email, first_name, last_name, password_hash, enabled, created_at, "
    "token_generation"
)


class UserRepository(AccountRows[User]):
    """Implements service.oauth.ports.Accounts (back-office) and UserDirectory."""

    _TABLE = "users"
    _SUBJECT = "username = $1"  # a back-office token's subject is the username
    _COLUMNS = _COLUMNS
    _SEARCHED = ("username", "email")
    _ENTITY = User
    CHANGEABLE = frozenset({"email", "first_name", "last_name", "enabled"})
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
