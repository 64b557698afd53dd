"""Visitor rows do not grow without bound: rows whose tokens can no longer be refreshed go,
by `python -m service cleanup` and by the server's periodic task; live ones stay."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import yaml

from service.app import create_app
from service.config import Settings, replace
from tests.conftest import Factory, grant, refresh

ROOT = Path(__file__).parent.parent
SHORT = {
    "access_token_lifetime": 1,
    "refresh_token_lifetime": 1,
    "guest_refresh_token_lifetime": 1,
    "leeway": 0,
}


async def visitors(pool: asyncpg.Pool) -> set[str]:
    return {r["session_id"] for r in await pool.fetch("SELECT session_id FROM customer_visitors")}


async def test_cleanup_command_deletes_exactly_the_expired_visitors(
    aiohttp_client: Any, settings: Settings, factory: Factory, pool: asyncpg.Pool, tmp_path: Path
) -> None:
    shop = await factory.client("storefront")
    short = await aiohttp_client(create_app(replace(settings, tokens=SHORT)))
    long = await aiohttp_client(create_app(settings))
    doomed = await grant(short, shop, "password", username="guest", password="guest")
    alive = await grant(long, shop, "password", username="guest", password="guest")
    assert len(await visitors(pool)) == 2

    await asyncio.sleep(1.2)  # let the short-lived tokens expire
    config = tmp_path / "config.yml"
    config.write_text(
        yaml.safe_dump(
            {"database": {"url": settings.database.url}, "redis": {"url": settings.redis.url}}
        )
    )
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "service", "--config", str(config), "--json", "cleanup"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert '"deleted_visitors": 1' in result.stdout

    from tests.conftest import claims_of

    kept = claims_of(alive["access_token"])["sub"].removeprefix("visitor:")
    assert await visitors(pool) == {kept}
    gone = await refresh(short, shop, doomed["refresh_token"])
    assert gone.status == 400


async def test_the_server_cleans_up_periodically(
    aiohttp_client: Any, settings: Settings, factory: Factory, pool: asyncpg.Pool
) -> None:
    shop = await factory.client("storefront")
    app = create_app(replace(settings, tokens=SHORT, maintenance={"cleanup_interval": 1}))
    client = await aiohttp_client(app)
    await grant(client, shop, "password", username="guest", password="guest")
    assert len(await visitors(pool)) == 1

    async def emptied() -> None:
        while await visitors(pool):  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.1)

    await asyncio.wait_for(emptied(), timeout=10)
