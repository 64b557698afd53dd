"""Resource owners: who a password grant logs in, and whether a token's subject may still
act. Back-office clients see back-office users; storefront clients see customer users (by
email) and guests, who get a new visitor row per login."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from service.cache import Cache
from service.oauth.entities import Account, Client, Standing
from service.oauth.errors import AccountDisabled, InvalidClient, InvalidCredentials, InvalidGrant
from service.oauth.model import Audience, Claims, Subject
from service.oauth.passwords import Passwords
from service.oauth.ports import Accounts, Visitors

GUEST = "guest"
REVOKED = "Token has been revoked"
# A client_credentials login may reuse its owner's row, as long as that was enabled, for
# this long per worker: every change that must stop the owner's logins (disabled, a new
# password, deleted, its tokens revoked) raises the owner's token generation, which a
# login reads again in Redis once its tokens are recorded (see service/store/tokens.py).
OWNER_CACHE_SECONDS = 2
OWNER_CACHE_SIZE = 1024


@dataclass(frozen=True)
class Grantee:
    """Whom a grant issues tokens to, and the owner's token generation read with its
    account (0 for a visitor)."""

    subject: Subject
    generation: int = 0


def is_guest(audience: Audience, username: str, password: str) -> bool:
    """A storefront client's guest login (username and password `guest`)."""
    user_ok = hmac.compare_digest(username.encode(), GUEST.encode())
    password_ok = hmac.compare_digest(password.encode(), GUEST.encode())
    return audience is Audience.STOREFRONT and user_ok and password_ok


@dataclass(frozen=True)
class Login:
    """A login name looked up: the account it names, if any, and the name folded as the
    lookup compared it (what its failures count under when it names no one)."""

    audience: Audience
    account: Account | None
    folded: str

    @property
    def account_id(self) -> int | None:
        return None if self.account is None else self.account.id


def _owner_key(client: Client) -> tuple[Audience, int] | None:
    if client.owner_user_id is not None:
        return Audience.BACKOFFICE, client.owner_user_id
    if client.owner_customer_user_id is not None:
        return Audience.STOREFRONT, client.owner_customer_user_id
    return None


async def find_login(accounts: Accounts, login: str) -> Login:
    account, folded = await accounts.find_login(login)
    return Login(accounts.audience, account, folded)


class Owners:
    def __init__(
        self,
        accounts: Iterable[Accounts],
        visitors: Visitors,
        passwords: Passwords,
        visitor_lifetime: int,
    ) -> None:
        self._accounts = {a.audience: a for a in accounts}
        self._visitors = visitors
        self._passwords = passwords
        self._visitor_lifetime = visitor_lifetime
        self._client_owners: Cache[tuple[Audience, int], Grantee] = Cache(
            OWNER_CACHE_SIZE, OWNER_CACHE_SECONDS
        )

    async def visitor(self) -> Grantee:
        """A new customer visitor row: every guest token gets its own."""
        visitor = await self._visitors.create(secrets.token_hex(10), self._visitor_lifetime)
        return Grantee(Subject.visitor(visitor.session_id))

    async def find(self, audience: Audience, login: str) -> Login:
        return await find_login(self._accounts[audience], login)

    async def authenticate(self, login: Login, password: str) -> Grantee:
        """The token subject for these credentials; one failure answer for every miss."""
        account = login.account
        # Unknown owners verify a dummy hash, so timing does not tell who exists.
        if not await self._passwords.verify(account.password_hash if account else None, password):
            raise InvalidCredentials()
        assert account is not None
        if not account.enabled:
            raise AccountDisabled()
        if self._passwords.needs_rehash(account.password_hash):
            new_hash = await self._passwords.hash(password)
            # Only over the hash just verified: an operator's new password set meanwhile stays.
            accounts = self._accounts[login.audience]
            await accounts.rehash(account.id, account.password_hash, new_hash)
        return Grantee(account.subject, account.generation)

    async def of_client(self, client: Client) -> Grantee:
        """The subject a client_credentials token acts as: the client's owner, read now
        (and kept for `known_owner`)."""
        key = _owner_key(client)
        if key is None:
            raise InvalidClient()
        account = await self._accounts[key[0]].account(key[1])
        if account is None or not account.enabled:
            self._client_owners.pop(key)
            raise InvalidClient() if account is None else AccountDisabled()
        grantee = Grantee(account.subject, account.generation)
        self._client_owners.put(key, grantee)
        return grantee

    def known_owner(self, client: Client) -> Grantee | None:
        """The client's owner as this worker read it up to OWNER_CACHE_SECONDS ago, enabled
        then (no I/O); None if it has not."""
        key = _owner_key(client)
        return None if key is None else self._client_owners.get(key)

    async def current(self, grantee: Grantee) -> Grantee | None:
        """The grantee of an earlier login (an authorize page's session), if its account
        still exists, is enabled and had no owner-wide revocation since; else None."""
        subject = grantee.subject
        if subject.is_visitor:
            return grantee
        account = (await self.find(subject.audience, subject.name)).account
        if account is None or not account.enabled or account.subject != subject:
            return None
        if account.generation > grantee.generation:
            return None
        return grantee

    async def abandon(self, grantee: Grantee) -> None:
        """Undo what a login created when its tokens could not be issued."""
        if grantee.subject.is_visitor:
            await self._visitors.delete(grantee.subject.name)

    async def revoked_meanwhile(self, grantee: Grantee) -> InvalidGrant:
        """The refusal of a login whose owner's tokens were revoked while it was in flight:
        "Account is disabled." if that is what happened."""
        subject = grantee.subject
        account = (await self.find(subject.audience, subject.name)).account
        if account is not None and not account.enabled:
            return AccountDisabled()
        return InvalidGrant(hint=REVOKED)

    async def check(self, claims: Claims) -> None:
        """Refuse to refresh for an owner that is gone or disabled, or a token Postgres knows
        was revoked (its family, its client, or all its owner's tokens: Redis may have come
        back from an older copy); keep visitors alive as long as their new refresh token.
        One query."""
        subject = claims.subject
        standing: Standing | None
        if subject.is_visitor:
            standing = await self._visitors.extend(
                subject.name, self._visitor_lifetime, claims.client_id, claims.family
            )
            if standing is None:
                raise InvalidGrant(hint="The visitor no longer exists.")
        else:
            standing = await self._accounts[subject.audience].standing(
                subject, claims.client_id, claims.family
            )
            if standing is None:
                raise InvalidGrant(hint="The token owner no longer exists.")
        revoked_before = standing.client_revoked_before
        if standing.family_revoked or (
            revoked_before is not None and claims.issued_at <= revoked_before
        ):
            raise InvalidGrant(hint=REVOKED)
        if not standing.enabled:
            raise AccountDisabled()
        if claims.generation < standing.generation:
            raise InvalidGrant(hint=REVOKED)
