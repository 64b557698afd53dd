"""Claims of tokens recorded straight into a token store, for the store's own tests."""

from __future__ import annotations

from service.oauth.model import Claims, TokenKind
from service.oauth.ports import Owner, TokenRecord


def claims_for(
    record: TokenRecord, owner: Owner, kind: TokenKind = TokenKind.ACCESS, issued_at: int = 0
) -> Claims:
    """The claims a token of `record`, issued to `owner` at `issued_at`, would carry."""
    return Claims(
        kind=kind,
        client_id=owner.client_id,
        subject=owner.subject,
        family=record.family,
        jti=record.jti,
        scopes=(),
        issued_at=issued_at,
        expires_at=issued_at + record.ttl,
        generation=owner.generation,
    )


def presented(record: TokenRecord, owner: Owner, issued_at: int = 0) -> Claims:
    """A refresh token of `record` presented for rotation."""
    return claims_for(record, owner, TokenKind.REFRESH, issued_at)
