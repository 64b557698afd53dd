"""Signing keys: JWKS and RFC 8414 metadata, rotation without restarts, retirement."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from service.app import create_app
from service.config import Settings, replace
from service.oauth import keys
from tests.conftest import Factory, Seeded, bearer, password_grant


def kid_of(token: str) -> str:
    import base64

    head = token.split(".")[0]
    header: dict[str, str] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return header["kid"]


async def test_jwks_publishes_public_keys_only(
    client: Any, settings: Settings, seeded: Any
) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status == 200
    body = await response.json()
    [jwk] = body["keys"]
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
    assert "d" not in jwk and "p" not in jwk
    token = (await password_grant(client, seeded))["access_token"]
    assert kid_of(token) == jwk["kid"]


async def test_authorization_server_metadata(client: Any, settings: Settings) -> None:
    body = await (await client.get("/.well-known/oauth-authorization-server")).json()
    assert body["issuer"] == "https://auth.test"
    assert body["token_endpoint"] == "https://auth.test/oauth2-token"
    assert body["revocation_endpoint"] == "https://auth.test/oauth2-token/revoke"
    assert body["introspection_endpoint"] == "https://auth.test/oauth2-token/introspect"
    assert body["jwks_uri"] == "https://auth.test/.well-known/jwks.json"
    assert set(body["grant_types_supported"]) == {"password", "refresh_token", "client_credentials"}


async def wait_for(condition: Any, limit: float = 10) -> None:
    async def poll() -> None:
        while not await condition():  # noqa: ASYNC110 - polls a running server
            await asyncio.sleep(0.1)

    await asyncio.wait_for(poll(), limit)


async def reloading_app(
    aiohttp_client: Any, settings: Settings, factory: Factory, folder: Path, delay: int
) -> tuple[Any, Seeded, str]:
    """An app that re-reads `folder` every second, a user and client, and its first key."""
    old_kid = keys.generate(folder, "RS256")
    live = replace(
        settings,
        tokens={"keys_dir": str(folder), "keys_reload_interval": 1, "key_activation_delay": delay},
    )
    client = await aiohttp_client(create_app(live))
    await factory.user()
    return client, await factory.client(), old_kid


async def test_rotation_and_retirement_without_restart(
    aiohttp_client: Any, settings: Settings, factory: Factory, tmp_path: Path
) -> None:
    client, seeded, old_kid = await reloading_app(aiohttp_client, settings, factory, tmp_path, 0)
    old_token = (await password_grant(client, seeded))["access_token"]
    assert kid_of(old_token) == old_kid

    new_kid = keys.generate(tmp_path, "ES256")

    async def new_key_signs() -> bool:
        token = (await password_grant(client, seeded))["access_token"]
        return kid_of(token) == new_kid

    await wait_for(new_key_signs)
    new_token = (await password_grant(client, seeded))["access_token"]
    assert (await client.get("/api/users", headers=bearer(old_token))).status == 200
    assert (await client.get("/api/users", headers=bearer(new_token))).status == 200

    keys.retire(tmp_path, old_kid)

    async def old_key_refused() -> bool:
        return (await client.get("/api/users", headers=bearer(old_token))).status == 401

    await wait_for(old_key_refused)
    assert (await client.get("/api/users", headers=bearer(new_token))).status == 200


async def test_a_new_key_is_published_before_it_signs(
    aiohttp_client: Any, settings: Settings, factory: Factory, tmp_path: Path
) -> None:
    client, seeded, old_kid = await reloading_app(aiohttp_client, settings, factory, tmp_path, 300)
    new_kid = keys.generate(tmp_path, "RS256")

    async def published() -> bool:
        body = await (await client.get("/.well-known/jwks.json")).json()
        return new_kid in {k["kid"] for k in body["keys"]}

    await wait_for(published)
    assert kid_of((await password_grant(client, seeded))["access_token"]) == old_kid
