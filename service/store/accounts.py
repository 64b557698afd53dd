"""What logging in and revoking need of an account table, shared by back-office users and
storefront customer users."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, Protocol, TypeVar

import asyncpg

from service.oauth.entities import Account, Standing
from service.oauth.model import Audience, Subject
from service.store.errors import translated
from service.store.revocations import revocation_columns, standing


class _Row(Protocol):
    @property
    def account(self) -> Account: ...


R = TypeVar("R", bound=_Row)


class AccountRows(Generic[R]):
    """Rows of `_TABLE` (`_COLUMNS` of them make an `_ENTITY`); `_SUBJECT` is the SQL
    condition matching a subject's name ($1), `_SEARCHED` the columns a search looks in.
    Implements service.oauth.ports.Accounts over the subclass's `_find_login`, and what an
    operator does to an account."""

    _TABLE: str
    _SUBJECT: str
    _COLUMNS: str
    _SEARCHED: tuple[str, ...]
    _ENTITY: type[R]
    # What an operator may change in place: never the subject (a customer user's email),
    # which every live token names.
    CHANGEABLE: frozenset[str]
    audience: Audience

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    def _made(self, row: asyncpg.Record | None) -> R | None:
        return None if row is None else self._ENTITY(**dict(row))

    async def get(self, row_id: int) -> R | None:
        with translated(self._TABLE):
            row = await self._pool.fetchrow(
                f"SELECT {self._COLUMNS} FROM {self._TABLE} WHERE id = $1", row_id
            )
        return self._made(row)

    async def _find_login(self, login: str) -> tuple[R | None, str]:
        raise NotImplementedError

    async def find_row(self, login: str) -> R | None:
        """The account a login names, by any spelling."""
        return (await self._find_login(login))[0]

    async def page(self, offset: int, limit: int, search: str | None = None) -> tuple[list[R], int]:
        """Accounts by id, and how many there are; with `search`, those with it in one of
        the `_SEARCHED` columns, in any case."""
        where = " OR ".join(f"strpos(lower({c}), lower($1)) > 0" for c in self._SEARCHED)
        where = f"($1::text IS NULL OR {where})"
        with translated(self._TABLE):
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(
                    f"SELECT {self._COLUMNS} FROM {self._TABLE} WHERE {where} "
                    "ORDER BY id OFFSET $2 LIMIT $3",
                    search,
                    offset,
                    limit,
                )
                total = await conn.fetchval(
                    f"SELECT count(*) FROM {self._TABLE} WHERE {where}", search
                )
        return [self._ENTITY(**dict(r)) for r in rows], int(total)

    async def update(self, row_id: int, changes: Mapping[str, Any]) -> R | None:
        """Set the CHANGEABLE columns given; disabling also bumps the token generation."""
        names = sorted(changes)
        assert set(names) <= self.CHANGEABLE, names
        sets = "".join(f", {n} = ${i}" for i, n in enumerate(names, start=2))
        bump = ""
        if changes.get("enabled") is False:
            bump = ", token_generation = token_generation + 1"
        with translated(self._TABLE):
            row = await self._pool.fetchrow(
                f"UPDATE {self._TABLE} SET updated_at = now(){sets}{bump} WHERE id = $1 "
                f"RETURNING {self._COLUMNS}",
                row_id,
                *(changes[n] for n in names),
            )
        return self._made(row)

    async def set_password_hash(self, row_id: int, password_hash: str) -> int | None:
        """The operator's new password: bumps the token generation; returns the new one."""
        with translated(self._TABLE):
            generation: int | None = await self._pool.fetchval(
                f"UPDATE {self._TABLE} SET password_hash = $2, updated_at = now(), "
                "token_generation = token_generation + 1 WHERE id = $1 "
                "RETURNING token_generation",
                row_id,
                password_hash,
            )
        return generation

    async def delete(self, row_id: int) -> bool:
        with translated(self._TABLE):
            status = await self._pool.execute(f"DELETE FROM {self._TABLE} WHERE id = $1", row_id)
        return bool(status == "DELETE 1")

    async def find_login(self, login: str) -> tuple[Account | None, str]:
        row, folded = await self._find_login(login)
        return (None if row is None else row.account), folded

    async def account(self, account_id: int) -> Account | None:
        row = await self.get(account_id)
        return None if row is None else row.account

    async def rehash(self, account_id: int, verified_hash: str, password_hash: str) -> bool:
        """Replace the hash a login verified with a stronger one of the same password. A
        compare-and-set: a hash changed meanwhile (an operator's new password) stays."""
        with translated(self._TABLE):
            status = await self._pool.execute(
                f"UPDATE {self._TABLE} SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
                account_id,
                verified_hash,
                password_hash,
            )
        return bool(status == "UPDATE 1")

    async def revoke_tokens(self, account_id: int) -> int | None:
        """Bump the account's token generation: every token issued before is refused a
        refresh. Returns the new generation (None: no such account)."""
        with translated(self._TABLE):
            generation: int | None = await self._pool.fetchval(
                f"UPDATE {self._TABLE} SET token_generation = token_generation + 1 "
                "WHERE id = $1 RETURNING token_generation",
                account_id,
            )
        return generation

    async def standing(self, subject: Subject, client_id: str, family: str) -> Standing | None:
        """What a refresh of `subject`'s token of `family` must know, in one query; None
        if the account is gone."""
        with translated(self._TABLE):
            row = await self._pool.fetchrow(
                f"SELECT enabled, token_generation, {revocation_columns('$2', '$3')} "
                f"FROM {self._TABLE} WHERE {self._SUBJECT}",
                subject.name,
                client_id,
                family,
            )
        return standing(row)
