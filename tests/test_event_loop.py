"""Password hashing never blocks the event loop: an API call made while a password grant
is hashing answers before that grant does."""

from __future__ import annotations

import asyncio
from typing import Any

from service.app import create_app
from service.config import Settings, replace
from service.oauth.passwords import Passwords
from tests.conftest import Factory, login
from tests.hashing import Verifying

# Deliberately slow (about half a second per verify) so the window is wide.
SLOW = {"memory_cost": 19456, "time_cost": 24, "parallelism": 1, "threads": 1}


async def test_api_answers_while_a_password_is_verifying(
    aiohttp_client: Any, settings: Settings, factory: Factory
) -> None:
    slow = replace(settings, password_hashing=SLOW)
    hasher = Passwords(slow.password_hashing)
    password_hash = await hasher.hash("s3cret-pass")
    hasher.close()
    user = await factory.user("admin")
    await factory.pool.execute(
        "UPDATE users SET password_hash = $1 WHERE id = $2", password_hash, user.id
    )
    seeded = await factory.client()
    app = create_app(slow)
    client = await aiohttp_client(app)
    body = login(seeded)
    first = await client.post("/oauth2-token", json=body)
    token = (await first.json())["access_token"]

    finished: list[str] = []
    verifying = Verifying(app)

    async def password_grant() -> None:
        response = await client.post("/oauth2-token", json=body)
        assert response.status == 200
        finished.append("password grant")

    grant = asyncio.create_task(password_grant())
    # If hashing ran on the loop, nothing could observe it in flight and this would time out.
    await verifying.reaches(1)
    response = await client.get(
        "/api/users",
        headers={"Accept": "application/vnd.api+json", "Authorization": f"Bearer {token}"},
    )
    assert response.status == 200
    finished.append("api call")
    assert verifying.count == 1, "the grant should still be hashing"
    await grant

    assert finished == ["api call", "password grant"]
