"""Checking a bearer token presented to an API."""

from __future__ import annotations

from service.oauth.errors import InvalidToken
from service.oauth.tokens import Claims, TokenCodec
from service.store.tokens import TokenStore


class BearerVerifier:
    def __init__(self, codec: TokenCodec, store: TokenStore) -> None:
        self._codec = codec
        self._store = store

    async def verify(self, token: str, realm: str) -> Claims:
        """The claims of a live access token issued for `realm`; else InvalidToken."""
        claims = self._codec.read_access(token)
        # The audience is bound into the signed token: the URL the caller chose is not trusted.
        if claims.realm != realm:
            raise InvalidToken("wrong audience")
        if not await self._store.usable(
            False, claims.family, claims.jti, claims.client_id, claims.issued_at
        ):
            raise InvalidToken("revoked or expired")
        return claims
