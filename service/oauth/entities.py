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
    # The authorization code grant: where codes may be sent (exact strings), Oro's "skip
    # authorization" flag, and whether PKCE's `plain` method is accepted.
    redirect_uris: tuple[str, ...] = ()
    skip_consent: bool = False
    allow_plain_pkce: bool = False
    # The scopes the client may ask for; None: any (Oro's behaviour).
    scopes: tuple[str, ...] | None = None


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


@dataclass(frozen=True)
class CodeGrant:
    """What an authorization code is bound to (RFC 6749 §4.1.2, RFC 7636 §4.4)."""

    client_id: str
    redirect_uri: str
    redirect_given: bool  # the authorize request named it: the exchange must name it too
    challenge: str | None
    challenge_method: str | None
    subject: Subject
    generation: int
    scopes: tuple[str, ...]
    visitor: str | None  # a customer user's former visitor (visitor_access_token)
    family: str  # the login its tokens will be: a second use of the code revokes it


@dataclass(frozen=True)
class LoginSession:
    """A browser's session on the authorize pages: its CSRF token, and once logged in,
    whom it is (with the owner's token generation read at login)."""

    csrf: str
    subject: Subject | None = None
    generation: int = 0
