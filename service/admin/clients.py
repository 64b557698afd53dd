"""OAuth clients: create (the secret is shown once, only its digest is kept), list, show,
change, rotate the secret, deactivate and activate, delete. Whatever stops a client's
credentials also revokes its tokens, on every instance."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from service.admin.errors import AdminError, NotFound
from service.admin.paging import MAX_PAGE
from service.admin.paging import checked as _paged
from service.admin.stores import Stores
from service.admin.tokens import revoke_client_tokens
from service.config import TokenSettings
from service.oauth.audit import audit
from service.oauth.clients import digest, new_client_id, new_secret
from service.oauth.entities import Client
from service.oauth.errors import OAuthError
from service.oauth.model import Audience, GrantType
from service.oauth.scopes import parse as parse_scopes
from service.store.clients import CHANGEABLE, ClientRepository
from service.store.customers import CustomerUserRepository
from service.store.users import UserRepository


@dataclass(frozen=True)
class CreatedClient:
    client_id: str
    client_secret: str | None  # None: a public client
    name: str
    audience: str
    grants: list[str]
    redirect_uris: list[str]
    scopes: list[str] | None  # None: any scope


@dataclass(frozen=True)
class CodeOptions:
    """What a client of the authorization code grant is created with."""

    redirect_uris: tuple[str, ...] = ()
    skip_consent: bool = False  # Oro's "skip authorization": no consent page
    allow_plain_pkce: bool = False  # code_challenge_method=plain accepted


def _check_redirect_uris(grants: Iterable[str], redirect_uris: Iterable[str]) -> None:
    """On create and on every change: checked against the grants the client has after it."""
    for uri in redirect_uris:
        parts = urlsplit(uri)
        # RFC 6749 §3.1.2: absolute, no fragment; nothing that could end a CSP directive.
        if not parts.scheme or parts.fragment or any(c in uri for c in " ;,\"'\x00"):
            raise AdminError(("redirect_uris",), f"{uri!r} is not an absolute URI without fragment")
    if GrantType.AUTHORIZATION_CODE in grants and not tuple(redirect_uris):
        raise AdminError(("redirect_uris",), "authorization_code needs at least one")


def _allowed_scopes(scopes: str | None) -> tuple[str, ...] | None:
    try:
        return None if scopes is None else parse_scopes(scopes)
    except OAuthError:
        raise AdminError(("scopes",), f"{scopes!r} is not a list of scope names") from None


@dataclass(frozen=True)
class ClientView:
    """A client as an operator sees it (never its secret nor its digest)."""

    client_id: str
    name: str
    audience: str
    grants: list[str]
    active: bool
    public: bool
    owner_user_id: int | None
    owner_customer_user_id: int | None
    can_introspect: bool
    admin: bool
    # None: config.yml's
    access_token_lifetime: int | None
    refresh_token_lifetime: int | None
    redirect_uris: list[str]
    skip_consent: bool
    allow_plain_pkce: bool
    scopes: list[str] | None  # None: any

    @classmethod
    def of(cls, client: Client) -> ClientView:
        return cls(
            client.client_id,
            client.name,
            str(client.audience),
            [str(g) for g in client.grants],
            client.active,
            not client.confidential,
            client.owner_user_id,
            client.owner_customer_user_id,
            client.can_introspect,
            client.admin,
            client.access_token_lifetime,
            client.refresh_token_lifetime,
            list(client.redirect_uris),
            client.skip_consent,
            client.allow_plain_pkce,
            None if client.scopes is None else list(client.scopes),
        )


@dataclass(frozen=True)
class RotatedSecret:
    client_id: str
    client_secret: str
    revoked_before: int


@dataclass(frozen=True)
class DeletedClient:
    client_id: str
    revoked_before: int


@dataclass(frozen=True)
class ClientActive:
    client_id: str
    active: bool
    revoked_before: int | None


async def create_client(
    pool: asyncpg.Pool,
    name: str,
    audience: str = Audience.BACKOFFICE,
    grants: tuple[str, ...] = (GrantType.PASSWORD, GrantType.REFRESH_TOKEN),
    public: bool = False,
    owner_user: str | None = None,
    owner_customer_user: str | None = None,
    can_introspect: bool = False,
    *,
    access_token_lifetime: int | None = None,
    refresh_token_lifetime: int | None = None,
    admin: bool = False,
    tokens: TokenSettings | None = None,
    by: str = "command line",
    code: CodeOptions | None = None,
    refresh: bool = True,
    scopes: str | None = None,
) -> CreatedClient:
    """`owner_user` (a back-office username) or `owner_customer_user` (an email): whom the
    client's client_credentials tokens act as. An `admin` client is a back-office
    client_credentials client whose tokens may call the admin API. `tokens`: config.yml's,
    which bound the client's own lifetimes."""
    grants = _grants(grants)
    # As Oro's isGrantSupported: a client that logs people in may refresh, unless told not.
    logs_in = {GrantType.PASSWORD, GrantType.AUTHORIZATION_CODE} & set(grants)
    if refresh and logs_in and GrantType.REFRESH_TOKEN not in grants:
        grants = (*grants, GrantType.REFRESH_TOKEN)
    if not refresh:
        grants = tuple(g for g in grants if g != GrantType.REFRESH_TOKEN)
    allowed = _allowed_scopes(scopes)
    code = code or CodeOptions()
    _check_redirect_uris(grants, code.redirect_uris)
    if audience not in tuple(Audience):
        raise AdminError(("audience",), f"one of {', '.join(Audience)}")
    _lifetimes(tokens, access_token_lifetime, refresh_token_lifetime)
    if admin and (audience != Audience.BACKOFFICE or GrantType.CLIENT_CREDENTIALS not in grants):
        raise AdminError(("admin",), "an admin client is a back-office client_credentials one")
    if owner_user and owner_customer_user:
        raise AdminError(("owner_user", "owner_customer_user"), "give one owner at most")
    if GrantType.CLIENT_CREDENTIALS in grants and (
        public or not (owner_user or owner_customer_user)
    ):
        raise AdminError(("grants",), "client_credentials needs a secret and an owner")
    owner_id = customer_owner_id = None
    if owner_user is not None:
        owner = await UserRepository(pool).find_for_login(owner_user)
        if owner is None:
            raise NotFound(("owner_user",), f"no user {owner_user!r}")
        owner_id = owner.id
    if owner_customer_user is not None:
        customer = await CustomerUserRepository(pool).find_by_email(owner_customer_user)
        if customer is None:
            raise NotFound(("owner_customer_user",), f"no customer user {owner_customer_user!r}")
        customer_owner_id = customer.id
    secret = None if public else new_secret()
    client = await ClientRepository(pool).create(
        Client(
            client_id=new_client_id(),
            secret_digest=None if secret is None else digest(secret),
            name=name,
            audience=Audience(audience),
            grants=tuple(GrantType(g) for g in grants),
            active=True,
            confidential=not public,
            owner_user_id=owner_id,
            owner_customer_user_id=customer_owner_id,
            can_introspect=can_introspect,
            access_token_lifetime=access_token_lifetime,
            refresh_token_lifetime=refresh_token_lifetime,
            admin=admin,
            redirect_uris=code.redirect_uris,
            skip_consent=code.skip_consent,
            allow_plain_pkce=code.allow_plain_pkce,
            scopes=allowed,
        )
    )
    audit("client.created", client_id=client.client_id, admin=admin or None, by=by)
    # Plain strings: the result is printed as it is, or as JSON.
    grant_names = [str(g) for g in client.grants]
    return CreatedClient(
        client.client_id,
        secret,
        client.name,
        str(client.audience),
        grant_names,
        list(client.redirect_uris),
        None if client.scopes is None else list(client.scopes),
    )


def _grants(grants: Iterable[str]) -> tuple[str, ...]:
    listed = tuple(dict.fromkeys(grants))
    unknown = set(listed) - set(GrantType)
    if unknown:
        raise AdminError(("grants",), f"unknown {', '.join(sorted(unknown))}")
    if not listed:
        raise AdminError(("grants",), "at least one")
    return listed


def _lifetimes(tokens: TokenSettings | None, *lifetimes: int | None) -> None:
    """A client's own lifetimes are at most config.yml's longest: the revocation markers and
    owner indexes in Redis live that long, and must outlive every token."""
    longest = (tokens or TokenSettings()).longest_lifetime - (tokens or TokenSettings()).leeway
    names = ("access_token_lifetime", "refresh_token_lifetime")
    for name, value in zip(names, lifetimes, strict=True):
        if value is not None and not 60 <= value <= longest:
            raise AdminError((name,), f"seconds, from 60 to {longest} (or none: config.yml's)")


@dataclass(frozen=True)
class ClientPage:
    clients: list[ClientView]
    total: int


async def list_clients(
    pool: asyncpg.Pool,
    audience: str | None = None,
    active: bool | None = None,
    offset: int = 0,
    limit: int = MAX_PAGE,
) -> ClientPage:
    """A page of clients, oldest first."""
    if audience is not None and audience not in tuple(Audience):
        raise AdminError(("audience",), f"one of {', '.join(Audience)}")
    _paged(offset, limit)
    found, total = await ClientRepository(pool).page(
        offset, limit, None if audience is None else Audience(audience), active
    )
    return ClientPage([ClientView.of(c) for c in found], total)


async def show_client(pool: asyncpg.Pool, client_id: str) -> ClientView:
    client = await ClientRepository(pool).get(client_id)
    if client is None:
        raise NotFound(("client_id",), f"no client {client_id!r}")
    return ClientView.of(client)


async def update_client(
    stores: Stores, client_id: str, changes: dict[str, Any], by: str = "command line"
) -> ClientView:
    """Change the client in place (see CHANGEABLE; a lifetime of None: config.yml's; scopes:
    space separated as on create, None: any; redirect_uris replace the list).
    Deactivating revokes its tokens; instances may use the old row for CACHE_SECONDS."""
    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise AdminError(tuple(sorted(unknown)), "cannot be changed")
    changes = dict(changes)
    current = await show_client(stores.pool, client_id)
    if "grants" in changes:
        changes["grants"] = _grants(changes["grants"])
        if GrantType.CLIENT_CREDENTIALS in changes["grants"] and (
            current.public or not (current.owner_user_id or current.owner_customer_user_id)
        ):
            raise AdminError(("grants",), "client_credentials needs a secret and an owner")
        if current.admin and GrantType.CLIENT_CREDENTIALS not in changes["grants"]:
            raise AdminError(("grants",), "an admin client keeps client_credentials")
    if "redirect_uris" in changes:
        changes["redirect_uris"] = tuple(dict.fromkeys(changes["redirect_uris"]))
    if "grants" in changes or "redirect_uris" in changes:
        _check_redirect_uris(
            changes.get("grants", current.grants),
            changes.get("redirect_uris", current.redirect_uris),
        )
    if "scopes" in changes:
        changes["scopes"] = _allowed_scopes(changes["scopes"])
    _lifetimes(
        stores.settings.tokens,
        changes.get("access_token_lifetime"),
        changes.get("refresh_token_lifetime"),
    )
    if changes.get("active") is False and current.active:
        # Refused and revoked first: no instance issues from the old row for long.
        await revoke_client_tokens(stores, client_id, deactivate=True)
    updated = await ClientRepository(stores.pool).update(client_id, changes)
    if updated is None:
        raise NotFound(("client_id",), f"no client {client_id!r}")
    audit("client.changed", client_id=client_id, fields=",".join(sorted(changes)), by=by)
    return ClientView.of(updated)


async def rotate_secret(stores: Stores, client_id: str, by: str = "command line") -> RotatedSecret:
    """A new secret; the old one stops at once. Instances may check a secret against their
    cached row for CACHE_SECONDS more, so the client's tokens are revoked up to then (a
    secret is rotated because it may have leaked: so may tokens got with it), and the new
    secret is handed out only after that, so none of its tokens falls in the window."""
    secret = new_secret()
    if not await ClientRepository(stores.pool).set_secret_digest(client_id, digest(secret)):
        raise NotFound(("client_id",), f"no confidential client {client_id!r}")
    revoked_before = await revoke_client_tokens(stores, client_id, False, ahead=True)
    assert revoked_before is not None
    await _past(revoked_before)
    audit("client.secret_rotated", client_id=client_id, before=revoked_before, by=by)
    return RotatedSecret(client_id, secret, revoked_before)


async def delete_client(stores: Stores, client_id: str, by: str = "command line") -> DeletedClient:
    """Refuse and revoke first (every instance's next request refuses its tokens), then
    delete the row."""
    revoked_before = await revoke_client_tokens(stores, client_id, deactivate=True)
    if revoked_before is None or not await ClientRepository(stores.pool).delete(client_id):
        raise NotFound(("client_id",), f"no client {client_id!r}")
    audit("client.deleted", client_id=client_id, before=revoked_before, by=by)
    return DeletedClient(client_id, revoked_before)


async def _past(second: int) -> None:
    """Wait until the unix second `second` is over: tokens issued from then on are
    accepted."""
    await asyncio.sleep(max(0.0, second + 1 - time.time()))


async def set_client_active(
    stores: Stores, client_id: str, active: bool, by: str = "command line"
) -> ClientActive:
    """Deactivating refuses the client and revokes its tokens (see revoke_client_tokens);
    activating accepts it again, its revoked tokens staying revoked."""
    if active:
        found = await ClientRepository(stores.pool).set_active(client_id, True)
        revoked_before = None
    else:
        revoked_before = await revoke_client_tokens(stores, client_id, deactivate=True)
        found = revoked_before is not None
    if not found:
        raise NotFound(("client_id",), f"no client {client_id!r}")
    audit("client.changed", client_id=client_id, fields="active", by=by)
    return ClientActive(client_id, active, revoked_before)


async def is_admin_client(pool: asyncpg.Pool, client_id: str) -> bool:
    """Read from Postgres on every call, not from any cache: an admin client deactivated or
    deleted loses the admin API at once."""
    client = await ClientRepository(pool).get(client_id)
    return client is not None and client.active and client.admin
