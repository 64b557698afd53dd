"""Client authentication: credentials from the body or HTTP Basic, secrets as digests."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from service.cache import Cache
from service.oauth.entities import Client
from service.oauth.errors import InvalidClient, InvalidRequest
from service.oauth.model import GrantType
from service.oauth.ports import Clients

_NO_DIGEST = bytes(32)
# An active client's row is reused for this long (every grant and introspection needs it,
# and a Postgres round trip costs more than the rest of the check). Deactivating a client
# revokes its tokens up to this far ahead, so what an instance still issues from a stale
# row is dead on arrival; an inactive or unknown client is never cached.
CACHE_SECONDS = 2
CACHE_SIZE = 1024


def new_client_id() -> str:
    return secrets.token_hex(16)


def new_secret() -> str:
    """256 random bits. Stored only as `digest(secret)`."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    # A fast hash is enough: the secret is random and 256 bits long, so nothing can be
    # guessed from its digest, and checking it costs the event loop nothing.
    return hashlib.sha256(secret.encode("utf-8")).digest()


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str | None
    client_secret: str | None
    basic: bool


def credentials(params: Mapping[str, str], basic: tuple[str, str] | None) -> ClientCredentials:
    """Who the request says it is. Body and Basic may both be used only if they agree."""
    body_id, body_secret = params.get("client_id"), params.get("client_secret")
    if basic is None:
        return ClientCredentials(body_id, body_secret, basic=False)
    basic_id, basic_secret = basic
    if body_id is not None and body_id != basic_id:
        raise InvalidRequest.parameter("client_id")
    if body_secret is not None and not hmac.compare_digest(
        body_secret.encode(), basic_secret.encode()
    ):
        raise InvalidRequest.parameter("client_secret")
    return ClientCredentials(basic_id, basic_secret, basic=True)


class ClientAuthenticator:
    def __init__(self, clients: Clients, clock: Callable[[], float] = time.monotonic) -> None:
        self._clients = clients
        self._cache: Cache[str, Client] = Cache(CACHE_SIZE, CACHE_SECONDS, clock)

    async def _get(self, client_id: str) -> Client | None:
        cached = self._cache.get(client_id)
        if cached is not None:
            return cached
        client = await self._clients.get(client_id)
        if client is not None and client.active:
            self._cache.put(client_id, client)
        else:
            self._cache.pop(client_id)
        return client

    def known(self, client_id: str) -> Client | None:
        """The client's row if this worker has it at hand (no I/O), unauthenticated."""
        return self._cache.get(client_id)

    async def find(self, client_id: str) -> Client | None:
        """The client, whatever its state (the authorize pages name it without a secret)."""
        return await self._get(client_id)

    async def authenticate(self, creds: ClientCredentials, grant_type: GrantType | None) -> Client:
        """The client, if its credentials are right, it is active and (when a grant type is
        given) allowed that grant; else InvalidClient."""
        if creds.client_id is None:
            raise InvalidRequest.parameter("client_id")
        if not creds.client_id:  # given but empty: league looks it up, and finds no one
            raise InvalidClient(basic=creds.basic)
        client = await self._get(creds.client_id)
        # Compare even when there is nothing to compare with, so timing says nothing.
        presented = digest(creds.client_secret or "")
        stored = client.secret_digest if client and client.secret_digest else _NO_DIGEST
        secret_ok = creds.client_secret is not None and hmac.compare_digest(presented, stored)
        if client is None or (client.confidential and not secret_ok):
            raise InvalidClient(basic=creds.basic)
        if not client.active or (grant_type is not None and grant_type not in client.grants):
            raise InvalidClient(basic=creds.basic)
        return client
