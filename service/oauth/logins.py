"""A person's login name and password, checked under the brute-force counters. The password
grant and the authorize page's login form both log in here, so they share one count of
failures per account and per address, and one lockout."""

from __future__ import annotations

import contextlib

from service.oauth.errors import InvalidCredentials, StoreError
from service.oauth.model import Audience
from service.oauth.owners import Grantee, Owners
from service.oauth.protection import Admission, Guard


class PasswordLogin:
    def __init__(self, owners: Owners, guard: Guard) -> None:
        self._owners = owners
        self._guard = guard

    async def authenticate(
        self, audience: Audience, username: str, password: str, admission: Admission
    ) -> Grantee:
        """Whom the credentials name; InvalidCredentials (one answer for every miss),
        AccountLocked, AccountDisabled (after the right password) or TooManyRequests."""
        login = await self._owners.find(audience, username)
        # Reserved before the hash is verified, so concurrent guesses cannot outrun the count.
        attempt = await self._guard.reserve(admission, login)
        try:
            grantee = await self._owners.authenticate(login, password)
        except InvalidCredentials:  # a wrong password: a counted failure
            await self._guard.failed(admission, attempt)
            raise
        except BaseException:  # a disabled account's right password, or an error
            with contextlib.suppress(StoreError):  # the first error is the one to answer
                await self._guard.release(attempt)
            raise
        await self._guard.release(attempt, succeeded=True)
        return grantee
