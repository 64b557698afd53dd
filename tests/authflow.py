"""Driving the authorize pages as a browser would, with aiohttp's test client: the forms'
CSRF tokens read from the HTML, the session cookie kept by the client's jar."""

from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from aiohttp.test_utils import TestClient

from service.oauth.pkce import s256
from tests.conftest import Factory, Seeded

REDIRECT = "https://app.example/callback"
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf(html: str) -> str:
    match = CSRF.search(html)
    assert match, html
    return match.group(1)


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def verifier() -> str:
    return secrets.token_urlsafe(48)


def authorize_url(
    seeded: Seeded, path: str = "/admin/oauth2-token/authorize", **params: str | None
) -> str:
    base: dict[str, str | None] = {
        "response_type": "code",
        "client_id": seeded.client_id,
        "redirect_uri": REDIRECT,
        "state": "st-" + secrets.token_hex(4),
    }
    base.update(params)
    return f"{path}?{urlencode({k: v for k, v in base.items() if v is not None})}"


async def code_client(
    factory: Factory, audience: str = "backoffice", confidential: bool = True, **extra: Any
) -> Seeded:
    extra.setdefault("redirect_uris", (REDIRECT,))
    return await factory.client(
        audience,
        ("authorization_code", "refresh_token"),
        confidential=confidential,
        **extra,
    )


async def log_in(client: TestClient[Any, Any], url: str, username: str, password: str) -> Any:
    """GET the authorize URL (the login page), post the login form; the answer to the post."""
    page = await client.get(url)
    assert page.status == 200, await page.text()
    form = {"_csrf_token": csrf(await page.text()), "username": username, "password": password}
    return await client.post(url, data=form, allow_redirects=False)


async def allow(
    client: TestClient[Any, Any], url: str, consent_html: str, grant: str = "true"
) -> Any:
    form = {"_csrf_token": csrf(consent_html), "grantAccess": grant}
    return await client.post(url, data=form, allow_redirects=False)


async def obtain_code(
    client: TestClient[Any, Any],
    seeded: Seeded,
    username: str = "admin",
    password: str = "s3cret-pass",
    path: str = "/admin/oauth2-token/authorize",
    **params: str | None,
) -> tuple[str, str]:
    """Log in, allow; the code and its verifier."""
    code_verifier = verifier()
    params.setdefault("code_challenge", s256(code_verifier))
    params.setdefault("code_challenge_method", "S256")
    url = authorize_url(seeded, path, **params)
    consent = await log_in(client, url, username, password)
    assert consent.status == 200, await consent.text()
    answer = await allow(client, url, await consent.text())
    assert answer.status == 303, await answer.text()
    return query(answer.headers["Location"])["code"], code_verifier


async def exchange(
    client: TestClient[Any, Any], seeded: Seeded, code: str, code_verifier: str | None, **extra: str
) -> Any:
    body = {
        "grant_type": "authorization_code",
        "client_id": seeded.client_id,
        "code": code,
        "redirect_uri": REDIRECT,
        **extra,
    }
    if seeded.client_secret:
        body["client_secret"] = seeded.client_secret
    if code_verifier is not None:
        body["code_verifier"] = code_verifier
    return await client.post("/oauth2-token", data=body)
