"""How many password checks an app has under way. A test holds a login in flight with a slow
hash and must know when it is verifying; the service keeps no counter for that, so this
wraps the app's hasher from outside."""

from __future__ import annotations

import asyncio

from aiohttp import web

from service.app import PASSWORDS


class Verifying:
    """Counts the checks that the started `app` begins from now on, until they answer."""

    def __init__(self, app: web.Application) -> None:
        self.count = 0
        passwords = app[PASSWORDS]
        verify = passwords.verify

        async def counted(password_hash: str | None, password: str) -> bool:
            self.count += 1
            try:
                return await verify(password_hash, password)
            finally:
                self.count -= 1

        passwords.verify = counted  # type: ignore[method-assign]

    async def reaches(self, count: int) -> None:
        """Wait (10 s at most) until `count` checks are under way."""
        async with asyncio.timeout(10):
            # There is no event to wait on: poll the counter.
            while self.count < count:  # noqa: ASYNC110
                await asyncio.sleep(0.002)
