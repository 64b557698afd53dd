"""/health/live and /health/ready, with the stores up and with one of them down."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import Settings, replace
from tests.servers import free_ports


async def test_live_does_no_io(client: TestClient[Any, Any]) -> None:
    response = await client.get("/health/live")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


async def test_ready_checks_postgres_and_redis(client: TestClient[Any, Any]) -> None:
    response = await client.get("/health/ready")
    assert response.status == 200
    body = await response.json()
    assert {k: body[k] for k in ("status", "checks")} == {
        "status": "ok",
        "checks": {"postgres": "ok", "redis": "ok"},
    }
    assert body["keys"]["age_seconds"] < 5  # loaded at the start, just now


async def test_not_ready_while_redis_is_down(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]], settings: Settings
) -> None:
    (nobody,) = free_ports(1)
    down = replace(settings, redis={"url": f"redis://127.0.0.1:{nobody}/0", "timeout": 0.5})
    client = await aiohttp_client(create_app(down))

    response = await client.get("/health/ready")
    assert response.status == 503
    body = await response.json()
    assert (body["status"], body["checks"]) == ("unavailable", {"postgres": "ok", "redis": "down"})
    assert (await client.get("/health/live")).status == 200


async def test_not_ready_while_postgres_is_down(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]], settings: Settings
) -> None:
    (nobody,) = free_ports(1)
    url = f"postgresql://postgres@127.0.0.1:{nobody}/postgres"
    down = replace(settings, database={"url": url, "timeout": 0.5})
    client = await aiohttp_client(create_app(down))

    response = await client.get("/health/ready")
    assert response.status == 503
    assert (await response.json())["checks"] == {"postgres": "down", "redis": "ok"}
