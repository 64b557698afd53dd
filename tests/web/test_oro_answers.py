"""Oro's exact answers, from its own functional tests, and the RFC details clients check."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import Settings, replace
from tests.conftest import (
    Seeded,
    bearer,
    claims_of,
    grant,
    password_grant,
    refresh,
    token_request,
)

GENERIC_GRANT = (
    "The provided authorization grant (e.g., authorization code, resource owner credentials) "
    "or refresh token is invalid, expired, revoked, does not match the redirection URI used "
    "in the authorization request, or was issued to another client."
)


async def test_access_tokens_carry_rfc_9068_claims_beside_oros(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    tokens = await password_grant(client, seeded, scope="read write")
    claims = claims_of(tokens["access_token"])
    assert claims["client_id"] == claims["aud"] == seeded.client_id
    assert claims["scope"] == "read write"
    assert claims["scopes"] == ["read", "write"]


async def test_revoke_answers_json(client: TestClient[Any, Any], seeded: Seeded) -> None:
    tokens = await password_grant(client, seeded)
    body = {
        "token": tokens["access_token"],
        "client_id": seeded.client_id,
        "client_secret": seeded.client_secret,
    }
    response = await client.post("/oauth2-token/revoke", data=body)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert await response.json() == {}
    assert (await client.get("/api/users", headers=bearer(tokens["access_token"]))).status == 401


async def test_empty_client_id_and_secret_fail_client_authentication(
    client: TestClient[Any, Any],
) -> None:
    # Oro: ClientCredentialsOAuthServerTest::testGetAuthTokenWhenProvidedCredentialsAreEmpty
    response = await client.post(
        "/oauth2-token",
        json={"grant_type": "client_credentials", "client_id": "", "client_secret": ""},
    )
    assert response.status == 401
    assert await response.json() == {
        "error": "invalid_client",
        "error_description": "Client authentication failed",
        "message": "Client authentication failed",
    }


async def test_a_locked_account_answers_the_generic_grant_text(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    for _ in range(5):
        await token_request(client, seeded, "password", username="admin", password="wrong-pass")
    locked = await token_request(
        client, seeded, "password", username="admin", password="s3cret-pass"
    )
    body = await locked.json()
    assert (locked.status, body["error"], body["hint"]) == (
        400,
        "invalid_grant",
        "Account is locked.",
    )
    assert body["message"] == body["error_description"] == GENERIC_GRANT


async def test_scopes_are_returned_and_a_refresh_may_not_widen_them(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    tokens = await password_grant(client, seeded, scope="read")
    assert claims_of(tokens["access_token"])["scopes"] == ["read"]
    widened = await token_request(
        client, seeded, "refresh_token", refresh_token=tokens["refresh_token"], scope="read write"
    )
    assert widened.status == 400
    assert await widened.json() == {
        "error": "invalid_scope",
        "error_description": "The requested scope is invalid, unknown, or malformed",
        "message": "The requested scope is invalid, unknown, or malformed",
        "hint": "Check the `write` scope",
    }
    # Refused before anything was consumed: the token still refreshes, keeping its scopes.
    kept = await grant(client, seeded, "refresh_token", refresh_token=tokens["refresh_token"])
    assert claims_of(kept["access_token"])["scopes"] == ["read"]


async def test_a_client_limited_to_some_scopes(
    client: TestClient[Any, Any], seeded: Seeded, pool: asyncpg.Pool
) -> None:
    await pool.execute(
        "UPDATE oauth_clients SET scopes = '{read}' WHERE client_id = $1", seeded.client_id
    )
    refused = await token_request(
        client, seeded, "password", username="admin", password="s3cret-pass", scope="admin"
    )
    assert refused.status == 400
    assert (await refused.json())["hint"] == "Check the `admin` scope"
    tokens = await password_grant(client, seeded, scope="read")
    assert claims_of(tokens["access_token"])["scope"] == "read"


async def test_an_expired_refresh_token_says_so(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    short = replace(settings, tokens={"refresh_token_lifetime": 1, "leeway": 0})
    client = await aiohttp_client(create_app(short))
    tokens = await password_grant(client, seeded)
    deadline = claims_of(tokens["refresh_token"])["exp"]
    await asyncio.sleep(max(0.0, deadline + 0.05 - time.time()))
    response = await refresh(client, seeded, tokens["refresh_token"])
    body = await response.json()
    assert (response.status, body["error"], body["hint"]) == (
        400,
        "invalid_grant",
        "Token has expired",
    )
