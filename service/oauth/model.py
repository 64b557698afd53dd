"""The domain's vocabulary: audiences, grant types, token subjects and kinds, verified
claims. Each concept has one definition here, and every list of them comes from it; the
values of the enums are the strings of the wire and of the database."""

from __future__ import annotations

import enum
import typing
from dataclasses import dataclass
from typing import Literal

# The signing algorithms a key may use (one per key type: RSA, P-256, Ed25519); the type is
# what config.yml's schema checks tokens.algorithm against.
Algorithm = Literal["RS256", "ES256", "EdDSA"]
ALGORITHMS: tuple[str, ...] = typing.get_args(Algorithm)


class Audience(enum.StrEnum):
    """Which API a client and its tokens are for. A token carries it (its `realm` claim,
    a name kept for the tokens already issued) and every API call checks it."""

    BACKOFFICE = "backoffice"
    STOREFRONT = "storefront"


class GrantType(enum.StrEnum):
    PASSWORD = "password"  # noqa: S105 - a grant's name, not a password
    REFRESH_TOKEN = "refresh_token"  # noqa: S105 - a grant's name
    CLIENT_CREDENTIALS = "client_credentials"
    AUTHORIZATION_CODE = "authorization_code"


GRANT_TYPES = frozenset(GrantType)


class TokenKind(enum.StrEnum):
    """The RFC 7009 token type names."""

    ACCESS = "access_token"
    REFRESH = "refresh_token"


class SubjectKind(enum.Enum):
    USER = "user"  # a back-office user, by username
    CUSTOMER_USER = "customer user"  # a storefront customer user, by email
    VISITOR = "visitor"  # a storefront guest, by its visitor row's session id


VISITOR_PREFIX = "visitor:"
# The scope of an admin client's tokens: the admin API's bearer tokens must carry it.
ADMIN_SCOPE = "admin"


@dataclass(frozen=True)
class Subject:
    """Whom a token is for. In a token (`sub`) a visitor is `visitor:<session id>`; no
    customer user's email and no back-office username may take that form (the schema
    refuses them), so a storefront `sub` alone says which kind it is."""

    kind: SubjectKind
    name: str  # the username, the email, or the session id

    @classmethod
    def user(cls, username: str) -> Subject:
        return cls(SubjectKind.USER, username)

    @classmethod
    def customer_user(cls, email: str) -> Subject:
        return cls(SubjectKind.CUSTOMER_USER, email)

    @classmethod
    def visitor(cls, session_id: str) -> Subject:
        return cls(SubjectKind.VISITOR, session_id)

    @classmethod
    def from_claim(cls, audience: Audience, sub: str) -> Subject:
        """The subject of a token of `audience` whose `sub` claim is `sub`."""
        if audience is Audience.BACKOFFICE:
            return cls.user(sub)
        if sub.startswith(VISITOR_PREFIX):
            return cls.visitor(sub.removeprefix(VISITOR_PREFIX))
        return cls.customer_user(sub)

    @property
    def claim(self) -> str:
        """The `sub` claim of this subject's tokens."""
        return VISITOR_PREFIX + self.name if self.is_visitor else self.name

    @property
    def audience(self) -> Audience:
        return Audience.BACKOFFICE if self.kind is SubjectKind.USER else Audience.STOREFRONT

    @property
    def is_visitor(self) -> bool:
        return self.kind is SubjectKind.VISITOR

    def __str__(self) -> str:
        return self.claim


@dataclass(frozen=True)
class Claims:
    """A verified token's claims that the service acts on."""

    kind: TokenKind
    client_id: str
    subject: Subject
    family: str
    jti: str
    scopes: tuple[str, ...]
    issued_at: int
    expires_at: int
    # The owner's token generation at login (0 for guests, and for tokens from before
    # generations): a refresh of a token older than the owner's is refused.
    generation: int = 0
    # The session id of the storefront visitor this customer user was before logging in
    # (authorize's `visitor_access_token`), carried over by every refresh.
    visitor: str | None = None

    @property
    def audience(self) -> Audience:
        return self.subject.audience
