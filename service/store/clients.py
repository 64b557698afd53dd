"""OAuth clients in Postgres. Secrets are stored only as digests."""

from __future__ import annotations

import asyncpg

from service.oauth.entities import Client
from service.oauth.model import Audience, GrantType
from service.store.errors import translated

_COLUMNS = (
    "client_id, secret_digest, name, audience, grants, active, confidential, "
    "owner_user_id, owner_customer_user_id, can_introspect"
)


def _client(row: asyncpg.Record) -> Client:
    values = dict(row)
    # The schema's CHECKs allow only the enums' values.
    values["audience"] = Audience(values["audience"])
    values["grants"] = tuple(GrantType(g) for g in values["grants"])
    return Client(**values)


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

    async def create(self, client: Client) -> Client:
        with translated("oauth_clients"):
            row = await self._pool.fetchrow(
                "INSERT INTO oauth_clients (client_id, secret_digest, name, audience, grants, "
                "active, confidential, owner_user_id, owner_customer_user_id, can_introspect) "
                f"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {_COLUMNS}",
                client.client_id,
                client.secret_digest,
                client.name,
                client.audience,
                list(client.grants),
                client.active,
                client.confidential,
                client.owner_user_id,
                client.owner_customer_user_id,
                client.can_introspect,
            )
        assert row is not None
        return _client(row)

    async def set_active(self, client_id: str, active: bool) -> bool:
        with translated("oauth_clients"):
            status = await self._pool.execute(
                "UPDATE oauth_clients SET active = $2 WHERE client_id = $1", client_id, active
            )
        return bool(status == "UPDATE 1")
