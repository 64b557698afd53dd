"""Resource owners: who a password grant logs in, and whether a token's subject may still
act. Back-office clients see back-office users; storefront clients see customer users (by
email) and guests, who get a new visitor row per login."""

from __future__ import annotations

import hmac
import secrets

from service.oauth.errors import InvalidClient, InvalidCredentials, InvalidGrant
from service.oauth.passwords import Passwords
from service.store.clients import Client
from service.store.customers import CustomerUserRepository, VisitorRepository
from service.store.users import UserRepository

GUEST = "guest"
VISITOR = "visitor:"
DISABLED = "Account is disabled."


def is_visitor(subject: str) -> bool:
    return subject.startswith(VISITOR)


def _is_guest(username: str, password: str) -> bool:
    user_ok = hmac.compare_digest(username.encode(), GUEST.encode())
    password_ok = hmac.compare_digest(password.encode(), GUEST.encode())
    return user_ok and password_ok


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

    async def authenticate(self, audience: str, username: str, password: str) -> str:
        """The token subject for these credentials; one failure answer for every miss."""
        if audience == "backoffice":
            user = await self._users.find_for_login(username)
            found = (
                None if user is None else (user.id, user.username, user.password_hash, user.enabled)
            )
        else:
            customer = await self._customers.find_by_email(username)
            found = (
                None
                if customer is None
                else (customer.id, customer.email, customer.password_hash, customer.enabled)
            )
        # Unknown owners verify a dummy hash, so timing does not tell who exists.
        if not await self._passwords.verify(found[2] if found else None, password):
            raise InvalidCredentials()
        assert found is not None
        owner_id, subject, password_hash, enabled = found
        if not enabled:
            raise InvalidCredentials(hint=DISABLED)
        if self._passwords.needs_rehash(password_hash):
            new_hash = await self._passwords.hash(password)
            repo = self._users if audience == "backoffice" else self._customers
            await repo.set_password_hash(owner_id, new_hash)
        return subject

    async def of_client(self, client: Client) -> str:
        """The subject a client_credentials token acts as: the client's owner."""
        if client.owner_user_id is not None:
            user = await self._users.get(client.owner_user_id)
            found = None if user is None else (user.username, user.enabled)
        elif client.owner_customer_user_id is not None:
            customer = await self._customers.get(client.owner_customer_user_id)
            found = None if customer is None else (customer.email, customer.enabled)
        else:
            found = None
        if found is None:
            raise InvalidClient()
        subject, enabled = found
        if not enabled:
            raise InvalidGrant(hint=DISABLED)
        return subject

    async def abandon(self, subject: str) -> None:
        """Undo what authenticate created when the tokens could not be issued."""
        if is_visitor(subject):
            await self._visitors.delete(subject.removeprefix(VISITOR))

    async def check(self, audience: str, subject: str) -> None:
        """Refuse to refresh for an owner that is gone or disabled; keep visitors alive as
        long as their new refresh token."""
        if audience == "backoffice":
            user = await self._users.find_for_login(subject)
            if user is None or user.username != subject:
                raise InvalidGrant(hint="The token owner no longer exists.")
            if not user.enabled:
                raise InvalidGrant(hint=DISABLED)
        elif is_visitor(subject):
            if not await self._visitors.extend(
                subject.removeprefix(VISITOR), self._visitor_lifetime
            ):
                raise InvalidGrant(hint="The visitor no longer exists.")
        else:
            customer = await self._customers.find_by_email(subject)
            if customer is None:
                raise InvalidGrant(hint="The token owner no longer exists.")
            if not customer.enabled:
                raise InvalidGrant(hint=DISABLED)
