"""Creating OAuth clients (the secret is shown once, only its digest is kept), deactivating
and activating them."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from service.admin.errors import AdminError
from service.admin.stores import Stores
from service.admin.tokens import revoke_client_tokens
from service.oauth.clients import digest, new_client_id, new_secret
from service.oauth.entities import Client
from service.oauth.model import Audience, GrantType
from service.store.clients import ClientRepository
from service.store.customers import CustomerUserRepository
from service.store.users import UserRepository


@dataclass(frozen=True)
class CreatedClient:
    client_id: str
    client_secret: str | None  # None: a public client
    name: str
    audience: str
    grants: list[str]


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
) -> CreatedClient:
    """`owner_user` (a back-office username) or `owner_customer_user` (an email): whom the
    client's client_credentials tokens act as."""
    unknown = set(grants) - set(GrantType)
    if unknown:
        raise AdminError(("grants",), f"unknown {', '.join(sorted(unknown))}")
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
            raise AdminError(("owner_user",), f"no user {owner_user!r}")
        owner_id = owner.id
    if owner_customer_user is not None:
        customer = await CustomerUserRepository(pool).find_by_email(owner_customer_user)
        if customer is None:
            raise AdminError(("owner_customer_user",), f"no customer user {owner_customer_user!r}")
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
        )
    )
    # Plain strings: the result is printed as it is, or as JSON.
    grant_names = [str(g) for g in client.grants]
    return CreatedClient(client.client_id, secret, client.name, str(client.audience), grant_names)


async def set_client_active(stores: Stores, client_id: str, active: bool) -> ClientActive:
    """Deactivating refuses the client and revokes its tokens (see revoke_client_tokens);
    activating accepts it again, its revoked tokens staying revoked."""
    if active:
        found = await ClientRepository(stores.pool).set_active(client_id, True)
        revoked_before = None
    else:
        revoked_before = await revoke_client_tokens(stores, client_id, deactivate=True)
        found = revoked_before is not None
    if not found:
        raise AdminError(("client_id",), f"no client {client_id!r}")
    return ClientActive(client_id, active, revoked_before)
