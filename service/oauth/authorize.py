"""The authorize endpoint's rules (RFC 6749 §4.1, RFC 7636, as Oro serves them): which
requests are answered with an error page and which are sent back to the client with an
error, and the codes it issues."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from service.oauth.audit import Caller, audit
from service.oauth.bearer import BearerVerifier
from service.oauth.clients import ClientAuthenticator
from service.oauth.entities import Client, CodeGrant
from service.oauth.errors import (
    AccessDenied,
    InvalidCredentials,
    InvalidRequest,
    InvalidScope,
    InvalidToken,
    OAuthError,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from service.oauth.grants import MAX_PARAM
from service.oauth.logins import PasswordLogin
from service.oauth.model import Audience, GrantType
from service.oauth.owners import Grantee, Owners
from service.oauth.pkce import Method, challenge_method
from service.oauth.ports import AuthorizationCodes, Visitors
from service.oauth.protection import Admission, Guard
from service.oauth.tokens import new_id

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
AUTHORIZE = "/oauth2-token/authorize"
VISITOR = "/oauth2-token/authorize-visitor"


@dataclass(frozen=True)
class AuthorizationRequest:
    client: Client
    redirect_uri: str
    redirect_given: bool
    state: str | None
    scopes: tuple[str, ...]
    challenge: str | None
    challenge_method: Method | None
    visitor_token: str | None  # storefront: the guest's access token, to carry its cart over


class PageError(Exception):
    """Shown to the person as a page, never redirected: the client or its redirect URI
    cannot be trusted with an answer (RFC 6749 §4.1.2.1; no open redirect)."""


def location(redirect_uri: str, params: Mapping[str, str | None]) -> str:
    """The redirect URI with `params` added to its query (RFC 6749 §3.1.2 keeps its own)."""
    parts = urlsplit(redirect_uri)
    added = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))


class Redirect(Exception):
    """An error sent back to the client's redirect URI, with the request's state."""

    def __init__(self, error: OAuthError, redirect_uri: str, state: str | None) -> None:
        super().__init__(error.error)
        self.error = error
        body = error.body()
        self.location = location(
            redirect_uri,
            {
                "error": error.error,
                "error_description": body["error_description"],
                "hint": body.get("hint"),
                "state": state,
            },
        )


def _param(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is not None and (len(value) > MAX_PARAM or "\x00" in value):
        raise InvalidRequest.parameter(name)
    return value or None


class Authorizer:
    def __init__(
        self,
        clients: ClientAuthenticator,
        codes: AuthorizationCodes,
        owners: Owners,
        visitors: Visitors,
        bearer: BearerVerifier,
        guard: Guard,
        code_lifetime: int,
    ) -> None:
        self._login = PasswordLogin(owners, guard)
        self._clients = clients
        self._codes = codes
        self._owners = owners
        self._visitors = visitors
        self._bearer = bearer
        self._guard = guard
        self._code_lifetime = code_lifetime

    async def _client(self, params: Mapping[str, str], audience: Audience) -> Client:
        try:
            client_id = _param(params, "client_id")
        except InvalidRequest:
            client_id = None
        if client_id is None:
            raise PageError("The request names no client (client_id).")
        client = await self._clients.find(client_id)
        if client is None or not client.active:
            raise PageError("The client is unknown.")
        if client.audience is not audience:
            other = "back-office" if client.audience is Audience.BACKOFFICE else "storefront"
            raise PageError(f"This client signs in on the {other} login page.")
        return client

    async def validate(self, params: Mapping[str, str], audience: Audience) -> AuthorizationRequest:
        """The request, if it is one this server answers with a code; PageError for what is
        shown as a page, Redirect for every other error."""
        client = await self._client(params, audience)
        try:
            given = _param(params, "redirect_uri")
        except InvalidRequest:
            raise PageError("The redirect URI is not valid.") from None
        if given is None:
            if len(client.redirect_uris) != 1:
                raise PageError("The request names no redirect URI (redirect_uri).")
            redirect_uri = client.redirect_uris[0]
        elif given in client.redirect_uris:  # exact strings, as RFC 9700 §4.1.3 asks
            redirect_uri = given
        else:
            raise PageError("The redirect URI is not registered for this client.")
        try:
            state = _param(params, "state")
        except InvalidRequest as exc:
            raise Redirect(exc, redirect_uri, None) from None
        try:
            return self._checked(client, params, audience, redirect_uri, given is not None, state)
        except OAuthError as exc:
            raise Redirect(exc, redirect_uri, state) from None

    def _checked(
        self,
        client: Client,
        params: Mapping[str, str],
        audience: Audience,
        redirect_uri: str,
        redirect_given: bool,
        state: str | None,
    ) -> AuthorizationRequest:
        response_type = _param(params, "response_type")
        if response_type is None:
            raise InvalidRequest.parameter("response_type")
        if response_type != "code":
            raise UnsupportedResponseType()
        if GrantType.AUTHORIZATION_CODE not in client.grants:
            raise UnauthorizedClient()
        scopes = tuple((_param(params, "scope") or "").split())
        if not all(_SCOPE_TOKEN.fullmatch(s) for s in scopes):
            raise InvalidScope(hint="Check the `scope` parameter")
        challenge = _param(params, "code_challenge")
        method = None
        if challenge is not None:
            method = challenge_method(
                challenge, _param(params, "code_challenge_method"), client.allow_plain_pkce
            )
        elif not client.confidential:
            raise InvalidRequest(hint="Code challenge must be provided for public clients")
        visitor_token = None
        if audience is Audience.STOREFRONT:
            visitor_token = _param(params, "visitor_access_token")
        return AuthorizationRequest(
            client,
            redirect_uri,
            redirect_given,
            state,
            tuple(dict.fromkeys(scopes)),
            challenge,
            method,
            visitor_token,
        )

    async def log_in(
        self, audience: Audience, username: str, password: str, admission: Admission
    ) -> Grantee:
        """The login form: counted in the address's request rate, then checked as the
        password grant checks (one failure count per account and address, one lockout)."""
        await self._guard.admit(admission)
        if not username or not password or len(username) > MAX_PARAM or len(password) > MAX_PARAM:
            raise InvalidCredentials()
        return await self._login.authenticate(audience, username, password, admission)

    async def current(self, grantee: Grantee) -> Grantee | None:
        """The session's person, if the account still may log in as it did."""
        return await self._owners.current(grantee)

    async def grant(self, request: AuthorizationRequest, grantee: Grantee, caller: Caller) -> str:
        """A new code for the grantee: where to send the browser."""
        code = secrets.token_urlsafe(32)  # 256 random bits
        visitor = await self._former_visitor(request, grantee)
        bound = CodeGrant(
            client_id=request.client.client_id,
            redirect_uri=request.redirect_uri,
            redirect_given=request.redirect_given,
            challenge=request.challenge,
            challenge_method=request.challenge_method,
            subject=grantee.subject,
            generation=grantee.generation,
            scopes=request.scopes,
            visitor=visitor,
            family=new_id(),
        )
        await self._codes.save(code, bound, self._code_lifetime)
        audit(
            "code.issued",
            caller,
            client_id=request.client.client_id,
            subject=grantee.subject.claim,
            visitor=visitor,
        )
        return location(request.redirect_uri, {"code": code, "state": request.state})

    async def _former_visitor(self, request: AuthorizationRequest, grantee: Grantee) -> str | None:
        """The visitor whose access token came with the request, now this customer user;
        a token that is not a live guest's is ignored: the login goes on without a cart."""
        if request.visitor_token is None or grantee.subject.is_visitor:
            return None
        try:
            claims = await self._bearer.verify(request.visitor_token, Audience.STOREFRONT)
        except InvalidToken:
            return None
        if not claims.subject.is_visitor:
            return None
        visitor = claims.subject.name
        await self._visitors.became(visitor, grantee.subject)
        return visitor

    def deny(self, request: AuthorizationRequest) -> str:
        """The person pressed Deny (Oro's grantAccess=false)."""
        error = AccessDenied(hint="The user denied the request")
        return Redirect(error, request.redirect_uri, request.state).location

    async def visitor(self, request: AuthorizationRequest, admission: Admission) -> str:
        """A code for a new storefront visitor, no login (Oro's authorizeVisitorAction):
        counted in the guest login rate, as guest/guest is."""
        await self._guard.admit(admission, guest=True)
        grantee = await self._owners.visitor()
        return await self.grant(request, grantee, admission.caller)
