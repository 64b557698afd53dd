"""End to end on a real socket with Authlib's OAuth2 client: the password grant, and the
authorization code flow with PKCE (an authorization URL with a code verifier, the pages,
then fetch_token), back-office and storefront; then the API with the token."""

from __future__ import annotations

from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client

from service.app import create_admin_app, create_app
from service.config import Settings
from tests.conftest import Factory, Seeded

JSONAPI = "application/vnd.api+json"


async def test_authlib_password_grant_then_api(
    aiohttp_server: Any, settings: Settings, seeded: Seeded
) -> None:
    server = await aiohttp_server(create_app(settings))
    base = f"http://{server.host}:{server.port}"

    async with AsyncOAuth2Client(
        seeded.client_id, seeded.client_secret, token_endpoint_auth_method="client_secret_basic"
    ) as oauth:
        token = await oauth.fetch_token(
            f"{base}/oauth2-token", username="admin", password="s3cret-pass"
        )
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 3600
        assert token["refresh_token"]

        response = await oauth.get(
            f"{base}/api/users", headers={"Accept": "application/vnd.api+json"}
        )
        assert response.status_code == 200
        assert response.json()["data"][0]["attributes"]["username"] == "admin"

    async with AsyncOAuth2Client(seeded.client_id, "wrong-secret") as oauth:
        try:
            await oauth.fetch_token(f"{base}/oauth2-token", username="admin", password="x")
        except Exception as exc:  # authlib raises OAuthError carrying the server's error code
            assert getattr(exc, "error", None) == "invalid_client"
        else:
            raise AssertionError("a wrong secret must not get a token")


async def test_a_client_onboarded_through_the_admin_api_then_removed(
    aiohttp_server: Any, settings: Settings, factory: Factory
) -> None:
    await factory.user("ops")
    main = await aiohttp_server(create_app(settings))
    admin = await aiohttp_server(create_admin_app(main.app))
    base, admin_base = f"http://{main.host}:{main.port}", f"http://{admin.host}:{admin.port}"
    jsonapi = {"Accept": JSONAPI, "Content-Type": JSONAPI}

    async with httpx2.AsyncClient(base_url=admin_base, headers=jsonapi) as operator:
        body = {
            "data": {
                "type": "clients",
                "attributes": {
                    "name": "CI pipeline",
                    "grants": ["client_credentials"],
                    "ownerUser": "ops",
                    "accessTokenLifetime": 600,
                },
            }
        }
        created = (await operator.post("/admin/clients", json=body)).json()["data"]
        client_id, secret = created["id"], created["meta"]["clientSecret"]

        async with AsyncOAuth2Client(
            client_id, secret, token_endpoint_auth_method="client_secret_basic"
        ) as oauth:
            token = await oauth.fetch_token(f"{base}/oauth2-token", grant_type="client_credentials")
            assert token["expires_in"] == 600
            api = f"{base}/api/users"
            response = await oauth.get(api, headers={"Accept": JSONAPI})
            assert response.status_code == 200

            assert (await operator.delete(f"/admin/clients/{client_id}")).status_code == 200
            assert (await oauth.get(api, headers={"Accept": JSONAPI})).status_code == 401
        assert (await operator.get(f"/admin/clients/{client_id}")).status_code == 404


async def _authorize_with_authlib(
    aiohttp_server: Any, settings: Settings, factory: Factory, audience: str, path: str
) -> None:
    import secrets

    import aiohttp

    from service.config import replace
    from tests.authflow import REDIRECT, code_client, csrf

    server = await aiohttp_server(
        create_app(replace(settings, tokens={"issuer": "http://auth.test"}))
    )
    base = f"http://{server.host}:{server.port}"
    public = audience == "storefront"
    seeded = await code_client(factory, audience, confidential=not public)
    username, password = (
        ("buyer@shop.example", "buyer-pass") if public else ("admin", "s3cret-pass")
    )
    code_verifier = secrets.token_urlsafe(48)
    async with AsyncOAuth2Client(
        seeded.client_id,
        seeded.client_secret,
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        token_endpoint_auth_method="none" if public else "client_secret_basic",
    ) as oauth:
        url, state = oauth.create_authorization_url(
            f"{base}{path}", code_verifier=code_verifier, scope="orders"
        )
        # The person's browser: the login page, then consent, then the redirect.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            page = await browser.get(url)
            form = {"_csrf_token": csrf(await page.text()), "username": username}
            consent = await browser.post(url, data={**form, "password": password})
            assert consent.status == 200, await consent.text()
            form = {"_csrf_token": csrf(await consent.text()), "grantAccess": "true"}
            back = await browser.post(url, data=form, allow_redirects=False)
            assert back.status == 303
            callback = back.headers["Location"]
        assert callback.startswith(REDIRECT) and f"state={state}" in callback
        token = await oauth.fetch_token(
            f"{base}/oauth2-token", authorization_response=callback, code_verifier=code_verifier
        )
        assert token["token_type"] == "Bearer" and token["refresh_token"]
        api = "/api/users" if not public else "/storefront/api/customerusers/mine"
        response = await oauth.get(f"{base}{api}", headers={"Accept": "application/vnd.api+json"})
        assert response.status_code == 200, response.text


async def test_authlib_authorization_code_backoffice(
    aiohttp_server: Any, settings: Settings, factory: Factory
) -> None:
    await factory.user()
    await _authorize_with_authlib(
        aiohttp_server, settings, factory, "backoffice", "/admin/oauth2-token/authorize"
    )


async def test_authlib_authorization_code_storefront_public(
    aiohttp_server: Any, settings: Settings, factory: Factory
) -> None:
    await factory.customer()
    await _authorize_with_authlib(
        aiohttp_server, settings, factory, "storefront", "/oauth2-token/authorize"
    )
