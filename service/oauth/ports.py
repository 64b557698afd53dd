"""What the domain needs of storage, one small interface per need (as league's repository
interfaces and fosite's per-flow storage). The store implements them; the domain names
its intent (`is_live(claims)`), never a key or a table. Any of them may raise the
errors of service.oauth.errors' storage section (StoreUnavailable, Invalid, ...)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from service.oauth.entities import (
    Account,
    Client,
    CodeGrant,
    CustomerUser,
    LoginSession,
    Standing,
    User,
    Visitor,
)
from service.oauth.model import Audience, Claims, Subject


@dataclass(frozen=True)
class TokenRecord:
    """An issued token as its record keeps it: its login (family), id, and lifetime."""

    family: str
    jti: str
    ttl: int


@dataclass(frozen=True)
class Owner:
    """Whose tokens a login holds, and the owner's token generation the login read with
    its account (0 for a visitor, who has none)."""

    subject: Subject
    client_id: str
    generation: int = 0


@dataclass(frozen=True)
class LiveLogin:
    """One live login of an owner, as an operator sees it (unix seconds). Logins recorded
    before the service kept their details have no client nor times."""

    family: str
    client_id: str | None
    logged_in_at: int | None
    refreshed_at: int | None  # None: never refreshed
    expires_at: int  # when its last token can last be used


class Recorded(enum.Enum):
    ISSUED = "issued"
    OWNER_REVOKED = "owner revoked"  # the owner's tokens were revoked while it logged in
    CLIENT_REVOKED = "client revoked"  # the client's tokens were revoked while it logged in


class Rotation(enum.Enum):
    ROTATED = 1  # the presented refresh token was current: a new pair replaced it
    UNKNOWN = 0  # no live login: expired, revoked, or never issued
    REUSED = -1  # an earlier refresh token of a live login: the login is now revoked


@dataclass(frozen=True)
class Replay:
    """What a rotation keeps for a retry of the same refresh token: the pair it issued,
    sealed (opaque to the store), for `window` seconds."""

    sealed: str
    window: int


@dataclass(frozen=True)
class Replayed:
    """The presented refresh token was the one rotated last, within its retry window: the
    pair that rotation issued, as it was kept; the login lives on."""

    sealed: str


class TokenRecords(Protocol):
    """A token is valid only while its record lives."""

    async def record(
        self,
        owner: Owner,
        access: TokenRecord,
        refresh: TokenRecord | None,
        started: float | None = None,
    ) -> Recorded:
        """Record a login's tokens; anything but ISSUED means they were revoked at once
        (the owner since its generation was read, the client since `started`)."""

    async def rotate(
        self,
        presented: Claims,
        access: TokenRecord,
        refresh: TokenRecord,
        replay: Replay | None = None,
    ) -> Rotation | Replayed:
        """Consume the presented refresh token and record the new pair, atomically; with
        `replay`, keep it for a retry. The token rotated last, presented again within its
        window, gets what was kept instead of revoking the login."""

    async def is_live(self, claims: Claims) -> bool:
        """The token's record lives and its client was not revoked since it was issued."""

    async def revoke_access(self, claims: Claims) -> bool:
        """Revoke one access token; True if it was live."""

    async def revoke_family(self, family: str) -> bool:
        """Revoke every token of one login; True if it had live tokens."""

    async def revoke_owner(self, subject: Subject, generation: int | None = None) -> int:
        """Revoke every login of the owner; the number that were live."""

    async def revoke_client(self, client_id: str, until: int | None = None) -> int:
        """Refuse the client's tokens issued up to `until` (default now); returns it."""


class Clients(Protocol):
    async def get(self, client_id: str) -> Client | None: ...


class Accounts(Protocol):
    """One audience's accounts: back-office users or storefront customer users."""

    @property
    def audience(self) -> Audience: ...

    async def find_login(self, login: str) -> tuple[Account | None, str]:
        """The account `login` names, if any, and `login` folded as the lookup compared it."""

    async def account(self, account_id: int) -> Account | None: ...

    async def rehash(self, account_id: int, verified_hash: str, password_hash: str) -> bool:
        """Replace the hash a login verified, unless it changed meanwhile."""

    async def standing(self, subject: Subject, client_id: str, family: str) -> Standing | None:
        """What a refresh of the subject's token of `family` must know; None: no account."""


class Visitors(Protocol):
    async def create(self, session_id: str, lifetime: int) -> Visitor: ...

    async def get(self, session_id: str) -> Visitor | None: ...

    async def extend(
        self, session_id: str, lifetime: int, client_id: str, family: str
    ) -> Standing | None:
        """Keep the visitor `lifetime` more seconds and read its standing; None: gone."""

    async def delete(self, session_id: str) -> None: ...

    async def became(self, session_id: str, customer_user: Subject) -> bool:
        """Record that the visitor logged in as the customer user; False: no such visitor
        (or no such customer user)."""


class AuthorizationCodes(Protocol):
    """Codes live in Redis, shared by every instance; each can be redeemed once."""

    async def save(self, code: str, grant: CodeGrant, ttl: int) -> None: ...

    async def find(self, code: str) -> CodeGrant | None:
        """What the code is bound to; None: expired or never issued."""

    async def redeem(self, code: str) -> bool:
        """Use the code, atomically across instances: True for its first use only. A later
        use is remembered (see `reused`)."""

    async def reused(self, code: str) -> bool:
        """Whether the code was presented again after its first use."""


class Sessions(Protocol):
    """The authorize pages' sessions, by the id their cookie holds."""

    async def load(self, session_id: str, ttl: int) -> LoginSession | None:
        """The session, its lifetime renewed; None: expired or unknown."""

    async def save(self, session_id: str, session: LoginSession, ttl: int) -> None: ...

    async def delete(self, session_id: str) -> None: ...


class RevokedLogins(Protocol):
    async def revoke_family(self, family: str, lifetime: int) -> None:
        """Refuse every refresh of the login for `lifetime` more seconds."""


class UserDirectory(Protocol):
    async def get(self, user_id: int) -> User | None: ...

    async def page(self, offset: int, limit: int) -> tuple[list[User], int]:
        """Users by id, and how many there are."""


class CustomerDirectory(Protocol):
    async def find_by_email(self, email: str) -> CustomerUser | None: ...


class Verdict(enum.IntEnum):
    RESERVED = 0
    ADDRESS_LIMITED = 2  # the address's failures are at their limit
    LOCKED = 3  # the account is locked, or its failures are at their limit
    BUSY = 4  # at a limit counting the attempts still being verified: ask again soon


@dataclass(frozen=True)
class Attempt:
    """One password check: the address bucket and account it counts against, and its id."""

    bucket: str
    account: str
    id: str


@dataclass(frozen=True)
class Limits:
    """The failure limits an attempt is reserved under (0: not counted)."""

    window: int
    max_address_failures: int
    max_account_failures: int


class Counters(Protocol):
    """Brute-force counters shared by every instance."""

    async def hit(self, bucket: str, rates: list[tuple[str, int]]) -> tuple[int, str]:
        """Count a request in each (name, per-minute limit) rate, in order; (0, ""), or the
        seconds to wait and the name of the first rate at its limit."""

    async def reserve(self, attempt: Attempt, limits: Limits) -> tuple[Verdict, int]:
        """Reserve a password check if neither its address nor account is at its limit."""

    async def failed(self, attempt: Attempt, limits: Limits, lockout: int) -> bool:
        """A wrong password: it stays counted. True if it locked the account."""

    async def release(self, attempt: Attempt, forget_failures: bool) -> None:
        """Not a wrong password: it no longer counts."""
