"""RFC 7009 revocation and RFC 7662 introspection. A client may act only on its own tokens;
a client flagged `can_introspect` (a resource server) may introspect anyone's."""

from __future__ import annotations

from typing import Any

from service import metrics
from service.oauth.audit import Caller, audit
from service.oauth.entities import Client
from service.oauth.errors import InvalidToken
from service.oauth.model import Claims, TokenKind
from service.oauth.ports import TokenRecords
from service.oauth.revocations import Revocations
from service.oauth.tokens import TokenCodec


class TokenAdmin:
    def __init__(self, codec: TokenCodec, store: TokenRecords, revocations: Revocations) -> None:
        self._codec = codec
        self._store = store
        self._revocations = revocations

    def _read(self, token: str) -> Claims | None:
        """The token's claims, if it is ours and in time. (A token_type_hint would only
        save a lookup: RFC 7009 §2.1 lets the server ignore it.)"""
        try:
            return self._codec.read(token)
        except InvalidToken:
            return None

    async def revoke(self, client: Client, token: str, caller: Caller) -> None:
        """Revoke if it is the client's live token; say nothing either way (RFC 7009 §2.2)."""
        claims = self._read(token)
        if claims is None or claims.client_id != client.client_id:
            return
        if claims.kind is TokenKind.REFRESH:
            # RFC 7009 §2.1: revoking a refresh token also revokes its grant's access tokens.
            revoked = await self._revocations.revoke_family(claims)
        else:
            revoked = await self._store.revoke_access(claims)
        if revoked:
            metrics.count(metrics.REVOCATIONS, claims.kind.value)
            audit(
                "token.revoked",
                caller,
                token_type=claims.kind.value,
                client_id=client.client_id,
                subject=claims.subject.claim,
            )

    async def introspect(self, client: Client, token: str) -> dict[str, Any]:
        claims = self._read(token)
        if claims is None:
            return {"active": False}
        if claims.client_id != client.client_id and not client.can_introspect:
            return {"active": False}
        if not await self._store.is_live(claims):
            return {"active": False}
        return {
            "active": True,
            "scope": " ".join(claims.scopes),
            "client_id": claims.client_id,
            "username": claims.subject.claim,
            "sub": claims.subject.claim,
            "aud": claims.client_id,
            "iss": self._codec.issuer,
            "token_type": "Bearer" if claims.kind is TokenKind.ACCESS else claims.kind.value,
            "exp": claims.expires_at,
            "iat": claims.issued_at,
            "nbf": claims.issued_at,
            "jti": claims.jti,
            "realm": claims.audience.value,
        }
