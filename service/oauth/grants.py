"""The grants of the token endpoint. Each one validates the request, authenticates the
resource owner, and issues tokens (the shape of authlib's and league's grants)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Protocol

from service import metrics
from service.oauth import scopes
from service.oauth.audit import Caller, audit
from service.oauth.clients import ClientAuthenticator, credentials
from service.oauth.entities import Client
from service.oauth.errors import (
    InvalidGrant,
    InvalidRequest,
    InvalidToken,
    StoreError,
    TokenExpired,
    UnsupportedGrantType,
    classify,
)
from service.oauth.logins import PasswordLogin
from service.oauth.model import ADMIN_SCOPE, GRANT_TYPES, GrantType
from service.oauth.owners import REVOKED, Grantee, Owners, is_guest
from service.oauth.ports import Owner, Recorded, Replayed, Rotation, TokenRecords
from service.oauth.protection import Admission, Guard
from service.oauth.retries import RetryWindow
from service.oauth.revocations import Revocations
from service.oauth.tokens import Issued, TokenCodec

log = logging.getLogger(__name__)
MAX_PARAM = 4096


def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value or len(value) > MAX_PARAM:
        raise InvalidRequest.parameter(name)
    return value


class Grant(Protocol):
    grant_type: GrantType

    async def respond(
        self, client: Client, params: Mapping[str, str], admission: Admission
    ) -> Issued: ...


class Issuer:
    """Issues a login's tokens: minted, then recorded; refused if the owner's or the
    client's tokens were revoked while the login was in flight."""

    def __init__(self, owners: Owners, codec: TokenCodec, store: TokenRecords) -> None:
        self._owners = owners
        self._codec = codec
        self._store = store

    async def issue(
        self,
        client: Client,
        grantee: Grantee,
        caller: Caller,
        *,
        with_refresh: bool,
        scopes: tuple[str, ...] = (),
        family: str | None = None,
        visitor: str | None = None,
    ) -> Issued:
        try:
            issued = self._codec.mint(
                client.client_id,
                grantee.subject,
                family=family,
                scopes=scopes,
                with_refresh=with_refresh,
                generation=grantee.generation,
                client=client,
                visitor=visitor,
            )
            owner = Owner(grantee.subject, client.client_id, grantee.generation)
            recorded = await self._store.record(
                owner, issued.access, issued.refresh, caller.started
            )
        except BaseException:
            # Not recorded means not issued: leave no visitor row behind for it.
            with contextlib.suppress(StoreError):
                await self._owners.abandon(grantee)
            raise
        if recorded is Recorded.ISSUED:
            return issued
        with contextlib.suppress(StoreError):
            await self._owners.abandon(grantee)
        if recorded is Recorded.OWNER_REVOKED:
            raise await self._owners.revoked_meanwhile(grantee)
        raise InvalidGrant(hint=REVOKED)


class PasswordGrant:
    grant_type = GrantType.PASSWORD

    def __init__(self, owners: Owners, issuer: Issuer, guard: Guard) -> None:
        self._owners = owners
        self._issuer = issuer
        self._guard = guard
        self._login = PasswordLogin(owners, guard)

    async def respond(
        self, client: Client, params: Mapping[str, str], admission: Admission
    ) -> Issued:
        username, password = required(params, "username"), required(params, "password")
        granted = scopes.granted(client, params)
        if is_guest(client.audience, username, password):
            await self._guard.admit(admission, guest=True)
            grantee = await self._owners.visitor()
        else:
            grantee = await self._login.authenticate(client.audience, username, password, admission)
        # A refresh token only for clients allowed to use it.
        with_refresh = GrantType.REFRESH_TOKEN in client.grants
        return await self._issuer.issue(
            client, grantee, admission.caller, with_refresh=with_refresh, scopes=granted
        )


class RefreshTokenGrant:
    grant_type = GrantType.REFRESH_TOKEN

    def __init__(
        self,
        owners: Owners,
        codec: TokenCodec,
        store: TokenRecords,
        revocations: Revocations,
        retries: RetryWindow,
    ) -> None:
        self._owners = owners
        self._codec = codec
        self._store = store
        self._revocations = revocations
        self._retries = retries

    async def respond(
        self, client: Client, params: Mapping[str, str], admission: Admission
    ) -> Issued:
        presented = required(params, "refresh_token")
        try:
            claims = self._codec.read_refresh(presented)
        except TokenExpired:
            raise InvalidGrant(hint="Token has expired") from None
        except InvalidToken:
            raise InvalidGrant(hint="Cannot decrypt the refresh token") from None
        if claims.client_id != client.client_id:
            raise InvalidGrant(hint="Token is not linked to client")
        granted = scopes.refreshed(client, params, claims.scopes)
        await self._owners.check(claims)
        issued = self._codec.mint(
            client.client_id,
            claims.subject,
            family=claims.family,
            scopes=granted,
            generation=claims.generation,
            client=client,
            visitor=claims.visitor,
        )
        assert issued.refresh is not None
        replay = self._retries.keep(presented, claims, issued)
        outcome = await self._store.rotate(claims, issued.access, issued.refresh, replay)
        if isinstance(outcome, Replayed):
            kept = self._retries.reopen(presented, claims, outcome.sealed)
            if kept is not None:
                metrics.count(metrics.REFRESH_REUSE, "retried")
                audit(
                    "token.refresh_retried",
                    admission.caller,
                    client_id=client.client_id,
                    subject=claims.subject.claim,
                    family=claims.family,
                )
                return kept
            outcome = Rotation.UNKNOWN  # not ours to open: no token for it
        if outcome is Rotation.REUSED:
            metrics.count(metrics.REFRESH_REUSE, "revoked")
            metrics.count(metrics.REVOCATIONS, "reuse")
            audit(
                "token.reuse_detected",
                admission.caller,
                client_id=client.client_id,
                subject=claims.subject.claim,
                family=claims.family,
            )
            await self._revocations.remember(claims)  # a guest's visitor row goes too
        if outcome is not Rotation.ROTATED:
            raise InvalidGrant(hint=REVOKED)
        return issued


class ClientCredentialsGrant:
    """The client acts as its owner (a back-office user or a customer user); no refresh."""

    grant_type = GrantType.CLIENT_CREDENTIALS

    def __init__(self, owners: Owners, issuer: Issuer) -> None:
        self._owners = owners
        self._issuer = issuer

    async def respond(
        self, client: Client, params: Mapping[str, str], admission: Admission
    ) -> Issued:
        granted = scopes.granted(client, params)
        # An admin client's tokens, and only theirs, may call the admin API.
        issued_scopes = ((ADMIN_SCOPE,) if client.admin else ()) + granted
        known = self._owners.known_owner(client)
        grantee = known or await self._owners.of_client(client)
        try:
            return await self._issue(client, grantee, admission, issued_scopes)
        except InvalidGrant:
            if known is None:
                raise
            # Refused with a row this worker read earlier: the owner's tokens may have been
            # revoked since. As its row is now (a new password, say) it may log in again;
            # disabled or deleted, that is the answer.
            current = await self._owners.of_client(client)
            if current.generation <= known.generation:
                raise
        return await self._issue(client, current, admission, issued_scopes)

    async def _issue(
        self, client: Client, grantee: Grantee, admission: Admission, issued_scopes: tuple[str, ...]
    ) -> Issued:
        return await self._issuer.issue(
            client, grantee, admission.caller, with_refresh=False, scopes=issued_scopes
        )


class TokenEndpoint:
    def __init__(self, clients: ClientAuthenticator, grants: list[Grant], guard: Guard) -> None:
        self._clients = clients
        self._grants = {g.grant_type: g for g in grants}
        self._guard = guard

    async def token(
        self, params: Mapping[str, str], basic: tuple[str, str] | None, caller: Caller
    ) -> Issued:
        grant_type = params.get("grant_type")
        try:
            client, issued = await self._respond(grant_type, params, basic, Admission(caller))
        except Exception as exc:
            refusal = classify(exc)
            audit(
                "token.refused",
                caller,
                grant_type=(grant_type or "")[:64],
                error=refusal.error,
                hint=refusal.hint,
                client_id=(params.get("client_id") or (basic or ("",))[0])[:128],
                username=(params.get("username") or "")[:255] or None,
            )
            raise
        audit(
            "token.issued",
            caller,
            grant_type=grant_type,
            client_id=client.client_id,
            subject=issued.subject.claim,
        )
        return issued

    async def _respond(
        self,
        grant_type: str | None,
        params: Mapping[str, str],
        basic: tuple[str, str] | None,
        admission: Admission,
    ) -> tuple[Client, Issued]:
        # Counted first, whatever follows: past the rate, a caller costs no Postgres query.
        await self._guard.admit(admission, guest=self._guest_login(grant_type, params, basic))
        if not grant_type:
            raise InvalidRequest.parameter("grant_type")
        grant = self._grants.get(GrantType(grant_type)) if grant_type in GRANT_TYPES else None
        if grant is None:
            raise UnsupportedGrantType(hint="Check that all required parameters have been provided")
        client = await self._clients.authenticate(credentials(params, basic), grant.grant_type)
        return client, await grant.respond(client, params, admission)

    def _guest_login(
        self, grant_type: str | None, params: Mapping[str, str], basic: tuple[str, str] | None
    ) -> bool:
        """Whether the request is a guest login of a client this worker knows already: then
        its guest login is counted with the request, in one round trip (else the password
        grant counts it once it has authenticated the client)."""
        client_id = params.get("client_id") or (basic[0] if basic else None)
        if grant_type != GrantType.PASSWORD or not client_id:
            return False
        client = self._clients.known(client_id)
        username, password = params.get("username") or "", params.get("password") or ""
        return client is not None and is_guest(client.audience, username, password)
