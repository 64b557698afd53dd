"""GET /api/users and /api/users/{id}: JSON:API documents, back-office bearer tokens only."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from service.config import Settings
from tests.conftest import Factory, Seeded, claims_of, password_grant

JSONAPI = "application/vnd.api+json"


def bearer(token: str) -> dict[str, str]:
    return {"Accept": JSONAPI, "Authorization": f"Bearer {token}"}


async def assert_invalid_token(response: Any) -> None:
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["Content-Type"] == JSONAPI
    body = await response.json(content_type=JSONAPI)
    assert body["errors"][0]["status"] == "401"


async def test_users_with_a_valid_token(client: TestClient[Any, Any], seeded: Seeded) -> None:
    token = (await password_grant(client, seeded))["access_token"]
    response = await client.get("/api/users", headers=bearer(token))

    assert response.status == 200
    assert response.headers["Content-Type"] == JSONAPI
    body = await response.json(content_type=JSONAPI)
    assert body["data"] == [
        {
            "type": "users",
            "id": "1",
            "attributes": {
                "username": "admin",
                "email": "admin@example.com",
                "firstName": "First",
                "lastName": "Last",
                "enabled": True,
                "createdAt": body["data"][0]["attributes"]["createdAt"],
            },
        }
    ]
    assert "password" not in str(body).lower()


async def test_one_user_and_an_unknown_one(client: TestClient[Any, Any], seeded: Seeded) -> None:
    token = (await password_grant(client, seeded))["access_token"]
    one = await client.get("/api/users/1", headers=bearer(token))
    assert one.status == 200
    assert (await one.json(content_type=JSONAPI))["data"]["attributes"]["username"] == "admin"

    missing = await client.get("/api/users/999", headers=bearer(token))
    assert missing.status == 404
    assert (await missing.json(content_type=JSONAPI))["errors"][0]["status"] == "404"

    huge = await client.get("/api/users/9999999999999999999", headers=bearer(token))
    assert huge.status == 404


async def test_pagination(client: TestClient[Any, Any], seeded: Seeded, factory: Factory) -> None:
    for n in range(4):
        await factory.user(f"user{n}")
    token = (await password_grant(client, seeded))["access_token"]
    response = await client.get("/api/users?page[size]=2&page[number]=2", headers=bearer(token))
    body = await response.json(content_type=JSONAPI)
    assert [u["attributes"]["username"] for u in body["data"]] == ["user1", "user2"]
    assert body["meta"]["totalCount"] == 5
    assert "next" in body["links"] and "prev" in body["links"]

    bad = await client.get("/api/users?page[size]=0", headers=bearer(token))
    assert bad.status == 400
    # A superscript two is a digit to str.isdigit(), but not to int().
    superscript = await client.get("/api/users?page[size]=%C2%B2", headers=bearer(token))
    assert superscript.status == 400


async def test_malformed_tokens(client: TestClient[Any, Any], seeded: Seeded) -> None:
    await assert_invalid_token(await client.get("/api/users", headers=bearer("not.a.jwt")))
    await assert_invalid_token(await client.get("/api/users", headers=bearer("")))


async def test_no_bearer_token_gets_a_challenge_without_an_error_code(
    client: TestClient[Any, Any],
) -> None:
    # RFC 6750 §3.1: a request without any credentials of ours gets no error code.
    basic = {"Accept": JSONAPI, "Authorization": "Basic YTpi"}
    for headers in ({"Accept": JSONAPI}, basic):
        response = await client.get("/api/users", headers=headers)
        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        body = await response.json(content_type=JSONAPI)
        assert body["errors"][0]["status"] == "401"


async def test_tampered_token_is_refused(client: TestClient[Any, Any], seeded: Seeded) -> None:
    token = (await password_grant(client, seeded))["access_token"]
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    await assert_invalid_token(
        await client.get("/api/users", headers=bearer(f"{head}.{payload}.{flipped}"))
    )


async def test_token_whose_redis_record_is_deleted_is_refused(
    client: TestClient[Any, Any], seeded: Seeded, settings: Settings, redis: Redis
) -> None:
    token = (await password_grant(client, seeded))["access_token"]
    assert (await client.get("/api/users", headers=bearer(token))).status == 200

    jti = claims_of(token)["jti"]
    [key] = [k async for k in redis.scan_iter(f"{settings.redis.key_prefix}*:a:{jti}")]
    await redis.delete(key)

    await assert_invalid_token(await client.get("/api/users", headers=bearer(token)))


async def test_refresh_token_is_not_a_bearer_token(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    refresh = (await password_grant(client, seeded))["refresh_token"]
    await assert_invalid_token(await client.get("/api/users", headers=bearer(refresh)))


async def test_token_in_the_query_string_is_refused(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    token = (await password_grant(client, seeded))["access_token"]
    response = await client.get(f"/api/users?access_token={token}", headers={"Accept": JSONAPI})
    assert response.status == 400
    assert "invalid_request" in response.headers["WWW-Authenticate"]


async def test_unknown_api_path_is_a_jsonapi_404(client: TestClient[Any, Any]) -> None:
    response = await client.get("/api/nothing", headers={"Accept": JSONAPI})
    assert response.status == 404
    assert response.headers["Content-Type"] == JSONAPI


async def test_jsonapi_content_negotiation(client: TestClient[Any, Any], seeded: Seeded) -> None:
    token = (await password_grant(client, seeded))["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    async def status(**headers: str) -> int:
        return (await client.get("/api/users", headers={**auth, **headers})).status

    assert await status(Accept=JSONAPI) == 200
    assert await status(Accept="*/*") == 200
    assert await status(Accept="application/json, application/vnd.api+json") == 200
    assert await status(Accept=f'{JSONAPI}; profile="x"') == 200
    assert await status() == 200
    assert await status(Accept="text/html") == 406
    assert await status(Accept=f"{JSONAPI}; charset=utf-8") == 406
    response = await client.get("/api/users", headers={**auth, "Accept": "text/html"})
    assert response.headers["Content-Type"] == JSONAPI

    posted = await client.get(
        "/api/users", headers={**auth, "Content-Type": f"{JSONAPI}; version=2"}, data=b"{}"
    )
    assert posted.status == 415
    plain = await client.get(
        "/api/users", headers={**auth, "Content-Type": "text/plain"}, data=b"x"
    )
    assert plain.status == 415
