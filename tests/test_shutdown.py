"""SIGTERM stops accepting, lets in-flight requests finish, then closes the pools."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from service.config import Settings
from service.oauth.passwords import Passwords
from tests.conftest import Factory, login

ROOT = Path(__file__).parent.parent
SLOW = {"memory_cost": 19456, "time_cost": 12, "parallelism": 1, "threads": 2}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_in_flight_requests_finish_on_sigterm(
    settings: Settings, factory: Factory, tmp_path: Path
) -> None:
    slow = Passwords(Settings().password_hashing.__class__(**SLOW))
    user = await factory.user()
    await factory.pool.execute(
        "UPDATE users SET password_hash = $1 WHERE id = $2", await slow.hash("s3cret-pass"), user.id
    )
    slow.close()
    seeded = await factory.client()
    port = free_port()
    config = tmp_path / "config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"port": port, "workers": 1},
                "admin": {"port": 0},
                "database": {"url": settings.database.url},
                "redis": {"url": settings.redis.url, "key_prefix": settings.redis.key_prefix},
                "tokens": {"keys_dir": settings.tokens.keys_dir},
                "password_hashing": SLOW,
                "maintenance": {"cleanup_interval": 0},
            }
        )
    )
    log = tmp_path / "server.log"
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: ASYNC220 - a server this test owns
            [sys.executable, "-m", "service", "--config", str(config), "serve"],
            cwd=ROOT,
            stdout=output,
            stderr=output,
        )
    base = f"http://127.0.0.1:{port}"
    body = login(seeded)
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{base}/.well-known/jwks.json") as ready:
                        if ready.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"server did not start: {log.read_text()}")

            async def grant() -> int:
                async with http.post(f"{base}/oauth2-token", json=body) as response:
                    await response.read()
                    return response.status

            in_flight = [asyncio.create_task(grant()) for _ in range(4)]
            await asyncio.sleep(0.3)  # the requests are now hashing
            server.send_signal(signal.SIGTERM)
            statuses = await asyncio.gather(*in_flight)
            assert statuses == [200, 200, 200, 200]

            await asyncio.sleep(0.2)
            refused: Any = None
            try:
                async with http.get(f"{base}/.well-known/jwks.json") as late:
                    refused = late.status
            except aiohttp.ClientError as exc:
                refused = exc
            assert isinstance(refused, aiohttp.ClientError), "still accepting after SIGTERM"
        code = await asyncio.to_thread(server.wait, 30)
        assert code == 0, log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
