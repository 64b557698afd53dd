"""RFC 7009 revocation and RFC 7662 introspection. A client may act only on its own tokens;
a client flagged `can_introspect` (a resource server) may introspect anyone's."""

from __future__ import annotations

from typing import Any

from service.oauth.audit import Caller, audit
from service.oauth.errors import InvalidToken
from service.oauth.revocations import Revocations
from service.oauth.tokens import ACCESS_TYP, Claims, TokenCodec
from service.store.clients import Client
from service.store.tokens import TokenStore

ACCESS, REFRESH = "access_token", "refresh_token"


class TokenAdmin:
    def __init__(self, codec: TokenCodec, store: TokenStore, revocations: Revocations) -> None:
        self._codec = codec
        self._store = store
        self._revocations = revocations

    def _read(self, token: str) -> tuple[Claims, str] | None:
        """The token's claims and kind, if it is ours and in time. (A token_type_hint
        would only save a lookup: RFC 7009 §2.1 lets the server ignore it.)"""
        try:
            typ, claims = self._codec.read(token)
        except InvalidToken:
            return None
        return claims, ACCESS if typ == ACCESS_TYP else REFRESH

    async def revoke(self, client: Client, token: str, caller: Caller) -> None:
        """Revoke if it is the client's live token; say nothing either way (RFC 7009 §2.2)."""
        found = self._read(token)
        if found is None or found[0].client_id != client.client_id:
            return
        claims, kind = found
        if kind == REFRESH:
            # RFC 7009 §2.1: revoking a refresh token also revokes its grant's access tokens.
            revoked = await self._revocations.revoke_family(claims)
        else:
            revoked = await self._store.revoke_access(claims.family, claims.jti)
        if revoked:
            audit(
                "token.revoked",
                caller,
                token_type=kind,
                client_id=client.client_id,
                subject=claims.subject,
            )

    async def introspect(self, client: Client, token: str) -> dict[str, Any]:
        found = self._read(token)
        if found is None:
            return {"active": False}
        claims, kind = found
        if claims.client_id != client.client_id and not client.can_introspect:
            return {"active": False}
        if not await self._store.usable(
            kind == REFRESH, claims.family, claims.jti, claims.client_id, claims.issued_at
        ):
            return {"active": False}
        return {
            "active": True,
            "scope": " ".join(claims.scopes),
            "client_id": claims.client_id,
            "username": claims.subject,
            "sub": claims.subject,
            "aud": claims.client_id,
            "iss": self._codec.issuer,
            "token_type": "Bearer" if kind == ACCESS else REFRESH,
            "exp": claims.expires_at,
            "iat": claims.issued_at,
            "nbf": claims.issued_at,
            "jti": claims.jti,
            "realm": claims.realm,
        }
