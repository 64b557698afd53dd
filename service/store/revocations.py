"""What Postgres remembers of revocations, so that a Redis restored from an older copy (a
crash before its append-only file was synced, a failover to a lagging replica) brings no
revoked login back: owners' token generations (columns of users and customer_users),
clients' `revoked_before` (a column of oauth_clients), and logins revoked one at a time
(this table, a row per family until its last refresh token has expired). A refresh reads
all of it with its owner's row, in one query."""

from __future__ import annotations

import asyncpg

from service.oauth.entities import Standing
from service.store.errors import translated
from service.store.pg import delete_expired


def revocation_columns(client_param: str, family_param: str) -> str:
    """SELECT columns giving `client_revoked_before` and `family_revoked` of the query's
    client id and family parameters."""
    return (
        "(SELECT revoked_before FROM oauth_clients "
        f"WHERE client_id = {client_param}) AS client_revoked_before, "
        f"EXISTS (SELECT 1 FROM revoked_families WHERE family = {family_param}) "
        "AS family_revoked"
    )


def standing(row: asyncpg.Record | None) -> Standing | None:
    if row is None:
        return None
    return Standing(
        enabled=row["enabled"],
        generation=row["token_generation"],
        client_revoked_before=row["client_revoked_before"],
        family_revoked=row["family_revoked"],
    )


class RevocationRepository:
    """Implements service.oauth.ports.RevokedLogins."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def revoke_family(self, family: str, lifetime: int) -> None:
        """Refuse every refresh of the family for `lifetime` more seconds (its refresh
        tokens' longest life); after that, cleanup removes the row."""
        with translated("revoked_families"):
            await self._pool.execute(
                "INSERT INTO revoked_families (family, until) "
                "VALUES ($1, now() + make_interval(secs => $2)) "
                "ON CONFLICT (family) DO UPDATE SET until = "
                "greatest(revoked_families.until, excluded.until)",
                family,
                lifetime,
            )

    async def revoke_client(self, client_id: str, until: int, deactivate: bool) -> bool:
        """Refuse the client's tokens issued up to the unix second `until` (and, with
        `deactivate`, the client itself); False if there is no such client."""
        with translated("oauth_clients"):
            status = await self._pool.execute(
                "UPDATE oauth_clients SET revoked_before = greatest(revoked_before, $2), "
                "active = active AND NOT $3 WHERE client_id = $1",
                client_id,
                until,
                deactivate,
            )
        return bool(status == "UPDATE 1")

    async def delete_expired(self) -> int:
        """Delete the rows of families none of whose refresh tokens can live any more."""
        return await delete_expired(self._pool, "revoked_families", "family", "until")
