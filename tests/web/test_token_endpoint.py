"""POST /oauth2-token with the password grant: answers exactly as SPEC.md §1, §2 and §5."""

from __future__ import annotations

import base64
import contextlib
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from joserfc import jwt
from redis.asyncio import Redis

from service.config import Settings
from service.oauth.keys import KeyRing
from tests.conftest import Factory, Seeded, claims_of, password_grant

CREDENTIALS_MESSAGE = "The user credentials were incorrect."


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def form(seeded: Seeded, **overrides: str) -> dict[str, str]:
    return {
        "grant_type": "password",
        "client_id": seeded.client_id,
        "client_secret": seeded.client_secret or "",
        "username": "admin",
        "password": "s3cret-pass",
        **overrides,
    }


async def error_of(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = await response.json()
    assert body["error"] == error
    assert body["message"] == body["error_description"]
    assert set(body) <= {"error", "error_description", "message", "hint"}
    return body


async def test_json_password_grant_answers_exactly_the_oro_shape(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    response = await client.post("/oauth2-token", json=form(seeded))

    assert response.status == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    body = await response.json()
    assert list(body) == ["token_type", "expires_in", "access_token", "refresh_token"]
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600


async def test_form_body_works(client: TestClient[Any, Any], seeded: Seeded) -> None:
    response = await client.post("/oauth2-token", data=form(seeded))
    assert response.status == 200
    assert (await response.json())["token_type"] == "Bearer"


async def test_basic_client_authentication(client: TestClient[Any, Any], seeded: Seeded) -> None:
    assert seeded.client_secret
    body = {"grant_type": "password", "username": "admin", "password": "s3cret-pass"}
    headers = {"Authorization": basic(seeded.client_id, seeded.client_secret)}
    response = await client.post("/oauth2-token", data=body, headers=headers)
    assert response.status == 200


async def test_basic_and_body_agreeing_is_accepted(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    assert seeded.client_secret
    headers = {"Authorization": basic(seeded.client_id, seeded.client_secret)}
    response = await client.post("/oauth2-token", data=form(seeded), headers=headers)
    assert response.status == 200


async def test_basic_and_body_disagreeing_is_invalid_request(
    client: TestClient[Any, Any], seeded: Seeded, factory: Factory
) -> None:
    other = await factory.client()
    assert other.client_secret
    headers = {"Authorization": basic(other.client_id, other.client_secret)}
    response = await client.post("/oauth2-token", data=form(seeded), headers=headers)
    await error_of(response, 400, "invalid_request")


async def test_login_by_email_in_any_case(client: TestClient[Any, Any], seeded: Seeded) -> None:
    await password_grant(client, seeded, username="ADMIN@Example.com")


async def test_access_token_claims_verify_with_the_public_key(
    client: TestClient[Any, Any], seeded: Seeded, settings: Settings
) -> None:
    before = int(time.time())
    body = await password_grant(client, seeded)

    ring = KeyRing.load(settings.tokens.keys_dir)
    public = ring.signing.as_dict(private=False)
    from joserfc.jwk import RSAKey

    token = jwt.decode(body["access_token"], RSAKey.import_key(public), algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    assert token.header["kid"] == ring.signing.kid
    claims = token.claims
    assert claims["aud"] == seeded.client_id
    assert claims["sub"] == "admin"
    assert claims["iss"] == "https://auth.test"
    assert claims["scopes"] == []
    assert before <= claims["iat"] == claims["nbf"] <= int(time.time())
    assert claims["exp"] == claims["iat"] + 3600
    assert len(base64.urlsafe_b64decode(claims["jti"] + "==")) >= 16

    refresh = jwt.decode(body["refresh_token"], RSAKey.import_key(public), algorithms=["RS256"])
    assert refresh.header["typ"] != token.header["typ"]
    assert refresh.claims["exp"] == refresh.claims["iat"] + 2_592_000
    assert refresh.claims["jti"] != claims["jti"]


async def test_both_tokens_are_recorded_in_redis_with_their_lifetime(
    client: TestClient[Any, Any], seeded: Seeded, settings: Settings, redis: Redis
) -> None:
    body = await password_grant(client, seeded)
    keys = sorted([k.decode() async for k in redis.scan_iter(f"{settings.redis.key_prefix}{{*")])

    access = claims_of(body["access_token"])
    refresh = claims_of(body["refresh_token"])
    prefix = f"{settings.redis.key_prefix}{{{access['fid']}}}"
    assert keys == [f"{prefix}:a:{access['jti']}", f"{prefix}:f"]
    # The family record: the current pair, then the login as the admin's list shows it.
    family = (await redis.get(f"{prefix}:f")).decode().split(" ")
    assert family[:2] == [refresh["jti"], access["jti"]]
    assert access["iat"] <= int(family[2]) <= access["iat"] + 1
    assert family[3:] == ["-", seeded.client_id]
    assert 3590 <= await redis.ttl(keys[0]) <= 3600
    assert 2_592_000 - 10 <= await redis.ttl(keys[1]) <= 2_592_000


async def test_lifetimes_come_from_config(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    from service.app import create_app
    from service.config import replace

    short = replace(settings, tokens={"access_token_lifetime": 60, "refresh_token_lifetime": 120})
    client = await aiohttp_client(create_app(short))
    body = await password_grant(client, seeded)
    assert body["expires_in"] == 60
    assert claims_of(body["refresh_token"])["exp"] - int(time.time()) <= 120


@pytest.mark.parametrize(
    ("username", "password"),
    [("admin", "wrong-password"), ("nobody", "s3cret-pass"), ("guest", "guest")],
)
async def test_bad_credentials_get_one_message(
    client: TestClient[Any, Any], seeded: Seeded, username: str, password: str
) -> None:
    response = await client.post(
        "/oauth2-token", json=form(seeded, username=username, password=password)
    )
    body = await error_of(response, 400, "invalid_grant")
    assert body["message"] == CREDENTIALS_MESSAGE
    assert "hint" not in body


async def test_disabled_account_is_told_only_after_the_right_password(
    client: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.user("off", password="right-password", enabled=False)
    seeded = await factory.client()

    wrong = await client.post(
        "/oauth2-token", json=form(seeded, username="off", password="wrong-password")
    )
    assert "hint" not in await error_of(wrong, 400, "invalid_grant")

    right = await client.post(
        "/oauth2-token", json=form(seeded, username="off", password="right-password")
    )
    body = await error_of(right, 400, "invalid_grant")
    # league's generic grant text, as Oro answers; the hint says why.
    assert body["message"].startswith("The provided authorization grant")
    assert body["hint"] == "Account is disabled."


@pytest.mark.parametrize("missing", ["grant_type", "client_id", "username", "password"])
async def test_missing_parameter_is_invalid_request(
    client: TestClient[Any, Any], seeded: Seeded, missing: str
) -> None:
    body = form(seeded)
    del body[missing]
    response = await client.post("/oauth2-token", json=body)
    error = await error_of(response, 400, "invalid_request")
    assert missing in error["hint"]


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2]"),
        ("application/json", b'{"grant_type": ["password"]}'),
        ("application/json", b'{"grant_type": "password", "username": {"a": 1}}'),
        ("application/json", b"\xff\xfe"),
        ("application/json", b"[" * 100_00 + b"]" * 100_00),
        ("text/plain", b"grant_type=password"),
        ("application/xml", b"<grant_type>password</grant_type>"),
        ("application/x-www-form-urlencoded", b"grant_type=password&grant_type=password"),
        ("application/x-www-form-urlencoded", b"grant_type=\xff"),
    ],
)
async def test_malformed_bodies_are_invalid_request(
    client: TestClient[Any, Any], seeded: Seeded, content_type: str, data: bytes
) -> None:
    response = await client.post("/oauth2-token", data=data, headers={"Content-Type": content_type})
    await error_of(response, 400, "invalid_request")


@pytest.mark.parametrize("spelled", ['"password"', '"pass\\u0077ord"'])
async def test_a_json_name_given_twice_is_invalid_request(
    client: TestClient[Any, Any], seeded: Seeded, spelled: str
) -> None:
    """As repeated form fields (RFC 6749 §3.2): not the last one silently winning."""
    fields = ",".join(f'"{k}":"{v}"' for k, v in form(seeded, password="wrong").items())
    data = f'{{{fields},{spelled}:"s3cret-pass"}}'.encode()
    response = await client.post(
        "/oauth2-token", data=data, headers={"Content-Type": "application/json"}
    )
    error = await error_of(response, 400, "invalid_request")
    assert error["hint"] == "Check the `password` parameter"


async def test_colons_in_json_values_are_no_repeated_names(
    client: TestClient[Any, Any], seeded: Seeded, factory: Factory
) -> None:
    await factory.user("colon", password="a:b:c:d:e")
    body = form(seeded, username="colon", password="a:b:c:d:e")
    assert (await client.post("/oauth2-token", json=body)).status == 200


async def test_oversized_body_is_refused(client: TestClient[Any, Any], seeded: Seeded) -> None:
    response = await client.post("/oauth2-token", json=form(seeded, password="x" * 100_000))
    assert response.status == 413
    assert (await response.json())["error"] == "invalid_request"


async def test_unknown_grant_type(client: TestClient[Any, Any], seeded: Seeded) -> None:
    response = await client.post("/oauth2-token", json=form(seeded, grant_type="magic"))
    await error_of(response, 400, "unsupported_grant_type")


async def test_unknown_client(client: TestClient[Any, Any], seeded: Seeded) -> None:
    response = await client.post("/oauth2-token", json=form(seeded, client_id="nope"))
    body = await error_of(response, 401, "invalid_client")
    assert body["message"] == "Client authentication failed"
    assert "WWW-Authenticate" not in response.headers


async def test_wrong_secret(client: TestClient[Any, Any], seeded: Seeded) -> None:
    response = await client.post("/oauth2-token", json=form(seeded, client_secret="guess"))
    await error_of(response, 401, "invalid_client")


async def test_missing_secret_of_a_confidential_client(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    body = form(seeded)
    del body["client_secret"]
    response = await client.post("/oauth2-token", json=body)
    await error_of(response, 401, "invalid_client")


async def test_wrong_secret_over_basic_gets_a_basic_challenge(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    body = {"grant_type": "password", "username": "admin", "password": "s3cret-pass"}
    headers = {"Authorization": basic(seeded.client_id, "guess")}
    response = await client.post("/oauth2-token", data=body, headers=headers)
    await error_of(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"] == 'Basic realm="OAuth"'


async def test_inactive_client(client: TestClient[Any, Any], factory: Factory) -> None:
    await factory.user()
    seeded = await factory.client(active=False)
    response = await client.post("/oauth2-token", json=form(seeded))
    await error_of(response, 401, "invalid_client")


async def test_grant_not_allowed_for_the_client(
    client: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.user()
    seeded = await factory.client(grants=("refresh_token",))
    response = await client.post("/oauth2-token", json=form(seeded))
    await error_of(response, 401, "invalid_client")


async def test_public_client_needs_no_secret(
    client: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.user()
    seeded = await factory.client(confidential=False)
    body = form(seeded)
    del body["client_secret"]
    response = await client.post("/oauth2-token", json=body)
    assert response.status == 200


async def test_redis_down_is_temporarily_unavailable(
    aiohttp_client: Any, settings: Settings, seeded: Seeded, tmp_path: Any
) -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    from service.app import create_app
    from service.config import replace
    from service.dev import embedded

    own = embedded.redis(tmp_path / "redis", persist=False)
    client = await aiohttp_client(create_app(replace(settings, redis={"url": own})))
    await password_grant(client, seeded)

    doomed = Redis.from_url(own)
    with contextlib.suppress(RedisConnectionError):
        await doomed.shutdown(nosave=True)
    await doomed.aclose()

    response = await client.post("/oauth2-token", json=form(seeded))
    body = await error_of(response, 503, "temporarily_unavailable")
    assert "Traceback" not in str(body)


async def test_cors_preflight(aiohttp_client: Any, settings: Settings, pool: Any) -> None:
    from service.app import create_app
    from service.config import replace

    allowed = "https://shop.example"
    app = create_app(replace(settings, cors={"origins": (allowed,), "allow_headers": ("X-Foo",)}))
    client = await aiohttp_client(app)
    ok = await client.options(
        "/oauth2-token",
        headers={"Origin": allowed, "Access-Control-Request-Method": "POST"},
    )
    # Oro's answer (ClientCredentialsOAuthServerTest::testOptionsPreflightRequest).
    assert ok.status == 200
    assert ok.headers["Access-Control-Allow-Origin"] == allowed
    assert ok.headers["Access-Control-Allow-Methods"] == "OPTIONS, POST"
    assert ok.headers["Access-Control-Allow-Headers"] == "Authorization,Content-Type,X-Foo"
    assert ok.headers["Access-Control-Max-Age"] == "600"
    assert ok.headers["Cache-Control"] == "max-age=600, public"
    assert ok.headers["Vary"] == "Origin"
    assert "Allow" not in ok.headers

    not_preflight = await client.options("/oauth2-token", headers={"Origin": allowed})
    assert not_preflight.status == 200
    assert not_preflight.headers["Access-Control-Allow-Origin"] == allowed
    assert not_preflight.headers["Allow"] == "OPTIONS, POST"
    assert "Access-Control-Allow-Methods" not in not_preflight.headers

    other = await client.options("/oauth2-token", headers={"Origin": "https://evil.example"})
    assert other.status == 403
    assert "Access-Control-Allow-Origin" not in other.headers


async def test_options_without_origin_lists_the_methods(client: TestClient[Any, Any]) -> None:
    response = await client.options("/oauth2-token")
    assert response.status == 200
    assert response.headers["Allow"] == "OPTIONS, POST"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


@pytest.mark.parametrize("content_type", ["a/b;0*", ";0*", "application/json; =", '"'])
async def test_unparsable_content_type_is_invalid_request(
    client: TestClient[Any, Any], content_type: str
) -> None:
    response = await client.post("/oauth2-token", data=b"x", headers={"Content-Type": content_type})
    await error_of(response, 400, "invalid_request")
