"""The OpenAPI document matches the server: every route is documented, schemathesis finds
no failure against the live server, and random input never gets a 5xx (hypothesis)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx2
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import positive_data_acceptance

from service.app import create_app
from service.config import ApiSettings, Settings, replace
from service.oauth.passwords import Passwords
from service.web.openapi import document
from tests.conftest import FAST_HASHING, Factory, Seeded
from tests.servers import apps_in_thread

SCHEMA = schemathesis.openapi.from_dict(document(ApiSettings()))
JSONAPI = "application/vnd.api+json"


@dataclass
class Live:
    base: str
    client_id: str
    client_secret: str
    token: str


def live_settings(database_url: str, redis_url: str, keys_dir: Path) -> Settings:
    """The suite's stores, its own Redis prefix, no limit that random calls would trip."""
    return replace(
        Settings(),
        database={"url": database_url, "pool_min_size": 1, "pool_max_size": 4},
        redis={"url": redis_url, "key_prefix": f"test:{secrets.token_hex(4)}:"},
        tokens={"keys_dir": str(keys_dir)},
        password_hashing=FAST_HASHING,
        maintenance={"cleanup_interval": 0},
        protection={"requests_per_minute": 0, "max_address_failures": 0, "max_account_failures": 0},
    )


async def seed(config: Settings) -> Seeded:
    """Only the user `admin` and one client of its audience."""
    pool = await asyncpg.create_pool(config.database.url, min_size=1, max_size=1)
    await pool.execute(
        "TRUNCATE users, customer_users, customer_visitors, oauth_clients RESTART IDENTITY CASCADE"
    )
    factory = Factory(pool, Passwords(config.password_hashing))
    await factory.user()
    seeded = await factory.client()
    factory.passwords.close()
    await pool.close()
    return seeded


@pytest.fixture(scope="module")
def live(database_url: str, redis_url: str, keys_dir: Path) -> Iterator[Live]:
    """The real app on a real port, in a thread of its own, so sync clients can call it."""
    config = live_settings(database_url, redis_url, keys_dir)
    with apps_in_thread(create_app(config), then=lambda: seed(config)) as ([base], seeded):
        assert seeded.client_secret
        token = httpx2.post(
            f"{base}/oauth2-token",
            json={
                "grant_type": "password",
                "client_id": seeded.client_id,
                "client_secret": seeded.client_secret,
                "username": "admin",
                "password": "s3cret-pass",
            },
        ).json()["access_token"]
        yield Live(base, seeded.client_id, seeded.client_secret, token)


def test_every_route_is_documented_and_every_documented_route_exists(
    settings: Settings,
) -> None:
    app = create_app(settings)
    served = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter", "")
        served.add((route.method.lower(), path.replace("{id:[0-9]{1,19}}", "{id}")))
    documented = {
        (method, path) for path, item in document(settings.api)["paths"].items() for method in item
    }
    assert served == documented


@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_schemathesis(case: Any, live: Live) -> None:
    headers = (
        {"Authorization": f"Bearer {live.token}"}
        if case.operation.path.startswith(("/api", "/storefront"))
        else {}
    )
    # Valid-looking but random credentials are refused by design, so "schema-valid input is
    # accepted" does not hold for an auth server; every other check does.
    case.call_and_validate(
        base_url=live.base, headers=headers, excluded_checks=[positive_data_acceptance]
    )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=5)
    ),
    max_leaves=20,
)
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=80).map(
    str.strip
)
PARAM_NAMES = st.sampled_from(
    ["grant_type", "client_id", "client_secret", "username", "password", "refresh_token", "x"]
)


def assert_oauth_shape(response: httpx2.Response) -> None:
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code == 200:
        assert body["token_type"] == "Bearer"
    else:
        assert {"error", "error_description", "message"} <= set(body)
        assert body["message"] == body["error_description"]
    assert "Traceback" not in response.text


@given(body=JSON_VALUES)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_json_bodies(live: Live, body: Any) -> None:
    assert_oauth_shape(
        httpx2.post(
            f"{live.base}/oauth2-token",
            content=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
    )


@given(
    params=st.dictionaries(PARAM_NAMES | st.text(max_size=10), st.text(max_size=40), max_size=6),
    authorization=st.none() | HEADER_TEXT,
)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_form_bodies_and_authorization(
    live: Live, params: dict[str, str], authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    params = {"grant_type": "password", "client_id": live.client_id, **params}
    assert_oauth_shape(httpx2.post(f"{live.base}/oauth2-token", data=params, headers=headers))


@given(raw=st.binary(max_size=300), content_type=HEADER_TEXT)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_bytes_and_content_types(live: Live, raw: bytes, content_type: str) -> None:
    assert_oauth_shape(
        httpx2.post(
            f"{live.base}/oauth2-token", content=raw, headers={"Content-Type": content_type}
        )
    )


@given(
    authorization=HEADER_TEXT,
    accept=st.none() | HEADER_TEXT,
    path=st.sampled_from(
        [
            "/api/users",
            "/api/users/1",
            "/api/users?page[size]=x",
            "/storefront/api/customerusers/mine",
        ]
    ),
)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_random_api_headers(live: Live, authorization: str, accept: str | None, path: str) -> None:
    headers = {"Authorization": authorization, **({"Accept": accept} if accept else {})}
    response = httpx2.get(f"{live.base}{path}", headers=headers)
    assert response.status_code in (400, 401, 406), response.text
    assert response.headers["Content-Type"] == JSONAPI
    assert response.json()["errors"][0]["status"] == str(response.status_code)
