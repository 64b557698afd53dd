"""The victim of the login flood row: while wrk floods the token endpoint from 127.0.0.1, a
client on another loopback address calls the API and logs in, as another customer of the
service would; its success rate and latency are the row. Loopback only."""

from __future__ import annotations

import asyncio
import collections
import math
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.probes import ENDPOINT, JSONAPI

ADDRESS = "127.0.0.2"  # the kernel routes all of 127/8 to loopback
LOOPS = 4  # requests of the victim in flight at once
LOGIN_EVERY = 10  # each loop's tenth request is a password grant, the others API calls


@dataclass
class Outcome:
    seconds: float
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    latencies_ms: list[float] = field(default_factory=list)
    login_latencies_ms: list[float] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def logins_ok(self) -> int:
        return len(self.login_latencies_ms)

    @property
    def success(self) -> float:
        return self.ok / self.requests if self.requests else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "requests": self.requests,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "success": round(self.success, 4),
            "latency_ms": {q: percentile(self.latencies_ms, q) for q in ("p50", "p99")},
            "login_latency_ms": {q: percentile(self.login_latencies_ms, q) for q in ("p50", "p99")},
        }


def percentile(values: list[float], which: str) -> float:
    if not values:
        return 0.0
    ranked = sorted(values)
    rank = math.ceil(float(which.removeprefix("p")) / 100 * len(ranked)) - 1
    return round(ranked[max(rank, 0)], 2)


class VictimError(Exception):
    """The victim could not log in before the flood: nothing to measure."""


async def _run(
    base: str, seconds: float, delay: float, api_path: str, login: dict[str, str]
) -> Outcome:
    outcome = Outcome(seconds)
    connector = aiohttp.TCPConnector(local_addr=(ADDRESS, 0))
    async with aiohttp.ClientSession(
        base, connector=connector, timeout=aiohttp.ClientTimeout(total=10)
    ) as session:
        async with session.post(ENDPOINT, json=login) as response:
            if response.status != 200:
                raise VictimError(f"the victim's login: HTTP {response.status}")
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Accept": JSONAPI}
        await asyncio.sleep(delay)  # until the flood is at full force
        deadline = time.monotonic() + seconds

        async def loop() -> None:
            n = 0
            while time.monotonic() < deadline:
                n += 1
                is_login = n % LOGIN_EVERY == 0
                call = (
                    session.post(ENDPOINT, json=login)
                    if is_login
                    else session.get(api_path, headers=headers)
                )
                start = time.perf_counter()
                try:
                    async with call as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0  # no answer: a failure too
                elapsed = (time.perf_counter() - start) * 1000
                outcome.statuses[status] += 1
                outcome.latencies_ms.append(elapsed)
                if is_login and status == 200:
                    outcome.login_latencies_ms.append(elapsed)

        await asyncio.gather(*(loop() for _ in range(LOOPS)))
    return outcome


def run(base: str, seconds: float, delay: float, api_path: str, login: dict[str, str]) -> Outcome:
    """Log in (as a user the flood does not use: logins of one account wait for each other),
    wait `delay` seconds, then call for `seconds` from ADDRESS."""
    return asyncio.run(_run(base, seconds, delay, api_path, login))
