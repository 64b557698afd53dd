"""The authorization code grant of the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.6):
the code redeemed once, across instances; a second use revokes what the first issued."""

from __future__ import annotations

from collections.abc import Mapping

from service.oauth.audit import audit
from service.oauth.entities import Client, CodeGrant
from service.oauth.errors import InvalidGrant, InvalidRequest
from service.oauth.grants import Issuer, required
from service.oauth.model import GrantType
from service.oauth.owners import REVOKED, Grantee
from service.oauth.pkce import verifies, well_formed_verifier
from service.oauth.ports import AuthorizationCodes
from service.oauth.protection import Admission
from service.oauth.revocations import Revocations
from service.oauth.tokens import Issued

REVOKED_CODE = "Authorization code has been revoked"
VERIFIER_FAILED = "Failed to verify `code_verifier`."


def _check(bound: CodeGrant, client: Client, params: Mapping[str, str]) -> None:
    if bound.client_id != client.client_id:
        raise InvalidGrant(hint="Authorization code was not issued to this client")
    redirect_uri = params.get("redirect_uri")
    # Required as it was given; when the authorize request left it out, may still be sent.
    if (bound.redirect_given or redirect_uri is not None) and redirect_uri != bound.redirect_uri:
        raise InvalidGrant(hint="Invalid redirect URI")
    verifier = params.get("code_verifier")
    if bound.challenge is None or bound.challenge_method is None:
        if verifier is not None:  # a verifier without a challenge: a PKCE downgrade
            raise InvalidGrant(hint=VERIFIER_FAILED)
        return
    if verifier is None:
        raise InvalidRequest.parameter("code_verifier")
    if not verifies(verifier, bound.challenge, bound.challenge_method):
        raise InvalidGrant(hint=VERIFIER_FAILED)


class AuthorizationCodeGrant:
    grant_type = GrantType.AUTHORIZATION_CODE

    def __init__(self, codes: AuthorizationCodes, issuer: Issuer, revocations: Revocations) -> None:
        self._codes = codes
        self._issuer = issuer
        self._revocations = revocations

    async def respond(
        self, client: Client, params: Mapping[str, str], admission: Admission
    ) -> Issued:
        code = required(params, "code")
        verifier = params.get("code_verifier")
        if verifier is not None and not well_formed_verifier(verifier):
            raise InvalidRequest(hint="Code Verifier must follow the specifications of RFC-7636.")
        bound = await self._codes.find(code)
        if bound is None:
            raise InvalidGrant(hint="Authorization code has expired")
        # Checked before the code is used: another client, or a wrong verifier, burns nothing.
        _check(bound, client, params)
        if not await self._codes.redeem(code):
            await self._reused(bound, admission, REVOKED_CODE)
        issued = await self._issuer.issue(
            client,
            Grantee(bound.subject, bound.generation),
            admission.caller,
            with_refresh=GrantType.REFRESH_TOKEN in client.grants,
            scopes=bound.scopes,
            family=bound.family,
            visitor=bound.visitor,
        )
        # A second use that came while these were being recorded found nothing to revoke
        # yet: it marked the code, and the tokens go here.
        if await self._codes.reused(code):
            await self._reused(bound, admission, REVOKED)
        return issued

    async def _reused(self, bound: CodeGrant, admission: Admission, hint: str) -> None:
        """RFC 6749 §4.1.2: a code used twice revokes the tokens issued from it."""
        audit(
            "code.reuse_detected",
            admission.caller,
            client_id=bound.client_id,
            subject=bound.subject.claim,
            family=bound.family,
        )
        await self._revocations.revoke_login(bound.subject, bound.family)
        raise InvalidGrant(hint=hint)
