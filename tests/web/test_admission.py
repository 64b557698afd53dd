"""Requests in flight per worker and each address's share of them (service.web.admission):
what a refused request gets, that others are still served, health stays answerable, and how
freed slots are shared between waiting addresses."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import ConfigError, Settings, from_mapping, replace
from service.logs import Throttled
from service.web.admission import GATE
from service.web.gate import Gate, Refused

FLOODER, OTHER = "127.0.0.9", "127.0.0.10"  # X-Forwarded-For values; the peer is a proxy


@pytest.fixture
async def gated(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]], settings: Settings
) -> TestClient[Any, Any]:
    """Two slots per address, four per worker, no waiting; the test client is a proxy."""
    small = replace(
        settings,
        server={
            "max_requests_in_flight": 4,
            "max_requests_in_flight_per_address": 2,
            "queue_timeout": 0.0,
        },
        protection={"trusted_proxies": ("127.0.0.1",)},
    )
    return await aiohttp_client(create_app(small))


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address, "Accept": "application/vnd.api+json"}


async def test_an_address_over_its_share_gets_429_and_others_are_served(
    gated: TestClient[Any, Any],
) -> None:
    gate = gated.app[GATE]
    for _ in range(2):  # two requests of FLOODER still in flight
        assert await gate.enter(FLOODER) is None

    token = await gated.post("/oauth2-token", json={}, headers=_from(FLOODER))
    assert token.status == 429
    assert token.headers["Retry-After"] == "1"
    assert token.headers["Cache-Control"] == "no-store"
    assert (await token.json())["error"] == "too_many_requests"
    api = await gated.get("/api/users", headers=_from(FLOODER))
    assert api.status == 429
    assert api.headers["Retry-After"] == "1"
    assert (await api.json())["errors"][0]["status"] == "429"

    # Another address is served (here: told its token is missing), health answers anyone.
    assert (await gated.get("/api/users", headers=_from(OTHER))).status == 401
    assert (await gated.get("/health/live", headers=_from(FLOODER))).status == 200
    assert (await gated.get("/health/ready", headers=_from(FLOODER))).status == 200
    metrics = await (await gated.get("/metrics", headers=_from(FLOODER))).text()
    assert 'oauth_requests_refused_total{reason="address"} 2.0' in metrics


async def test_a_full_worker_answers_503_and_frees_its_slots(
    gated: TestClient[Any, Any],
) -> None:
    gate = gated.app[GATE]
    for address in (FLOODER, FLOODER, OTHER, OTHER):
        assert await gate.enter(address) is None

    response = await gated.post("/oauth2-token", json={}, headers=_from("127.0.0.11"))
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    assert (await response.json())["error"] == "temporarily_unavailable"

    gate.leave(OTHER)
    assert (await gated.get("/api/users", headers=_from("127.0.0.11"))).status == 401
    assert gate.total == 3  # the answered request gave its slot back


async def test_a_request_waits_for_a_slot_of_its_address(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]], settings: Settings
) -> None:
    patient = replace(
        settings, server={"max_requests_in_flight_per_address": 1, "queue_timeout": 5.0}
    )
    client = await aiohttp_client(create_app(patient))
    gate = client.app[GATE]
    assert await gate.enter("127.0.0.1") is None
    waiting = asyncio.create_task(client.get("/api/users"))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    gate.leave("127.0.0.1")
    assert (await waiting).status == 401  # served once the slot was free, not refused


async def test_freed_slots_go_to_waiting_addresses_in_turn() -> None:
    gate = Gate(slots=2, per_address=1, wait=5.0)
    assert await gate.enter("a") is None
    assert await gate.enter("c") is None  # the worker is full
    order: list[str] = []

    async def request(address: str, name: str) -> None:
        assert await gate.enter(address) is None
        order.append(name)

    # Address a queued two requests before b queued one: b is not served after both.
    tasks = []
    for address, name in (("a", "a2"), ("a", "a3"), ("b", "b1")):
        tasks.append(asyncio.create_task(request(address, name)))
        await asyncio.sleep(0)
    for holder in ("a", "a", "b"):
        gate.leave(holder)
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == ["a2", "b1", "a3"]


async def test_a_wait_that_runs_out_or_is_cancelled_holds_nothing() -> None:
    gate = Gate(slots=2, per_address=1, wait=0.1)
    assert await gate.enter("a") is None
    assert await gate.enter("a") is Refused.ADDRESS
    assert await gate.enter("b") is None
    assert await gate.enter("c") is Refused.WORKER

    cancelled = asyncio.create_task(gate.enter("c"))
    await asyncio.sleep(0)
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    gate.leave("a")
    gate.leave("b")
    assert (gate.total, gate.busy) == (0, {})


def test_shares_are_validated() -> None:
    with pytest.raises(ConfigError, match=r"server\.max_requests_in_flight_per_address"):
        from_mapping({"server": {"max_requests_in_flight": 8}}, {})
    with pytest.raises(ConfigError, match=r"server\.max_requests_in_flight"):
        from_mapping(
            {
                "server": {"max_requests_in_flight": 2000, "max_requests_in_flight_per_address": 8},
                "redis": {"mode": "cluster", "url": "redis://node:6379"},
            },
            {},
        )
    with pytest.raises(ConfigError, match=r"redis\.pool_timeout"):
        from_mapping({"redis": {"pool_timeout": 0}}, {})


async def test_a_repeated_warning_is_one_line_and_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = logging.getLogger("test.throttled")
    throttled = Throttled(log, every=0.2)
    with caplog.at_level(logging.WARNING, logger="test.throttled"):
        for _ in range(100):
            throttled.warning("dependency unavailable: %s", "redis: ConnectionError")
        await asyncio.sleep(0.3)
    assert [r.getMessage() for r in caplog.records] == [
        "dependency unavailable: redis: ConnectionError",
        "dependency unavailable: redis: ConnectionError (99 more in the last 0 s)",
    ]
