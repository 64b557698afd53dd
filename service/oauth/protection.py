"""Brute-force protection (RFC 6749 §4.3.2): a per-address request rate, failed logins
counted per account and per address, and account lockout."""

from __future__ import annotations

from service.config import ProtectionSettings
from service.oauth.audit import Caller, audit
from service.oauth.errors import InvalidCredentials, TooManyRequests
from service.store.limits import LimitStore

LOCKED = "Account is locked."


def account(audience: str, username: str) -> str:
    """One counter per login name, known or not: a lockout says nothing about existence."""
    return f"{audience}:{username.strip().lower()}"


class Guard:
    def __init__(self, limits: LimitStore, settings: ProtectionSettings) -> None:
        self._limits = limits
        self._settings = settings

    async def admit(self, caller: Caller) -> None:
        s = self._settings
        if s.requests_per_minute:
            wait = await self._limits.hit(caller.address, s.requests_per_minute, 60)
            if wait:
                raise TooManyRequests(wait)

    async def admit_login(self, caller: Caller, name: str) -> None:
        s = self._settings
        if s.max_address_failures:
            failures = await self._limits.address_failures(caller.address, s.failure_window)
            if failures >= s.max_address_failures:
                raise TooManyRequests(s.failure_window)
        if s.max_account_failures and await self._limits.locked(name):
            raise InvalidCredentials(hint=LOCKED)

    async def failed(self, caller: Caller, name: str) -> None:
        s = self._settings
        if s.max_address_failures:
            await self._limits.address_failed(caller.address, s.failure_window)
        if s.max_account_failures and await self._limits.account_failed(
            name, s.failure_window, s.max_account_failures, s.lockout_time
        ):
            audit("account.locked", caller, account=name)

    async def succeeded(self, name: str) -> None:
        if self._settings.max_account_failures:
            await self._limits.account_succeeded(name)
