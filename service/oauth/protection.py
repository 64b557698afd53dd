"""Brute-force protection (RFC 6749 §4.3.2): a per-address request rate, a per-address rate
of guest logins, wrong passwords counted per account and per address, and account lockout.

Every token request is counted in its address's rate first, before any Postgres query. A
password is verified only after an attempt has been reserved in Redis (one script): whatever
the concurrency, across all workers and instances,
at most `max_account_failures` wrong passwords per account and `max_address_failures` per
address are verified in a window."""

from __future__ import annotations

import asyncio
import ipaddress
import random
import secrets
import time

from service import metrics
from service.config import ProtectionSettings
from service.oauth.audit import Caller, audit
from service.oauth.errors import AccountLocked, TooManyRequests
from service.oauth.owners import Login
from service.oauth.ports import Attempt, Counters, Limits, Verdict

# How long an attempt waits for others on the same account or address to be verified
# (each takes milliseconds) before it is answered 429.
BUSY_WAIT = 2.0


def account(login: Login) -> str:
    """One counter per account, whatever spelling named it; a name that matches no one
    counts under the name as the lookup folded it, so such names lock alike and a lockout
    says nothing about who exists."""
    if login.account_id is not None:
        return f"{login.audience}:id:{login.account_id}"
    return f"{login.audience}:name:{login.folded}"


def address_bucket(address: str, ipv6_prefix: int) -> str:
    """What per-address limits count a client under: its IPv4 address (also when written as
    IPv4-mapped IPv6), or its IPv6 network of `ipv6_prefix` bits: a subscriber is handed a
    whole /64 or more, so single IPv6 addresses would cost an attacker nothing."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    host_bits = 128 - ipv6_prefix
    return str(ipaddress.IPv6Network((int(ip) >> host_bits << host_bits, ipv6_prefix)))


class Admission:
    """One token request's count in its address's request rate and, for a guest login, in
    its guest rate: each made once, both in one round trip when the request is known to be
    a guest login from the start."""

    def __init__(self, caller: Caller) -> None:
        self.caller = caller
        self.counted = False
        self.guest_counted = False


class Guard:
    def __init__(self, limits: Counters, settings: ProtectionSettings) -> None:
        self._limits = limits
        self._settings = settings
        s = settings
        self._failure_limits = Limits(
            s.failure_window, s.max_address_failures, s.max_account_failures
        )

    def _bucket(self, admission: Admission) -> str:
        return address_bucket(admission.caller.address, self._settings.ipv6_prefix)

    def _rates(self, admission: Admission, guest: bool = False) -> list[tuple[str, int]]:
        """The rates this request is still to be counted in, as (name, per-minute limit)."""
        s = self._settings
        rates = []
        if not admission.counted and s.requests_per_minute:
            rates.append(("rate", s.requests_per_minute))
        if guest and not admission.guest_counted and s.guest_logins_per_minute:
            rates.append(("guest", s.guest_logins_per_minute))
        admission.counted = True
        admission.guest_counted |= guest
        return rates

    async def admit(self, admission: Admission, guest: bool = False) -> None:
        """Count the request and, for a guest login, the guest login, each unless counted
        already; 429 past either limit. Before a guest's visitor row is created."""
        rates = self._rates(admission, guest)
        if rates:
            wait, rate = await self._limits.hit(self._bucket(admission), rates)
            if wait:
                metrics.count(
                    metrics.RATE_LIMITED, "guest_logins" if rate == "guest" else "requests"
                )
                raise TooManyRequests(wait)

    async def reserve(self, admission: Admission, login: Login) -> Attempt | None:
        """Reserve a password check for this account and address; 429 if the address is at
        its limit, "Account is locked." if the account is. None if failures are not counted
        at all."""
        limits = self._failure_limits
        if not (limits.max_account_failures or limits.max_address_failures):
            return None
        attempt = Attempt(self._bucket(admission), account(login), secrets.token_hex(8))
        deadline, delay = time.monotonic() + BUSY_WAIT, 0.01
        while True:
            verdict, wait = await self._limits.reserve(attempt, limits)
            if verdict is Verdict.RESERVED:
                return attempt
            if verdict is Verdict.LOCKED:
                raise AccountLocked()
            if verdict is not Verdict.BUSY:
                metrics.count(metrics.RATE_LIMITED, "address_failures")
                raise TooManyRequests(wait)
            # Other checks of this account or address may still turn out right: wait for them.
            if time.monotonic() >= deadline:
                metrics.count(metrics.RATE_LIMITED, "busy")
                raise TooManyRequests(1)
            await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter only
            delay = min(2 * delay, 0.1)

    async def failed(self, admission: Admission, attempt: Attempt | None) -> None:
        """The password was wrong: the attempt stays counted, and may lock the account."""
        if attempt is not None and await self._limits.failed(
            attempt, self._failure_limits, self._settings.lockout_time
        ):
            metrics.count(metrics.LOCKOUTS, attempt.account.partition(":")[0])
            audit("account.locked", admission.caller, account=attempt.account)

    async def release(self, attempt: Attempt | None, succeeded: bool = False) -> None:
        """The password was right (or never judged): the attempt no longer counts, and a
        successful login forgets the account's failures."""
        if attempt is not None:
            await self._limits.release(attempt, forget_failures=succeeded)
