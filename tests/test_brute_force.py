"""Brute-force limits under real concurrency: two service instances (`python -m service
serve` subprocesses on the test database and Redis, as in test_scaling) take a flood of
password guesses at once. Whatever the interleaving, no more wrong passwords are verified
than the limits allow; the verifications are counted with each instance's
oauth_password_hash_seconds{op="verify"}."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.conftest import Factory, Seeded, login
from tests.test_scaling import Instance, instances, service_config

__all__ = ["service_config"]  # the fixture, shared with test_scaling

VERIFIES = re.compile(r'oauth_password_hash_seconds_count\{op="verify"\} (\S+)')
CREDENTIALS = "The user credentials were incorrect."
LOCKED = "Account is locked."


@pytest.fixture
def protected(service_config: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """service_config with the `protection` section given by the test's parametrisation."""
    config = yaml.safe_load(service_config.read_text())
    config["protection"] = request.param
    service_config.write_text(yaml.safe_dump(config))
    yield service_config


async def verified(session: aiohttp.ClientSession, running: list[Instance]) -> int:
    """Passwords verified so far by all the instances."""
    total = 0.0
    for instance in running:
        async with session.get(f"{instance.url}/metrics") as response:
            found = VERIFIES.search(await response.text())
        total += float(found.group(1)) if found else 0.0
    return int(total)


async def flood(
    running: list[Instance], bodies: list[dict[str, Any]]
) -> list[tuple[int, dict[str, Any], str | None]]:
    """Every body posted at once, alternately to each instance, each on its own connection;
    (status, body, Retry-After) of each answer."""

    async def post(
        session: aiohttp.ClientSession, base: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any], str | None]:
        async with session.post(f"{base}/oauth2-token", json=body) as response:
            return response.status, await response.json(), response.headers.get("Retry-After")

    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        return await asyncio.gather(
            *(post(session, running[i % len(running)].url, b) for i, b in enumerate(bodies))
        )


def outcome(answer: tuple[int, dict[str, Any], str | None]) -> str:
    status, body, _ = answer
    if status == 400 and body.get("hint") == LOCKED:
        return "locked"
    if status == 400 and body["message"] == CREDENTIALS and "hint" not in body:
        return "wrong"
    return str(status)


ACCOUNT_LIMIT = {"max_account_failures": 5, "max_address_failures": 0, "requests_per_minute": 0}


@pytest.mark.parametrize("protected", [ACCOUNT_LIMIT], indirect=True)
async def test_concurrent_wrong_passwords_verify_at_most_the_account_limit(
    protected: Path, factory: Factory
) -> None:
    await factory.user()
    seeded: Seeded = await factory.client()
    with instances(protected, 2) as running:
        guesses = [login(seeded, password=f"guess-{n:04d}") for n in range(120)]
        answers = await flood(running, guesses)

        outcomes = Counter(map(outcome, answers))
        assert set(outcomes) <= {"wrong", "locked"}, outcomes
        assert outcomes["wrong"] <= 5, outcomes
        async with aiohttp.ClientSession() as session:
            assert await verified(session, running) <= 5

        # The limit was reached: the right password is refused too, on either instance.
        for status, body, _ in await flood(running, [login(seeded)] * 2):
            assert (status, body["error"], body.get("hint")) == (400, "invalid_grant", LOCKED)


ADDRESS_LIMIT = {"max_account_failures": 5, "max_address_failures": 10, "requests_per_minute": 0}


@pytest.mark.parametrize("protected", [ADDRESS_LIMIT], indirect=True)
async def test_concurrent_failures_from_one_address_verify_at_most_the_address_limit(
    protected: Path, factory: Factory
) -> None:
    seeded: Seeded = await factory.client()
    with instances(protected, 2) as running:
        # A name each, so no account limit is reached: only the address's limit stands.
        guesses = [login(seeded, username=f"user-{n}", password="guess") for n in range(90)]
        answers = await flood(running, guesses)

        outcomes = Counter(map(outcome, answers))
        assert set(outcomes) <= {"wrong", "429"}, outcomes
        assert 1 <= outcomes["wrong"] <= 10, outcomes
        assert all(int(after or 0) >= 1 for status, _, after in answers if status == 429)
        async with aiohttp.ClientSession() as session:
            assert await verified(session, running) <= 10
