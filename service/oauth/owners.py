"""Resource owners: who a password grant logs in, and whether a token's subject may still
act. Back-office clients see back-office users; storefront clients see customer users (by
email) and guests, who get a new visitor row per login."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from service.oauth.errors import InvalidClient, InvalidCredentials, InvalidGrant
from service.oauth.passwords import Passwords
from service.store.clients import Client
from service.store.customers import CustomerUser, CustomerUserRepository, VisitorRepository
from service.store.users import User, UserRepository

GUEST = "guest"
VISITOR = "visitor:"
DISABLED = "Account is disabled."


def is_visitor(subject: str) -> bool:
    return subject.startswith(VISITOR)


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


def _of_user(user: User | None) -> _Account | None:
    return (
        None if user is None else _Account(user.id, user.username, user.password_hash, user.enabled)
    )


def _of_customer(customer: CustomerUser | None) -> _Account | None:
    if customer is None:
        return None
    return _Account(customer.id, customer.email, customer.password_hash, customer.enabled)


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
        return audience == "storefront" and _is_guest(username, password)

    async def visitor(self) -> str:
        """A new customer visitor row: every guest token gets its own."""
        visitor = await self._visitors.create(secrets.token_hex(10), self._visitor_lifetime)
        return VISITOR + visitor.session_id

    async def find(self, audience: str, login: str) -> Login:
        return await find_login(self._users, self._customers, audience, login)

    async def authenticate(self, login: Login, password: str) -> str:
        """The token subject for these credentials; one failure answer for every miss."""
        account = login.account
        # Unknown owners verify a dummy hash, so timing does not tell who exists.
        if not await self._passwords.verify(account.password_hash if account else None, password):
            raise InvalidCredentials()
        assert account is not None
        if not account.enabled:
            raise InvalidCredentials(hint=DISABLED)
        if self._passwords.needs_rehash(account.password_hash):
            new_hash = await self._passwords.hash(password)
            repo = self._users if login.audience == "backoffice" else self._customers
            await repo.set_password_hash(account.id, new_hash)
        return account.subject

    async def of_client(self, client: Client) -> str:
        """The subject a client_credentials token acts as: the client's owner."""
        account = None
        if client.owner_user_id is not None:
            account = _of_user(await self._users.get(client.owner_user_id))
        elif client.owner_customer_user_id is not None:
            account = _of_customer(await self._customers.get(client.owner_customer_user_id))
        if account is None:
            raise InvalidClient()
        if not account.enabled:
            raise InvalidGrant(hint=DISABLED)
        return account.subject

    async def abandon(self, subject: str) -> None:
        """Undo what authenticate created when the tokens could not be issued."""
        if is_visitor(subject):
            await self._visitors.delete(subject.removeprefix(VISITOR))

    async def check(self, audience: str, subject: str) -> None:
        """Refuse to refresh for an owner that is gone or disabled; keep visitors alive as
        long as their new refresh token."""
        if is_visitor(subject):
            if not await self._visitors.extend(
                subject.removeprefix(VISITOR), self._visitor_lifetime
            ):
                raise InvalidGrant(hint="The visitor no longer exists.")
            return
        account = (await self.find(audience, subject)).account
        # A back-office login also matches emails: the account must be the token's own.
        if account is None or (audience == "backoffice" and account.subject != subject):
            raise InvalidGrant(hint="The token owner no longer exists.")
        if not account.enabled:
            raise InvalidGrant(hint=DISABLED)
