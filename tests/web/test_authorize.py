"""The authorization code flow through its pages, on real Postgres and Redis: GET authorize,
the login form, consent, the redirect with a code, its exchange, an API call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import Settings, replace
from service.oauth.pkce import s256
from tests.authflow import (
    REDIRECT,
    allow,
    authorize_url,
    code_client,
    csrf,
    exchange,
    log_in,
    obtain_code,
    query,
    verifier,
)
from tests.conftest import Factory, bearer, claims_of, refresh


@pytest.fixture
async def browser(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    settings: Settings,
    pool: asyncpg.Pool,
) -> TestClient[Any, Any]:
    """The app on an http issuer: its session cookie is not Secure, so the test client's
    jar (on plain http) sends it back as a browser would over https."""
    return await aiohttp_client(
        create_app(replace(settings, tokens={"issuer": "http://auth.test"}))
    )


async def test_backoffice_login_consent_code_exchange_api(
    browser: TestClient[Any, Any], factory: Factory
) -> None:
    client = browser
    await factory.user()
    seeded = await code_client(factory)
    code, code_verifier = await obtain_code(client, seeded, scope="read write")
    answer = await exchange(client, seeded, code, code_verifier)
    assert answer.status == 200, await answer.text()
    assert answer.headers["Cache-Control"] == "no-store"
    tokens = await answer.json()
    assert set(tokens) == {"token_type", "expires_in", "access_token", "refresh_token"}
    claims = claims_of(tokens["access_token"])
    assert claims["sub"] == "admin"
    assert claims["aud"] == seeded.client_id
    assert claims["scopes"] == ["read", "write"]
    api = await client.get("/api/users", headers=bearer(tokens["access_token"]))
    assert api.status == 200
    refreshed = await refresh(client, seeded, tokens["refresh_token"])
    assert refreshed.status == 200


async def test_login_page_shape_and_headers(client: TestClient[Any, Any], factory: Factory) -> None:
    seeded = await code_client(factory)
    url = authorize_url(seeded, code_challenge="x" * 43, code_challenge_method="S256")
    page = await client.get(url, allow_redirects=False)
    assert page.status == 200
    html = await page.text()
    assert '<form method="post" id="login"' in html
    assert 'for="username">Username or email</label>' in html
    assert 'name="password"' in html and 'id="login-submit"' in html
    assert "<script" not in html
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert "default-src 'none'" in csp
    assert "form-action 'self' https://app.example" in csp
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Path=/admin/oauth2-token" in cookie
    storefront = await code_client(factory, "storefront")
    page = await client.get(
        authorize_url(
            storefront,
            "/oauth2-token/authorize",
            code_challenge="x" * 43,
            code_challenge_method="S256",
        ),
        allow_redirects=False,
    )
    html = await page.text()
    assert page.status == 200
    assert 'for="username">Email</label>' in html


async def _exchange_twice_at_once(
    one: TestClient[Any, Any], two: TestClient[Any, Any], seeded: Any, code: str, v: str
) -> list[Any]:
    import asyncio

    answers = await asyncio.gather(exchange(one, seeded, code, v), exchange(two, seeded, code, v))
    return [(a.status, await a.json()) for a in answers]


async def test_code_used_twice_from_two_instances_has_one_winner_and_revokes(
    browser: TestClient[Any, Any],
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    settings: Settings,
    factory: Factory,
) -> None:
    other = await aiohttp_client(
        create_app(replace(settings, tokens={"issuer": "http://auth.test"}))
    )
    await factory.user()
    seeded = await code_client(factory)
    for _ in range(3):
        code, v = await obtain_code(browser, seeded)
        answers = await _exchange_twice_at_once(browser, other, seeded, code, v)
        reused = [
            b
            for s, b in answers
            if s == 400 and b.get("hint") == "Authorization code has been revoked"
        ]
        # Exactly one use redeemed the code; the other was refused as a reuse.
        assert len(reused) == 1, answers
        for status, body in answers:
            if status == 200:  # whatever the winner got is revoked by the second use
                api = await browser.get("/api/users", headers=bearer(body["access_token"]))
                assert api.status == 401
                again = await refresh(browser, seeded, body["refresh_token"])
                assert again.status == 400
    # Used later, one after the other: the first's tokens are revoked by the second use.
    code, v = await obtain_code(browser, seeded)
    first = await exchange(browser, seeded, code, v)
    assert first.status == 200
    token = (await first.json())["access_token"]
    assert (await browser.get("/api/users", headers=bearer(token))).status == 200
    second = await exchange(other, seeded, code, v)
    assert second.status == 400
    assert (await second.json())["error"] == "invalid_grant"
    assert (await browser.get("/api/users", headers=bearer(token))).status == 401


async def test_pkce_rules(browser: TestClient[Any, Any], factory: Factory) -> None:
    await factory.user()
    seeded = await code_client(factory)
    # A wrong verifier: invalid_grant, and the code is not burnt by it.
    code, v = await obtain_code(browser, seeded)
    wrong = await exchange(browser, seeded, code, verifier())
    assert wrong.status == 400
    assert (await wrong.json())["hint"] == "Failed to verify `code_verifier`."
    missing = await exchange(browser, seeded, code, None)
    assert (await missing.json())["error"] == "invalid_request"
    malformed = await exchange(browser, seeded, code, "short")
    assert (await malformed.json())["error"] == "invalid_request"
    assert (await exchange(browser, seeded, code, v)).status == 200
    # plain is refused for a client not created to allow it, with league's answer.
    url = authorize_url(seeded, code_challenge="p" * 43, code_challenge_method="plain")
    refused = await browser.get(url, allow_redirects=False)
    assert refused.status == 302
    sent = query(refused.headers["Location"])
    assert sent["error"] == "invalid_request"
    assert sent["hint"] == "Code challenge method must be one of `S256`"
    assert sent["state"]
    # ... and accepted for one that is.
    plain_client = await code_client(factory, allow_plain_pkce=True)
    code, _ = await obtain_code(
        browser, plain_client, code_challenge="p" * 43, code_challenge_method="plain"
    )
    assert (await exchange(browser, plain_client, code, "p" * 43)).status == 200
    # A confidential client may go without PKCE; a verifier then is a downgrade: refused.
    code, _ = await obtain_code(browser, seeded, code_challenge=None, code_challenge_method=None)
    assert (await exchange(browser, seeded, code, verifier())).status == 400
    assert (await exchange(browser, seeded, code, None)).status == 200


async def test_public_client_must_send_a_challenge(
    browser: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.customer()
    public = await code_client(factory, "storefront", confidential=False)
    path = "/oauth2-token/authorize"
    refused = await browser.get(authorize_url(public, path), allow_redirects=False)
    sent = query(refused.headers["Location"])
    assert sent["error"] == "invalid_request"
    assert sent["hint"] == "Code challenge must be provided for public clients"
    code, v = await obtain_code(browser, public, "buyer@shop.example", "buyer-pass", path)
    answer = await exchange(browser, public, code, v)
    assert answer.status == 200, await answer.text()
    assert claims_of((await answer.json())["access_token"])["sub"] == "buyer@shop.example"


async def test_error_pages_never_redirect(browser: TestClient[Any, Any], factory: Factory) -> None:
    seeded = await code_client(factory)
    storefront = await code_client(factory, "storefront")
    cases = [
        authorize_url(seeded, client_id="nope"),
        authorize_url(seeded, client_id=None),
        authorize_url(seeded, redirect_uri="https://evil.example/cb"),
        authorize_url(seeded, redirect_uri=REDIRECT + "/x"),
        authorize_url(storefront),  # a storefront client on the back-office path
        authorize_url(seeded, "/oauth2-token/authorize"),  # and the other way round
    ]
    for url in cases:
        page = await browser.get(url, allow_redirects=False)
        assert page.status == 400, url
        assert page.content_type == "text/html"
        assert '<h1 id="error">' in await page.text()
        assert "Location" not in page.headers


async def test_other_errors_redirect_with_error_and_state(
    browser: TestClient[Any, Any], factory: Factory
) -> None:
    seeded = await code_client(factory)
    password_only = await factory.client(redirect_uris=(REDIRECT,))
    cases = [
        (authorize_url(seeded, response_type="token"), "unsupported_response_type"),
        (authorize_url(seeded, response_type=None), "invalid_request"),
        (authorize_url(password_only), "unauthorized_client"),
        (authorize_url(seeded, scope="bad\\scope"), "invalid_scope"),
        (
            authorize_url(seeded, code_challenge="short", code_challenge_method="S256"),
            "invalid_request",
        ),
    ]
    for url, error in cases:
        answer = await browser.get(url, allow_redirects=False)
        assert answer.status == 302, url
        location = answer.headers["Location"]
        assert location.startswith(REDIRECT + "?")
        sent = query(location)
        assert sent["error"] == error, sent
        assert sent["state"].startswith("st-")
        assert sent["error_description"]
    # Without redirect_uri: the only registered one is used.
    answer = await browser.get(
        authorize_url(seeded, redirect_uri=None, response_type="x"), allow_redirects=False
    )
    assert answer.headers["Location"].startswith(REDIRECT + "?")


async def test_deny_redirects_access_denied(
    browser: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.user()
    seeded = await code_client(factory)
    url = authorize_url(seeded, code_challenge="x" * 43, code_challenge_method="S256")
    consent = await log_in(browser, url, "admin", "s3cret-pass")
    html = await consent.text()
    assert '<form method="post" id="consent"' in html
    assert 'id="allow"' in html and 'id="deny"' in html and 'id="client-name"' in html
    answer = await allow(browser, url, html, grant="false")
    assert answer.status == 303
    sent = query(answer.headers["Location"])
    assert sent["error"] == "access_denied" and sent["state"].startswith("st-")
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"


async def test_skip_consent_and_session_reuse(
    browser: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.user()
    seeded = await code_client(factory, skip_consent=True)
    url = authorize_url(seeded, code_challenge="x" * 43, code_challenge_method="S256")
    answer = await log_in(browser, url, "admin", "s3cret-pass")
    assert answer.status == 303
    assert query(answer.headers["Location"])["code"]
    # Logged in: the next authorize request goes straight back with a code.
    again = await browser.get(url, allow_redirects=False)
    assert again.status == 302 and "code" in query(again.headers["Location"])


async def test_session_cookie_rotates_at_login_and_logout_ends_it(
    browser: TestClient[Any, Any], factory: Factory, redis: Any, settings: Settings
) -> None:
    await factory.user()
    seeded = await code_client(factory)
    url = authorize_url(seeded, code_challenge="x" * 43, code_challenge_method="S256")
    page = await browser.get(url)
    before = page.cookies["oauth_admin_session"].value
    sessions = [k async for k in redis.scan_iter(match=f"{settings.redis.key_prefix}sess:*")]
    assert len(sessions) == 1
    assert before.encode() not in sessions[0]  # keyed by a digest, not the id itself
    ttl = await redis.ttl(sessions[0])
    assert 0 < ttl <= settings.authorize.session_lifetime
    form = {"_csrf_token": csrf(await page.text()), "username": "admin", "password": "s3cret-pass"}
    consent = await browser.post(url, data=form, allow_redirects=False)
    after = consent.cookies["oauth_admin_session"].value
    assert after != before
    sessions = [k async for k in redis.scan_iter(match=f"{settings.redis.key_prefix}sess:*")]
    assert len(sessions) == 1  # the pre-login session is gone
    html = await consent.text()
    assert csrf(html) != form["_csrf_token"]
    logout = await browser.post(
        "/admin/oauth2-token/logout", data={"_csrf_token": csrf(html)}, allow_redirects=False
    )
    assert logout.status == 200
    assert '<h1 id="logged-out">' in await logout.text()
    assert not [k async for k in redis.scan_iter(match=f"{settings.redis.key_prefix}sess:*")]
    page = await browser.get(url)
    assert 'id="login"' in await page.text()


async def test_csrf_refused(browser: TestClient[Any, Any], factory: Factory) -> None:
    await factory.user()
    seeded = await code_client(factory)
    url = authorize_url(seeded, code_challenge="x" * 43, code_challenge_method="S256")
    await browser.get(url)
    bad = await browser.post(
        url, data={"_csrf_token": "forged", "username": "admin", "password": "s3cret-pass"}
    )
    assert bad.status == 403
    assert 'role="alert" id="login-error"' in await bad.text()
    consent = await log_in(browser, url, "admin", "s3cret-pass")
    assert consent.status == 200
    forged = await browser.post(url, data={"grantAccess": "true"}, allow_redirects=False)
    assert forged.status == 403 and "Location" not in forged.headers
    logout = await browser.post("/admin/oauth2-token/logout", data={})
    assert logout.status == 403


async def test_login_failures_share_the_password_grants_counters(
    browser: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.user()
    seeded = await code_client(factory)
    url = authorize_url(seeded, code_challenge="x" * 43, code_challenge_method="S256")
    messages = set()
    for _ in range(5):  # protection.max_account_failures
        failed = await log_in(browser, url, "admin", "wrong-password")
        assert failed.status == 400
        html = await failed.text()
        assert '<p role="alert" id="login-error">' in html
        messages.add(html.split('id="login-error">')[1].split("<")[0])
    unknown = await log_in(browser, url, "nobody", "wrong-password")
    messages.add((await unknown.text()).split('id="login-error">')[1].split("<")[0])
    assert len(messages) == 1  # one message for every failure
    # The account is now locked for the password grant too, right password or not.
    password_client = await factory.client()
    locked = await browser.post(
        "/oauth2-token",
        data={
            "grant_type": "password",
            "client_id": password_client.client_id,
            "client_secret": password_client.client_secret or "",
            "username": "admin",
            "password": "s3cret-pass",
        },
    )
    body = await locked.json()
    assert body.get("hint") == "Account is locked.", body
    # ... and the login page, with the same one message.
    page = await log_in(browser, url, "admin", "s3cret-pass")
    assert page.status == 400
    assert messages.pop() in await page.text()


async def test_visitor_flow_and_visitor_access_token(
    browser: TestClient[Any, Any], factory: Factory, pool: asyncpg.Pool
) -> None:
    customer = await factory.customer()
    public = await code_client(factory, "storefront", confidential=False)
    v = verifier()
    url = authorize_url(
        public,
        "/oauth2-token/authorize-visitor",
        code_challenge=s256(v),
        code_challenge_method="S256",
    )
    answer = await browser.get(url, allow_redirects=False)
    assert answer.status == 302, await answer.text()
    code = query(answer.headers["Location"])["code"]
    tokens = await (await exchange(browser, public, code, v)).json()
    guest = tokens["access_token"]
    sub = claims_of(guest)["sub"]
    assert sub.startswith("visitor:")
    mine = await browser.get("/storefront/api/customervisitors/mine", headers=bearer(guest))
    assert mine.status == 200
    # The guest logs in: the visitor becomes the customer user, and the tokens say which.
    path = "/oauth2-token/authorize"
    code, v = await obtain_code(
        browser, public, "buyer@shop.example", "buyer-pass", path, visitor_access_token=guest
    )
    tokens = await (await exchange(browser, public, code, v)).json()
    claims = claims_of(tokens["access_token"])
    assert claims["sub"] == "buyer@shop.example"
    assert claims["visitor"] == sub.removeprefix("visitor:")
    assert claims_of(tokens["refresh_token"])["visitor"] == claims["visitor"]
    row = await pool.fetchrow(
        "SELECT customer_user_id FROM customer_visitors WHERE session_id = $1", claims["visitor"]
    )
    assert row["customer_user_id"] == customer.id
    # The visitor flow is for storefront clients only.
    backoffice = await code_client(factory)
    page = await browser.get(authorize_url(backoffice, "/oauth2-token/authorize-visitor"))
    assert page.status == 400


async def test_code_errors_at_the_token_endpoint(
    browser: TestClient[Any, Any], factory: Factory, redis: Any, settings: Settings
) -> None:
    await factory.user()
    seeded = await code_client(factory)
    other = await code_client(factory)
    code, v = await obtain_code(browser, seeded)
    cases = [
        (
            await exchange(browser, other, code, v),
            "Authorization code was not issued to this client",
        ),
        (
            await exchange(browser, seeded, code, v, redirect_uri=REDIRECT + "x"),
            "Invalid redirect URI",
        ),
        (await exchange(browser, seeded, "unknown-code", v), "Authorization code has expired"),
    ]
    for answer, hint in cases:
        assert answer.status == 400
        body = await answer.json()
        assert body["error"] == "invalid_grant" and body["hint"] == hint
    # The code lives auth_code_lifetime seconds in Redis, under a digest of itself.
    keys = [k async for k in redis.scan_iter(match=f"{settings.redis.key_prefix}code:*")]
    assert len(keys) == 1 and code.encode() not in keys[0]
    assert 0 < await redis.ttl(keys[0]) <= settings.tokens.auth_code_lifetime
    await redis.delete(keys[0])  # expired
    expired = await exchange(browser, seeded, code, v)
    assert (await expired.json())["error"] == "invalid_grant"
    # A client not allowed the grant is refused as league refuses it.
    password_only = await factory.client()
    answer = await exchange(browser, password_only, code, v)
    assert answer.status == 401


async def test_metadata_advertises_the_flow(client: TestClient[Any, Any]) -> None:
    meta = await (await client.get("/.well-known/oauth-authorization-server")).json()
    assert meta["authorization_endpoint"] == "https://auth.test/oauth2-token/authorize"
    assert meta["response_types_supported"] == ["code"]
    assert "S256" in meta["code_challenge_methods_supported"]
    assert "authorization_code" in meta["grant_types_supported"]


async def test_posts_of_other_media_types_are_no_form(
    browser: TestClient[Any, Any], factory: Factory
) -> None:
    seeded = await code_client(factory)
    url = authorize_url(seeded, code_challenge="x" * 43, code_challenge_method="S256")
    for path in (url, "/admin/oauth2-token/logout"):
        for content_type, body in (
            ("multipart/form-data", b"x"),
            ("application/x-www-form-urlencoded", b"\xff\xfe"),
            ("application/json", b"{}"),
        ):
            answer = await browser.post(
                path, data=body, headers={"Content-Type": content_type}, allow_redirects=False
            )
            assert answer.status in (200, 403), (path, content_type, answer.status)
