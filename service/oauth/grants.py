"""The grants of the token endpoint. Each one validates the request, authenticates the
resource owner, and issues tokens (the shape of authlib's and league's grants)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from service.oauth.clients import ClientAuthenticator, credentials
from service.oauth.errors import InvalidCredentials, InvalidRequest, UnsupportedGrantType
from service.oauth.passwords import Passwords
from service.oauth.tokens import Issued, TokenCodec
from service.store.clients import Client
from service.store.tokens import TokenStore
from service.store.users import UserRepository

MAX_PARAM = 4096


def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value or len(value) > MAX_PARAM:
        raise InvalidRequest.parameter(name)
    return value


class Grant(Protocol):
    grant_type: str

    async def respond(self, client: Client, params: Mapping[str, str]) -> Issued: ...


class Issuer:
    """Mints a token pair and records it in Redis: returned only once recorded."""

    def __init__(self, codec: TokenCodec, store: TokenStore) -> None:
        self.codec = codec
        self.store = store

    async def issue(
        self, client: Client, subject: str, *, family: str | None = None, refresh: bool = True
    ) -> Issued:
        issued = self.codec.mint(
            client.client_id, subject, client.audience, family=family, with_refresh=refresh
        )
        await self.store.record(issued.access, issued.refresh)
        return issued


class PasswordGrant:
    grant_type = "password"

    def __init__(self, users: UserRepository, passwords: Passwords, issuer: Issuer) -> None:
        self._users = users
        self._passwords = passwords
        self._issuer = issuer

    async def respond(self, client: Client, params: Mapping[str, str]) -> Issued:
        username, password = self.validate(params)
        subject = await self.authenticate(client, username, password)
        return await self._issuer.issue(client, subject)

    def validate(self, params: Mapping[str, str]) -> tuple[str, str]:
        return required(params, "username"), required(params, "password")

    async def authenticate(self, client: Client, username: str, password: str) -> str:
        """The token subject for these credentials; one failure answer for every miss."""
        if client.audience != "backoffice":
            await self._passwords.verify(None, password)
            raise InvalidCredentials()
        user = await self._users.find_for_login(username)
        if not await self._passwords.verify(user.password_hash if user else None, password):
            raise InvalidCredentials()
        assert user is not None
        if not user.enabled:
            raise InvalidCredentials(hint="Account is disabled.")
        if self._passwords.needs_rehash(user.password_hash):
            new_hash = await self._passwords.hash(password)
            await self._users.set_password_hash(user.id, new_hash)
        return user.username


class TokenEndpoint:
    def __init__(self, clients: ClientAuthenticator, grants: list[Grant]) -> None:
        self._clients = clients
        self._grants = {g.grant_type: g for g in grants}

    async def token(self, params: Mapping[str, str], basic: tuple[str, str] | None) -> Issued:
        grant_type = params.get("grant_type")
        if not grant_type:
            raise InvalidRequest.parameter("grant_type")
        grant = self._grants.get(grant_type)
        if grant is None:
            raise UnsupportedGrantType(hint="Check that all required parameters have been provided")
        client = await self._clients.authenticate(credentials(params, basic), grant_type)
        return await grant.respond(client, params)
