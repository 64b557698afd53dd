"""What the APIs show of accounts: the back-office user list, and a storefront caller's own
customer user or visitor. The web layer renders it; it never reaches the stores itself."""

from __future__ import annotations

from service.oauth.entities import CustomerUser, User, Visitor
from service.oauth.model import Subject, SubjectKind
from service.oauth.ports import CustomerDirectory, UserDirectory, Visitors

# Users have 63-bit ids: a larger one names no one.
MAX_ID = 2**63 - 1


class AccountsView:
    def __init__(
        self, users: UserDirectory, customers: CustomerDirectory, visitors: Visitors
    ) -> None:
        self._users = users
        self._customers = customers
        self._visitors = visitors

    async def users(self, offset: int, limit: int) -> tuple[list[User], int]:
        """A page of back-office users by id, and how many there are."""
        return await self._users.page(offset, limit)

    async def user(self, user_id: int) -> User | None:
        return await self._users.get(user_id) if user_id <= MAX_ID else None

    async def customer_user(self, subject: Subject) -> CustomerUser | None:
        """The customer user a storefront token is for (None: a visitor's, or gone)."""
        if subject.kind is not SubjectKind.CUSTOMER_USER:
            return None
        return await self._customers.find_by_email(subject.name)

    async def visitor(self, subject: Subject) -> Visitor | None:
        """The visitor row a guest's token is for (None: not a guest's, or gone)."""
        if not subject.is_visitor:
            return None
        return await self._visitors.get(subject.name)
