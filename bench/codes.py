"""The authorization code row's setup: log in once through the back-office authorize pages
(as a person would: the login form and its CSRF token), keep the session cookie, and build
the requests wrk repeats - GET authorize with that cookie (a client created to skip
consent, so each answer is a redirect carrying a new code), then the token request
exchanging each code once with the one PKCE verifier all of them were asked with."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import aiohttp

from bench.infra import Client
from bench.probes import ENDPOINT, ProbeError
from bench.wrk import POOLED

# Registered for the client and never visited: wrk reads the redirect's Location only.
REDIRECT_URI = "http://127.0.0.1:9/bench-callback"
AUTHORIZE = "/oauth2-token/authorize"  # after the back-office prefix


class _LoginForm(HTMLParser):
    """The action and fields of the page's form#login."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.action: str | None = None
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and found.get("id") == "login":
            self.inside, self.action = True, found.get("action") or ""
        elif tag == "input" and self.inside and found.get("name"):
            self.fields[str(found["name"])] = found.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


@dataclass(frozen=True)
class Session:
    """A live login on the authorize pages and what a code's exchange must carry."""

    authorize: str  # path and query of the authorize request
    cookie: str  # the Cookie header naming the session
    verifier: str

    def exchange_body(self, client: Client) -> str:
        body = {
            "grant_type": "authorization_code",
            "client_id": client.client_id,
            "client_secret": client.secret,
            "code": POOLED,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": self.verifier,
        }
        return json.dumps(body)


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _code_in(response: aiohttp.ClientResponse) -> str | None:
    location = response.headers.get("Location", "")
    if response.status not in (302, 303) or not location.startswith(REDIRECT_URI):
        return None
    return parse_qs(urlsplit(location).query).get("code", [None])[0]


async def _log_in(base: str, path: str, client: Client, username: str, password: str) -> Session:
    verifier = secrets.token_urlsafe(48)
    query = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": _challenge(verifier),
        "code_challenge_method": "S256",
    }
    authorize = f"{path}?{urlencode(query)}"
    # unsafe: the jar keeps cookies of a bare IP address (127.0.0.1) only when told to.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base, cookie_jar=jar) as session:
        async with session.get(authorize, allow_redirects=False) as page:
            form = _LoginForm()
            form.feed(await page.text())
        if page.status != 200 or form.action is None:
            raise ProbeError(f"GET {path}: HTTP {page.status}, no login form")
        fields = form.fields | {"username": username, "password": password}
        action = urljoin(authorize, form.action) if form.action else authorize
        async with session.post(action, data=fields, allow_redirects=False) as answer:
            code = _code_in(answer)
            if code is None:
                raise ProbeError(f"login on {path}: HTTP {answer.status}, no redirect with a code")
        cookie = "; ".join(f"{c.key}={c.value}" for c in jar)
        # The cookie alone must get a code: that is the request wrk repeats.
        async with session.get(authorize, allow_redirects=False) as again:
            if _code_in(again) is None:
                raise ProbeError(f"GET {path} with a live session: HTTP {again.status}, no code")
        async with session.post(ENDPOINT, json=_exchange(client, code, verifier)) as exchanged:
            if exchanged.status != 200:
                raise ProbeError(f"code exchange: HTTP {exchanged.status} {await exchanged.text()}")
    return Session(authorize, cookie, verifier)


def _exchange(client: Client, code: str, verifier: str) -> dict[str, str]:
    body: dict[str, str] = json.loads(Session("", "", verifier).exchange_body(client))
    return body | {"code": code}


def log_in(base: str, path: str, client: Client, username: str, password: str) -> Session:
    """Log in through the pages; probe that the session mints codes and that one is
    exchanged (raises ProbeError otherwise)."""
    return asyncio.run(_log_in(base, path, client, username, password))
