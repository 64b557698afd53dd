"""What the stores hand the domain: clients, accounts and visitors as the domain sees
them. The store builds them from its rows; nothing here knows where they are kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.oauth.model import Audience, GrantType, Subject


@dataclass(frozen=True)
class Client:
    client_id: str
    secret_digest: bytes | None
    name: str
    audience: Audience
    grants: tuple[GrantType, ...]
    active: bool
    confidential: bool
    owner_user_id: int | None
    owner_customer_user_id: int | None
    can_introspect: bool = False
    # Its own token lifetimes in seconds; None: config.yml's.
    access_token_lifetime: int | None = None
    refresh_token_lifetime: int | None = None
    admin: bool = False  # its client_credentials tokens may call the admin API


@dataclass(frozen=True)
class Account:
    """What logging in needs of a back-office user or a customer user."""

    id: int
    subject: Subject
    password_hash: str
    enabled: bool
    generation: int


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    password_hash: str
    enabled: bool
    created_at: datetime
    token_generation: int = 0  # bumped by every revocation of all the user's tokens

    @property
    def account(self) -> Account:
        subject = Subject.user(self.username)
        return Account(self.id, subject, self.password_hash, self.enabled, self.token_generation)


@dataclass(frozen=True)
class CustomerUser:
    id: int
    email: str
    first_name: str
    last_name: str
    password_hash: str
    enabled: bool
    created_at: datetime
    token_generation: int = 0  # bumped by every revocation of all the customer's tokens

    @property
    def account(self) -> Account:
        subject = Subject.customer_user(self.email)
        return Account(self.id, subject, self.password_hash, self.enabled, self.token_generation)


@dataclass(frozen=True)
class Visitor:
    id: int
    session_id: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Standing:
    """A refresh token's owner row and the revocations that concern the token."""

    enabled: bool
    generation: int
    client_revoked_before: int | None  # unix second, or None: the client was never revoked
    family_revoked: bool
