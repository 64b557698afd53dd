"""OAuth clients in Postgres. Secrets are stored only as digests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from service.oauth.entities import Client
from service.oauth.model import Audience, GrantType
from service.store.errors import translated

_FIELDS = (
    "client_id",
    "secret_digest",
    "name",
    "audience",
    "grants",
    "active",
    "confidential",
    "owner_user_id",
    "owner_customer_user_id",
    "can_introspect",
    "access_token_lifetime",
    "refresh_token_lifetime",
    "admin",
    "redirect_uris",
    "skip_consent",
    "allow_plain_pkce",
    "scopes",
)
_COLUMNS = ", ".join(_FIELDS)
# What an operator may change in place; the rest (audience, owner, secret) makes another
# client, or has an operation of its own.
CHANGEABLE = frozenset(
    {
        "name",
        "grants",
        "active",
        "access_token_lifetime",
        "refresh_token_lifetime",
        "redirect_uris",
        "skip_consent",
        "allow_plain_pkce",
        "scopes",  # None: any
    }
)


def _client(row: asyncpg.Record) -> Client:
    values = dict(row)
    # The schema's CHECKs allow only the enums' values.
    values["audience"] = Audience(values["audience"])
    values["grants"] = tuple(GrantType(g) for g in values["grants"])
    values["redirect_uris"] = tuple(values["redirect_uris"])
    if values["scopes"] is not None:
        values["scopes"] = tuple(values["scopes"])
    return Client(**values)


def _column(client: Client, name: str) -> Any:
    return _changed(name, getattr(client, name))


def _changed(name: str, value: Any) -> Any:
    if name in ("grants", "redirect_uris") or (name == "scopes" and value is not None):
        return list(value)
    return value


class ClientRepository:
    """Implements service.oauth.ports.Clients."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, client_id: str) -> Client | None:
        with translated("oauth_clients"):
            row = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM oauth_clients WHERE client_id = $1",
                client_id,
            )
        return None if row is None else _client(row)

    async def page(
        self,
        offset: int,
        limit: int,
        audience: Audience | None = None,
        active: bool | None = None,
    ) -> tuple[list[Client], int]:
        """Clients oldest first, of one audience or only (in)active ones, and how many
        there are."""
        where = "WHERE ($1::text IS NULL OR audience = $1) AND ($2::boolean IS NULL OR active = $2)"
        named = None if audience is None else str(audience)
        with translated("oauth_clients"):
            async with self._pool.acquire() as conn:
                rows = await conn.fetch(
                    f"SELECT {_COLUMNS} FROM oauth_clients {where} ORDER BY id OFFSET $3 LIMIT $4",
                    named,
                    active,
                    offset,
                    limit,
                )
                total = await conn.fetchval(
                    f"SELECT count(*) FROM oauth_clients {where}", named, active
                )
        return [_client(r) for r in rows], int(total)

    async def create(self, client: Client) -> Client:
        placeholders = ", ".join(f"${i}" for i in range(1, len(_FIELDS) + 1))
        with translated("oauth_clients"):
            row = await self._pool.fetchrow(
                f"INSERT INTO oauth_clients ({_COLUMNS}) VALUES ({placeholders}) "
                f"RETURNING {_COLUMNS}",
                *(_column(client, f) for f in _FIELDS),
            )
        assert row is not None
        return _client(row)

    async def update(self, client_id: str, changes: Mapping[str, Any]) -> Client | None:
        """Set the CHANGEABLE columns given; None: no such client."""
        names = sorted(changes)
        assert set(names) <= CHANGEABLE, names
        sets = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=2)) or "name = name"
        values = [_changed(n, changes[n]) for n in names]
        with translated("oauth_clients"):
            row = await self._pool.fetchrow(
                f"UPDATE oauth_clients SET {sets} WHERE client_id = $1 RETURNING {_COLUMNS}",
                client_id,
                *values,
            )
        return None if row is None else _client(row)

    async def set_active(self, client_id: str, active: bool) -> bool:
        with translated("oauth_clients"):
            status = await self._pool.execute(
                "UPDATE oauth_clients SET active = $2 WHERE client_id = $1", client_id, active
            )
        return bool(status == "UPDATE 1")

    async def set_secret_digest(self, client_id: str, secret_digest: bytes) -> bool:
        """A confidential client's new secret; False: no such confidential client."""
        with translated("oauth_clients"):
            status = await self._pool.execute(
                "UPDATE oauth_clients SET secret_digest = $2 WHERE client_id = $1 AND confidential",
                client_id,
                secret_digest,
            )
        return bool(status == "UPDATE 1")

    async def delete(self, client_id: str) -> bool:
        with translated("oauth_clients"):
            status = await self._pool.execute(
                "DELETE FROM oauth_clients WHERE client_id = $1", client_id
            )
        return bool(status == "DELETE 1")
