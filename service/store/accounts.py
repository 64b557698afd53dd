"""What logging in and revoking need of an account table, shared by back-office users and
storefront customer users."""

from __future__ import annotations

from typing import Protocol

import asyncpg

from service.oauth.entities import Account, Standing
from service.oauth.model import Subject
from service.store.errors import translated
from service.store.revocations import revocation_columns, standing


class _Row(Protocol):
    @property
    def account(self) -> Account: ...


class AccountRows:
    """Rows of `_TABLE`; `_SUBJECT` is the SQL condition matching a subject's name ($1).
    Implements service.oauth.ports.Accounts over the subclass's `get` and `_find_login`."""

    _TABLE: str
    _SUBJECT: str

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, row_id: int) -> _Row | None:
        raise NotImplementedError

    async def _find_login(self, login: str) -> tuple[_Row | None, str]:
        raise NotImplementedError

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
