"""Overload from one address is not an outage for the others: a real `serve --workers 2`,
400 connections flooding the token endpoint from 127.0.0.1 (credential stuffing: wrong
passwords, then the address's 429s), and meanwhile a victim on 127.0.0.2 calling the API
and logging in. The victim keeps >= 99 % success, nobody gets a 500, health stays
answerable, and the log gets no warning line per request."""

from __future__ import annotations

import asyncio
import collections
import json
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Factory, Seeded, bearer, login
from tests.test_scaling import ROOT, instances, service_config

__all__ = ["service_config"]  # the fixture, used by name below

FLOOD_CONNECTIONS = 400
FLOOD_SECONDS = 7.0
# The victim starts once the flood is at full force and calls for VICTIM_SECONDS, longer
# if it has not made VICTIM_REQUESTS by then (a loaded machine), but not past the flood.
VICTIM_SECONDS, VICTIM_REQUESTS, VICTIM_AT_MOST = 3.0, 60, 4.0
VICTIM = "127.0.0.2"  # another loopback address: the kernel routes all of 127/8 locally


@pytest.fixture
async def seeded(factory: Factory) -> tuple[Seeded, int]:
    user = await factory.user()
    return await factory.client(), user.id


def _start_flood(url: str, seeded: Seeded) -> subprocess.Popen[str]:
    body = json.dumps(login(seeded, username="stuffed", password="not-it"))
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "tests.flood", f"{url}/oauth2-token"),
            *(str(FLOOD_SECONDS), str(FLOOD_CONNECTIONS), body),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )


async def _victim(url: str, seeded: Seeded, user_id: int) -> tuple[list[int], list[int]]:
    """Four paced loops from VICTIM: nine API calls, then a password grant. Returns every
    status (0: no answer within 10 s), and those of /health/live asked from the flooding
    address meanwhile."""
    statuses: list[int] = []
    connector = aiohttp.TCPConnector(local_addr=(VICTIM, 0))
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        async with session.post(f"{url}/oauth2-token", json=login(seeded)) as response:
            assert response.status == 200, await response.text()
            token = (await response.json())["access_token"]
        start = time.monotonic()

        def more() -> bool:
            elapsed = time.monotonic() - start
            if elapsed < VICTIM_SECONDS:
                return True
            return len(statuses) < VICTIM_REQUESTS and elapsed < VICTIM_AT_MOST

        async def loop() -> None:
            n = 0
            while more():
                n += 1
                try:
                    if n % 10:
                        call = session.get(f"{url}/api/users/{user_id}", headers=bearer(token))
                    else:
                        call = session.post(f"{url}/oauth2-token", json=login(seeded))
                    async with call as response:
                        await response.read()
                        statuses.append(response.status)
                except (aiohttp.ClientError, TimeoutError):
                    statuses.append(0)
                await asyncio.sleep(0.01)

        async def health() -> list[int]:
            seen = []
            for _ in range(6):
                await asyncio.sleep(VICTIM_SECONDS / 6)
                async with (
                    aiohttp.ClientSession(timeout=timeout) as fresh,  # from 127.0.0.1
                    fresh.get(f"{url}/health/live") as response,
                ):
                    seen.append(response.status)
            return seen

        *_, healthy = await asyncio.gather(*(loop() for _ in range(4)), health())
    return statuses, healthy


def _warnings(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if '"level":"warning"' in line]


async def test_a_flood_from_one_address_leaves_other_clients_served(
    service_config: Path, seeded: tuple[Seeded, int]
) -> None:
    client, user_id = seeded
    with instances(service_config, 1, workers=2) as (server,):
        flood = _start_flood(server.url, client)
        try:
            await asyncio.sleep(1.5)  # the flood's interpreter starts, then its connections
            statuses, healthy = await _victim(server.url, client, user_id)
            out, _ = flood.communicate(timeout=30)
        finally:
            flood.kill()
            flood.wait()
        log = service_config.parent / f"service-{server.port}.log"

    flooded = {int(k): v for k, v in json.loads(out).items()}
    seen = collections.Counter(statuses)
    assert len(statuses) >= 20, seen  # then 99 % means every one
    assert sum(flooded.values()) >= FLOOD_CONNECTIONS, flooded  # the flood did run
    assert seen[200] / len(statuses) >= 0.99, seen
    assert 500 not in seen
    assert 500 not in flooded, flooded
    assert healthy == [200] * 6
    # Refusals are counted, not logged one line each.
    assert len(_warnings(log)) < 20, _warnings(log)[:5]
