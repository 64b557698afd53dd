"""Resource owners: who a password grant logs in, and whether a token's subject may still
act. Back-office clients see back-office users; storefront clients see customer users (by
email) and guests, who get a new visitor row per login.

A guest is known by how its subject was made (the guest login made it) or, for a token, by
its storefront audience and "visitor:" subject: no customer user's email and no back-office
username may take that form, so a subject alone says nothing."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from service.oauth.errors import AccountDisabled, InvalidClient, InvalidCredentials, InvalidGrant
from service.oauth.passwords import Passwords
from service.oauth.tokens import Claims
from service.store.clients import Client
from service.store.customers import CustomerUser, CustomerUserRepository, VisitorRepository
from service.store.revocations import Standing
from service.store.users import User, UserRepository

GUEST = "guest"
GUEST_AUDIENCE = "storefront"
VISITOR = "visitor:"
REVOKED = "Token has been revoked"


def is_visitor(audience: str, subject: str) -> bool:
    """Whether a token of `audience` for `subject` is a guest's."""
    return audience == GUEST_AUDIENCE and subject.startswith(VISITOR)


@dataclass(frozen=True)
class Grantee:
    """Whom a grant issues tokens to: the subject, the owner's token generation read with
    its account, and whether this login made a guest."""

    subject: str
    generation: int = 0
    visitor: bool = False


def _is_guest(username: str, password: str) -> bool:
    user_ok = hmac.compare_digest(username.encode(), GUEST.encode())
    password_ok = hmac.compare_digest(password.encode(), GUEST.encode())
    return user_ok and password_ok


@dataclass(frozen=True)
class _Account:
    """What logging in needs of a back-office user or a customer user."""

    id: int
    subject: str  # the username, or the customer user's email
    password_hash: str
    enabled: bool
    generation: int


def _of_user(user: User | None) -> _Account | None:
    if user is None:
        return None
    return _Account(user.id, user.username, user.password_hash, user.enabled, user.token_generation)


def _of_customer(customer: CustomerUser | None) -> _Account | None:
    if customer is None:
        return None
    return _Account(
        customer.id,
        customer.email,
        customer.password_hash,
        customer.enabled,
        customer.token_generation,
    )


@dataclass(frozen=True)
class Login:
    """A login name looked up: the account it names, if any, and the name folded as the
    lookup compared it (what its failures count under when it names no one)."""

    audience: str
    account: _Account | None
    folded: str

    @property
    def account_id(self) -> int | None:
        return None if self.account is None else self.account.id


async def find_login(
    users: UserRepository, customers: CustomerUserRepository, audience: str, login: str
) -> Login:
    if audience == "backoffice":
        user, folded = await users.find_login(login)
        return Login(audience, _of_user(user), folded)
    customer, folded = await customers.find_login(login)
    return Login(audience, _of_customer(customer), folded)


class Owners:
    def __init__(
        self,
        users: UserRepository,
        customers: CustomerUserRepository,
        visitors: VisitorRepository,
        passwords: Passwords,
        visitor_lifetime: int,
    ) -> None:
        self._users = users
        self._customers = customers
        self._visitors = visitors
        self._passwords = passwords
        self._visitor_lifetime = visitor_lifetime

    def is_guest(self, audience: str, username: str, password: str) -> bool:
        return audience == GUEST_AUDIENCE and _is_guest(username, password)

    async def visitor(self) -> Grantee:
        """A new customer visitor row: every guest token gets its own."""
        visitor = await self._visitors.create(secrets.token_hex(10), self._visitor_lifetime)
        return Grantee(VISITOR + visitor.session_id, visitor=True)

    def _accounts(self, audience: str) -> UserRepository | CustomerUserRepository:
        return self._users if audience == "backoffice" else self._customers

    async def find(self, audience: str, login: str) -> Login:
        return await find_login(self._users, self._customers, audience, login)

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
            accounts = self._accounts(login.audience)
            await accounts.rehash(account.id, account.password_hash, new_hash)
        return Grantee(account.subject, account.generation)

    async def of_client(self, client: Client) -> Grantee:
        """The subject a client_credentials token acts as: the client's owner."""
        account = None
        if client.owner_user_id is not None:
            account = _of_user(await self._users.get(client.owner_user_id))
        elif client.owner_customer_user_id is not None:
            account = _of_customer(await self._customers.get(client.owner_customer_user_id))
        if account is None:
            raise InvalidClient()
        if not account.enabled:
            raise AccountDisabled()
        return Grantee(account.subject, account.generation)

    async def abandon(self, grantee: Grantee) -> None:
        """Undo what a login created when its tokens could not be issued."""
        if grantee.visitor:
            await self._visitors.delete(grantee.subject.removeprefix(VISITOR))

    async def revoked_meanwhile(self, audience: str, grantee: Grantee) -> InvalidGrant:
        """The refusal of a login whose owner's tokens were revoked while it was in flight:
        "Account is disabled." if that is what happened."""
        account = (await self.find(audience, grantee.subject)).account
        if account is not None and not account.enabled:
            return AccountDisabled()
        return InvalidGrant(hint=REVOKED)

    async def check(self, audience: str, claims: Claims) -> None:
        """Refuse to refresh for an owner that is gone or disabled, or a token Postgres knows
        was revoked (its family, its client, or all its owner's tokens: Redis may have come
        back from an older copy); keep visitors alive as long as their new refresh token.
        One query."""
        subject = claims.subject
        standing: Standing | None
        if is_visitor(audience, subject):
            standing = await self._visitors.extend(
                subject.removeprefix(VISITOR),
                self._visitor_lifetime,
                claims.client_id,
                claims.family,
            )
            if standing is None:
                raise InvalidGrant(hint="The visitor no longer exists.")
        else:
            standing = await self._accounts(audience).standing(
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
