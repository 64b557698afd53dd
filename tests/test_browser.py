"""The authorization code flow in a real browser: headless Chromium opens the authorize URL
of a real service process, a person's typing goes into the login form, Allow (or Deny) is
pressed, and the browser lands on the app's redirect target. The test then does what the
app would: exchanges the code with its PKCE verifier and calls the API with the token.
Screenshots of the login and consent pages go to tests/browser.SCREENSHOTS."""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from redis import Redis
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.browser import Pkce, RedirectTarget, chromium, screenshot, wait_for
from tests.conftest import FAST_HASHING, Factory, bearer, claims_of
from tests.servers import ROOT, free_ports, service_config, service_process

BACKOFFICE_AUTHORIZE = "/admin/oauth2-token/authorize"
STOREFRONT_AUTHORIZE = "/oauth2-token/authorize"
VISITOR_AUTHORIZE = "/oauth2-token/authorize-visitor"


@dataclass(frozen=True)
class Service:
    base: str
    config: Path

    async def command(self, *args: str) -> dict[str, Any]:
        """`python -m service --json ...` on this service's config, as an operator runs it."""
        argv = [sys.executable, "-m", "service", "--config", str(self.config), "--json", *args]
        proc = await asyncio.create_subprocess_exec(
            *argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return result


@dataclass(frozen=True)
class App:
    """An OAuth client as registered with the service: what a real app holds."""

    client_id: str
    secret: str | None
    name: str
    redirect_uri: str

    def credentials(self) -> dict[str, str]:
        # A public client names itself; a confidential one also proves it.
        return {"client_id": self.client_id} | (
            {"client_secret": self.secret} if self.secret else {}
        )


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str, keys_dir: Path
) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("browser")
    port = free_ports(1)[0]
    base = f"http://127.0.0.1:{port}"
    prefix = f"test:browser:{secrets.token_hex(4)}:"
    config = service_config(
        database_url,
        redis_url,
        keys_dir,
        prefix,
        server={"workers": 2, "port": port},
        tokens={"keys_dir": str(keys_dir), "issuer": base},
        password_hashing=FAST_HASHING,
    )
    with service_process(config, folder):
        yield Service(base, folder / "config.yml")
    # The service wrote under a prefix the suite's per-test cleanup does not know.
    with Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)


@dataclass(frozen=True)
class Landing:
    """Where the pages sent the browser back to the app: the app, its PKCE pair, and the
    query the redirect target got."""

    app: App
    pkce: Pkce
    query: dict[str, str]


# Per audience: the authorize path, the login field's label, and whether the test's app is
# a public client (a storefront single-page app) or a confidential one (a back-office tool).
AUDIENCES = {
    "backoffice": (BACKOFFICE_AUTHORIZE, "Username or email", False),
    "storefront": (STOREFRONT_AUTHORIZE, "Email", True),
}


BUYER = ("buyer@shop.example", "buyer-pass")
# What the pages show (and the README's screenshot): a name a shop could give its app.
APP_NAMES = {"backoffice": "Catalog Sync Tool", "storefront": "Demo Shop"}


@dataclass(frozen=True)
class Journey:
    """A person in the browser and the app they sign in to: the app's redirect target and
    its back channel (`http`) to the service."""

    service: Service
    target: RedirectTarget
    driver: WebDriver
    http: aiohttp.ClientSession

    async def register(self, audience: str, *, public: bool) -> App:
        name = APP_NAMES[audience]
        args = ["clients", "create", "--name", name, "--audience", audience]
        args += ["--grants", "authorization_code,refresh_token", "--redirect-uri", self.target.url]
        created = await self.service.command(*args, *(["--public"] if public else []))
        return App(created["client_id"], created.get("client_secret"), name, self.target.url)

    def open_authorize(self, path: str, app: App, pkce: Pkce, **extra: str) -> str:
        """Open the app's authorize URL; return the state it carries."""
        state = secrets.token_urlsafe(16)
        query = extra | {
            "response_type": "code",
            "client_id": app.client_id,
            "redirect_uri": app.redirect_uri,
            "state": state,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
        }
        self.driver.get(f"{self.service.base}{path}?{urlencode(query)}")
        return state

    def log_in(self, label: str, username: str, password: str, shot: str) -> None:
        """Type into the login form as a person would, and press the button."""
        form = wait_for(self.driver, "form#login")
        field = form.find_element(By.NAME, "username")
        # Labelled: screen readers read the label, not a placeholder.
        labels = self.driver.find_elements(
            By.CSS_SELECTOR, f"label[for='{field.get_attribute('id')}']"
        )
        assert [x.text.strip() for x in labels] == [label]
        screenshot(self.driver, f"{shot}-login")
        field.send_keys(username)
        form.find_element(By.NAME, "password").send_keys(password)
        form.find_element(By.ID, "login-submit").click()

    def consent(self, app: App, button: str, shot: str) -> None:
        form = wait_for(self.driver, "form#consent")
        assert app.name in self.driver.find_element(By.TAG_NAME, "body").text
        screenshot(self.driver, f"{shot}-consent")
        form.find_element(By.ID, button).click()

    async def through_the_pages(
        self,
        audience: str,
        account: tuple[str, str],
        shot: str,
        button: str = "allow",
        app: App | None = None,
        **extra: str,
    ) -> Landing:
        """Open the authorize URL of `app` (a new one by default) with `extra` in its query,
        log in as `account`, press `button` on the consent page and wait for the redirect
        target. The pages' screenshots are named after `shot`."""
        path, label, public = AUDIENCES[audience]
        app = app or await self.register(audience, public=public)
        pkce = Pkce()
        state = self.open_authorize(path, app, pkce, **extra)
        self.log_in(label, *account, shot)
        self.consent(app, button, shot)
        query = self.target.query_with(state)
        assert self.driver.current_url.startswith(app.redirect_uri)
        return Landing(app, pkce, query)

    async def exchange(self, landing: Landing) -> dict[str, Any]:
        """The app's back channel: the code and the PKCE verifier for tokens."""
        form = {
            "grant_type": "authorization_code",
            "code": landing.query["code"],
            "redirect_uri": landing.app.redirect_uri,
            "code_verifier": landing.pkce.verifier,
        }
        return await self.token(form | landing.app.credentials())

    async def token(self, form: dict[str, str]) -> dict[str, Any]:
        async with self.http.post(f"{self.service.base}/oauth2-token", data=form) as response:
            body: dict[str, Any] = await response.json()
            assert response.status == 200, body
        assert body["token_type"] == "Bearer"
        return body

    async def api(self, path: str, token: str) -> dict[str, Any]:
        async with self.http.get(f"{self.service.base}{path}", headers=bearer(token)) as got:
            body: dict[str, Any] = await got.json(content_type=None)
            assert got.status == 200, body
        return body


@pytest.fixture
async def journey(service: Service) -> AsyncIterator[Journey]:
    with RedirectTarget() as target, chromium() as driver:
        async with aiohttp.ClientSession() as http:
            yield Journey(service, target, driver, http)


async def test_backoffice_user_logs_in_allows_and_the_app_calls_the_api(
    journey: Journey, factory: Factory
) -> None:
    await factory.user("admin", "s3cret-pass")

    landing = await journey.through_the_pages("backoffice", ("admin", "s3cret-pass"), "backoffice")

    assert set(landing.query) == {"code", "state"}
    tokens = await journey.exchange(landing)
    assert tokens["refresh_token"]
    users = await journey.api("/api/users", tokens["access_token"])
    assert [u["attributes"]["username"] for u in users["data"]] == ["admin"]


async def test_storefront_customer_logs_in_allows_and_the_app_calls_the_api(
    journey: Journey, factory: Factory
) -> None:
    """A single-page app: a public client, so the verifier is all that proves it."""
    await factory.customer(*BUYER)

    landing = await journey.through_the_pages("storefront", BUYER, "storefront")

    tokens = await journey.exchange(landing)
    mine = "/storefront/api/customerusers/mine"
    me = await journey.api(mine, tokens["access_token"])
    assert me["data"]["attributes"]["email"] == BUYER[0]
    refresh = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refreshed = await journey.token(refresh | landing.app.credentials())
    me = await journey.api(mine, refreshed["access_token"])
    assert me["data"]["attributes"]["email"] == BUYER[0]


async def test_visitor_gets_a_code_without_logging_in_then_signs_in_as_a_customer(
    journey: Journey, factory: Factory
) -> None:
    """A guest first (authorize-visitor, no page), who then logs in: the storefront passes
    the guest's token along, and the customer's tokens name the visitor (its cart)."""
    await factory.customer(*BUYER)
    app = await journey.register("storefront", public=True)
    pkce = Pkce()

    state = journey.open_authorize(VISITOR_AUTHORIZE, app, pkce)

    landing = Landing(app, pkce, journey.target.query_with(state))
    assert set(landing.query) == {"code", "state"}
    guest = await journey.exchange(landing)
    visitor = await journey.api("/storefront/api/customervisitors/mine", guest["access_token"])
    assert visitor["data"]["type"] == "customervisitors"

    landing = await journey.through_the_pages(
        "storefront", BUYER, "visitor", app=app, visitor_access_token=guest["access_token"]
    )
    customer = await journey.exchange(landing)
    assert claims_of(customer["access_token"])["visitor"] == visitor["data"]["id"]
    me = await journey.api("/storefront/api/customerusers/mine", customer["access_token"])
    assert me["data"]["attributes"]["email"] == BUYER[0]


async def test_deny_sends_access_denied_to_the_app(journey: Journey, factory: Factory) -> None:
    await factory.customer(*BUYER)

    landing = await journey.through_the_pages("storefront", BUYER, "storefront-deny", "deny")

    assert landing.query["error"] == "access_denied"
    assert "code" not in landing.query
