"""PKCE (RFC 7636) on Authlib's pure helpers: its patterns and its challenge comparisons.
(Authlib's server classes are synchronous; these functions are all the flow needs of it.)"""

from __future__ import annotations

import enum

from authlib.oauth2.rfc7636 import challenge as rfc7636

from service.oauth.errors import InvalidRequest


class Method(enum.StrEnum):
    S256 = "S256"
    PLAIN = "plain"  # only for a client created to allow it (Oro's per-client flag)


_COMPARE = {
    Method.S256: rfc7636.compare_s256_code_challenge,
    Method.PLAIN: rfc7636.compare_plain_code_challenge,
}


def challenge_method(challenge: str, method: str | None, allow_plain: bool) -> Method:
    """The method of a well-formed challenge; league's invalid_request otherwise. Without a
    method RFC 7636 §4.3 means plain."""
    if not rfc7636.CODE_CHALLENGE_PATTERN.match(challenge):
        raise InvalidRequest(hint="Code challenge must follow the specifications of RFC-7636.")
    allowed = (Method.S256, Method.PLAIN) if allow_plain else (Method.S256,)
    chosen = method or Method.PLAIN
    if chosen not in allowed:
        names = ", ".join(f"`{m}`" for m in allowed)
        raise InvalidRequest(hint=f"Code challenge method must be one of {names}")
    return Method(chosen)


def well_formed_verifier(verifier: str) -> bool:
    return bool(rfc7636.CODE_VERIFIER_PATTERN.match(verifier))


def verifies(verifier: str, challenge: str, method: str) -> bool:
    return bool(_COMPARE[Method(method)](verifier, challenge))


def s256(verifier: str) -> str:
    """The S256 challenge of a verifier (for clients and tests)."""
    return str(rfc7636.create_s256_code_challenge(verifier))
