"""Checking a bearer token presented to an API."""

from __future__ import annotations

from service.oauth.errors import InvalidToken
from service.oauth.model import Audience, Claims
from service.oauth.ports import TokenRecords
from service.oauth.tokens import TokenCodec


class BearerVerifier:
    def __init__(self, codec: TokenCodec, store: TokenRecords) -> None:
        self._codec = codec
        self._store = store

    async def verify(self, token: str, audience: Audience) -> Claims:
        """The claims of a live access token issued for `audience`; else InvalidToken."""
        claims = self._codec.read_access(token)
        # The audience is bound into the signed token: the URL the caller chose is not trusted.
        if claims.audience is not audience:
            raise InvalidToken("wrong audience")
        if not await self._store.is_live(claims):
            raise InvalidToken("revoked or expired")
        return claims
