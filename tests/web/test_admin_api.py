"""The admin API on its own listener: every resource on real Postgres and Redis, its error
documents, who may call it, and that its changes reach every instance."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis

from service.app import create_admin_app, create_app
from service.config import Settings, replace
from tests.authflow import REDIRECT, authorize_url
from tests.conftest import (
    Factory,
    Seeded,
    bearer,
    claims_of,
    grant,
    login,
    password_grant,
    token_request,
)

JSONAPI = {"Accept": "application/vnd.api+json", "Content-Type": "application/vnd.api+json"}
Client = TestClient[Any, Any]
MakeClient = Callable[..., Awaitable[Client]]


@pytest.fixture
async def admin(aiohttp_client: MakeClient, client: Client) -> Client:
    """The admin API beside the `client` instance, on loopback (no token needed)."""
    return await aiohttp_client(create_admin_app(client.server.app))


@pytest.fixture
async def other(aiohttp_client: MakeClient, settings: Settings) -> Client:
    """A second instance of the service on the same stores."""
    return await aiohttp_client(create_app(settings))


def doc(kind: str, **attributes: Any) -> dict[str, Any]:
    return {"data": {"type": kind, "attributes": attributes}}


async def call(admin: Client, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    response = await admin.request(method, path, json=body, headers=JSONAPI)
    assert response.status == status, await response.text()
    assert response.content_type == "application/vnd.api+json"
    return await response.json()


async def new_client(api: Client, **attributes: Any) -> Seeded:
    body = await call(api, "POST", "/admin/clients", doc("clients", name="App", **attributes), 201)
    return Seeded(body["data"]["id"], body["data"]["meta"]["clientSecret"])


async def api_status(instance: Client, token: str) -> int:
    return (await instance.get("/api/users", headers=bearer(token))).status


async def test_the_public_port_has_no_admin_route(client: Client, seeded: Seeded) -> None:
    for path in ("/admin/clients", "/admin/users", "/admin/keys"):
        assert (await client.get(path)).status == 404
    assert (await client.post("/admin/clients", json=doc("clients", name="x"))).status == 404


async def test_a_client_onboarded_listed_changed_and_deleted(
    admin: Client, client: Client, other: Client, factory: Factory, redis: Redis, settings: Settings
) -> None:
    await factory.user()
    app = await new_client(admin, accessTokenLifetime=300, refreshTokenLifetime=7200)
    shown = (await call(admin, "GET", f"/admin/clients/{app.client_id}"))["data"]
    assert shown["attributes"]["accessTokenLifetime"] == 300
    assert "secretDigest" not in shown["attributes"] and "meta" not in shown

    # The client's own lifetimes: expires_in, exp and the records' TTLs follow them.
    issued = await password_grant(client, app)
    assert issued["expires_in"] == 300
    access, refresh = claims_of(issued["access_token"]), claims_of(issued["refresh_token"])
    assert access["exp"] - access["iat"] == 300
    assert refresh["exp"] - refresh["iat"] == 7200
    prefix = settings.redis.key_prefix
    assert 295 <= await redis.ttl(f"{prefix}{{{access['fid']}}}:a:{access['jti']}") <= 300
    assert 7190 <= await redis.ttl(f"{prefix}{{{access['fid']}}}:f") <= 7200

    # Back to config.yml's
    body = doc("clients", name="Renamed", accessTokenLifetime=None, grants=["password"])
    changed = (await call(admin, "PATCH", f"/admin/clients/{app.client_id}", body))["data"]
    assert changed["attributes"]["name"] == "Renamed"
    assert changed["attributes"]["grants"] == ["password"]
    assert (await password_grant(other, app))["expires_in"] == 3600

    listed = await call(admin, "GET", "/admin/clients?filter[audience]=backoffice")
    assert [c["id"] for c in listed["data"]] == [app.client_id]
    assert (await call(admin, "GET", "/admin/clients?filter[active]=false"))["data"] == []

    token = issued["access_token"]
    assert await api_status(other, token) == 200
    await call(admin, "DELETE", f"/admin/clients/{app.client_id}")
    # Dead on every instance at once, though both have seen the client and its token.
    assert await api_status(client, token) == 401
    assert await api_status(other, token) == 401
    # An instance with the row still cached finds the refresh token revoked.
    refused = await token_request(
        client, app, "refresh_token", refresh_token=issued["refresh_token"]
    )
    assert refused.status in (400, 401)


async def test_a_deleted_client_cannot_refresh(
    admin: Client, client: Client, factory: Factory
) -> None:
    await factory.user()
    app = await new_client(admin)
    issued = await password_grant(client, app)
    await call(admin, "DELETE", f"/admin/clients/{app.client_id}")
    body = {**login(app), "grant_type": "refresh_token", "refresh_token": issued["refresh_token"]}
    # 401 unknown client; 400 revoked, from an instance that still has the row cached
    assert (await client.post("/oauth2-token", json=body)).status in (400, 401)
    await call(admin, "GET", f"/admin/clients/{app.client_id}", status=404)


async def test_a_deactivated_clients_tokens_die_on_every_instance(
    admin: Client, client: Client, other: Client, factory: Factory
) -> None:
    await factory.user()
    app = await new_client(admin)
    token = (await password_grant(client, app))["access_token"]
    assert await api_status(other, token) == 200
    body = doc("clients", active=False)
    await call(admin, "PATCH", f"/admin/clients/{app.client_id}", body)
    assert await api_status(client, token) == 401
    assert await api_status(other, token) == 401
    # Refused (or revoked as it is recorded, by an instance with the row still cached)
    assert (await client.post("/oauth2-token", json=login(app))).status in (400, 401)


async def test_a_rotated_secret_stops_the_old_one_at_once(
    admin: Client, client: Client, other: Client, factory: Factory
) -> None:
    await factory.user()
    app = await new_client(admin)
    # Both instances have the client's row (and the old secret's digest) cached.
    token = (await password_grant(client, app))["access_token"]
    await password_grant(other, app)
    rotated = await call(admin, "POST", f"/admin/clients/{app.client_id}/secret")
    secret = rotated["data"]["meta"]["clientSecret"]
    assert secret != app.client_secret
    for instance in (client, other):
        # Whatever an instance still answers with its cached row, no token from the old
        # secret lives; the token got with it before is revoked too.
        response = await instance.post("/oauth2-token", json=login(app))
        if response.status == 200:
            assert await api_status(instance, (await response.json())["access_token"]) == 401
        else:
            assert response.status == 401
        assert await api_status(instance, token) == 401
        fresh = await password_grant(instance, Seeded(app.client_id, secret))
        assert await api_status(instance, fresh["access_token"]) == 200


async def test_client_tokens_revoked_on_demand(
    admin: Client, client: Client, factory: Factory
) -> None:
    await factory.user()
    app = await new_client(admin)
    token = (await password_grant(client, app))["access_token"]
    body = await call(admin, "DELETE", f"/admin/clients/{app.client_id}/tokens")
    assert body["meta"]["revokedBefore"] > 0
    assert await api_status(client, token) == 401


async def test_the_client_list_is_paged_and_its_links_keep_the_filters(
    admin: Client, factory: Factory
) -> None:
    ids = [(await new_client(admin)).client_id for _ in range(3)]
    await new_client(admin, audience="storefront")
    query = "filter[audience]=backoffice&page[size]=2"
    first = await call(admin, "GET", f"/admin/clients?{query}")
    assert [c["id"] for c in first["data"]] == ids[:2]
    assert first["meta"]["totalCount"] == 3
    assert first["links"] == {
        "self": "/admin/clients?filter[audience]=backoffice&page[size]=2&page[number]=1",
        "next": "/admin/clients?filter[audience]=backoffice&page[size]=2&page[number]=2",
    }
    second = await call(admin, "GET", first["links"]["next"])
    assert [c["id"] for c in second["data"]] == ids[2:]
    assert "next" not in second["links"] and second["links"]["prev"] == first["links"]["self"]
    everyone = await call(admin, "GET", "/admin/clients")
    assert everyone["meta"]["totalCount"] == 4 and len(everyone["data"]) == 4
    for bad in ("page[size]=0", "page[size]=101", "page[number]=x", "page[offset]=1"):
        await call(admin, "GET", f"/admin/clients?{bad}", status=400)
    users = await call(admin, "GET", "/admin/users?filter[search]=a&page[size]=1")
    assert users["links"]["self"] == "/admin/users?filter[search]=a&page[size]=1&page[number]=1"


async def test_a_public_client_is_refused_client_credentials_with_a_pointer(
    admin: Client, factory: Factory
) -> None:
    await factory.user(username="ops")
    body = await call(
        admin,
        "POST",
        "/admin/clients",
        doc(
            "clients",
            name="Spa",
            public=True,
            ownerUser="ops",
            grants=["password"],
            refresh=False,
        ),
        201,
    )
    path = f"/admin/clients/{body['data']['id']}"
    refused = await call(
        admin, "PATCH", path, doc("clients", grants=["client_credentials"]), status=400
    )
    [error] = refused["errors"]
    assert error["source"] == {"pointer": "/data/attributes/grants"}
    assert "secret" in error["detail"]
    assert (await call(admin, "GET", path))["data"]["attributes"]["grants"] == ["password"]


async def test_users_created_listed_changed_and_deleted(
    admin: Client, client: Client, other: Client, factory: Factory
) -> None:
    app = await factory.client()
    created = await call(
        admin,
        "POST",
        "/admin/users",
        doc("users", username="jane", email="jane@example.com", password="long-enough-1"),
        201,
    )
    jane = created["data"]["id"]
    await factory.user("bob")
    page = await call(admin, "GET", "/admin/users?page[size]=1&page[number]=1")
    assert page["meta"]["totalCount"] == 2 and len(page["data"]) == 1
    assert "next" in page["links"]
    found = await call(admin, "GET", "/admin/users?filter[search]=JANE")
    assert [u["attributes"]["username"] for u in found["data"]] == ["jane"]

    issued = await password_grant(client, app, username="jane", password="long-enough-1")
    await grant(client, app, "refresh_token", refresh_token=issued["refresh_token"])
    await password_grant(client, app, username="jane", password="long-enough-1")
    logins = await call(admin, "GET", f"/admin/users/{jane}/logins")
    assert logins["meta"]["subject"] == "jane"
    assert len(logins["data"]) == 2
    assert {lg["attributes"]["clientId"] for lg in logins["data"]} == {app.client_id}
    refreshed = [lg for lg in logins["data"] if lg["attributes"]["refreshedAt"]]
    assert len(refreshed) == 1
    assert refreshed[0]["attributes"]["loggedInAt"] <= refreshed[0]["attributes"]["refreshedAt"]

    token = (await password_grant(client, app, username="jane", password="long-enough-1"))[
        "access_token"
    ]
    changed = await call(
        admin, "PATCH", f"/admin/users/{jane}", doc("users", enabled=False, firstName="J")
    )
    assert changed["data"]["attributes"]["enabled"] is False
    assert changed["meta"]["revokedLogins"] == 3
    assert await api_status(other, token) == 401
    await call(admin, "PATCH", f"/admin/users/{jane}", doc("users", enabled=True))

    body = doc("passwords", password="another-one-2")
    await call(admin, "POST", f"/admin/users/{jane}/password", body)
    await password_grant(client, app, username="jane", password="another-one-2")
    await call(admin, "POST", f"/admin/users/{jane}/unlock")
    token = (await password_grant(client, app, username="jane", password="another-one-2"))[
        "access_token"
    ]
    revoked = await call(admin, "DELETE", f"/admin/users/{jane}/tokens")
    assert revoked["meta"]["revokedLogins"] == 2
    assert await api_status(client, token) == 401

    token = (await password_grant(client, app, username="jane", password="another-one-2"))[
        "access_token"
    ]
    await call(admin, "DELETE", f"/admin/users/{jane}")
    assert await api_status(other, token) == 401
    await call(admin, "GET", f"/admin/users/{jane}", status=404)


async def test_customer_users(admin: Client, client: Client, factory: Factory) -> None:
    shop = await factory.client(audience="storefront")
    body = doc("customer-users", email="Ann@Shop.example", password="long-enough-1")
    ann = (await call(admin, "POST", "/admin/customer-users", body, 201))["data"]
    assert "username" not in ann["attributes"]
    listed = await call(admin, "GET", "/admin/customer-users?filter[search]=ann@")
    assert [c["id"] for c in listed["data"]] == [ann["id"]]
    issued = await password_grant(
        client, shop, username="ann@shop.example", password="long-enough-1"
    )
    mine = f"{'/storefront/api'}/customerusers/mine"
    assert (await client.get(mine, headers=bearer(issued["access_token"]))).status == 200
    # The email is the tokens' subject: it is not changed in place.
    refused = await call(
        admin,
        "PATCH",
        f"/admin/customer-users/{ann['id']}",
        doc("customer-users", email="x@y.example"),
        400,
    )
    assert refused["errors"][0]["source"] == {"pointer": "/data/attributes/email"}
    await call(
        admin, "PATCH", f"/admin/customer-users/{ann['id']}", doc("customer-users", enabled=False)
    )
    assert (await client.get(mine, headers=bearer(issued["access_token"]))).status == 401
    await call(admin, "DELETE", f"/admin/customer-users/{ann['id']}")
    await call(admin, "GET", f"/admin/customer-users/{ann['id']}", status=404)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (doc("clients", name="x", grants=["implicit"]), "/data/attributes/grants"),
        (doc("clients", name="x", accessTokenLifetime=5), "/data/attributes/accessTokenLifetime"),
        (
            doc("clients", name="x", accessTokenLifetime="60"),
            "/data/attributes/accessTokenLifetime",
        ),
        (doc("clients", name="x", colour="red"), "/data/attributes/colour"),
        (doc("clients"), "/data/attributes/name"),
        (
            doc("clients", name="x", public=True, grants=["client_credentials"]),
            "/data/attributes/grants",
        ),
        ({"data": {"type": "users", "attributes": {"name": "x"}}}, "/data/type"),
        ({"data": []}, "/data"),
        ([1, 2], "/data"),
    ],
)
async def test_refusals_point_at_the_member(admin: Client, body: Any, pointer: str) -> None:
    response = await admin.post("/admin/clients", json=body, headers=JSONAPI)
    assert response.status in (400, 409)
    [error] = (await response.json())["errors"]
    assert error["source"]["pointer"] == pointer


async def test_other_errors_are_documents(admin: Client, factory: Factory) -> None:
    await call(admin, "GET", "/admin/clients/nope", status=404)
    await call(admin, "GET", "/admin/users/99999", status=404)
    await call(admin, "GET", "/admin/users?page[size]=1000", status=400)
    body = doc("users", username="a", email="a@example.com", password="long-enough-1")
    await call(admin, "POST", "/admin/users", body, 201)
    await call(admin, "POST", "/admin/users", body, 409)
    short = doc("users", username="b", email="b@example.com", password="short")
    refused = await call(admin, "POST", "/admin/users", short, 400)
    assert refused["errors"][0]["source"]["pointer"] == "/data/attributes/password"
    response = await admin.post("/admin/users", data=b"{", headers=JSONAPI)
    assert response.status == 400
    assert (await admin.get("/admin/nothing")).status == 404


async def test_keys(admin: Client, settings: Settings, tmp_path: Any) -> None:
    listed = (await call(admin, "GET", "/admin/keys"))["data"]
    assert [k["attributes"]["signing"] for k in listed] == [True]
    await call(admin, "DELETE", "/admin/keys/no-such-kid", status=404)


async def test_keys_rotate_and_retire(
    aiohttp_client: MakeClient, settings: Settings, tmp_path: Any
) -> None:
    from service.oauth import keys

    keys.generate(tmp_path)
    own = replace(settings, tokens={"keys_dir": str(tmp_path)})
    admin = await aiohttp_client(
        create_admin_app((await aiohttp_client(create_app(own))).server.app)
    )
    new = (await call(admin, "POST", "/admin/keys", None, 201))["data"]
    listed = (await call(admin, "GET", "/admin/keys"))["data"]
    assert new["id"] in [k["id"] for k in listed] and len(listed) == 2
    await call(admin, "DELETE", f"/admin/keys/{new['id']}")
    [only] = (await call(admin, "GET", "/admin/keys"))["data"]
    # The only key that may sign: retiring it needs force (a compromised key).
    refused = await call(admin, "DELETE", f"/admin/keys/{only['id']}", status=409)
    assert "only key that may sign" in refused["errors"][0]["detail"]
    assert "?force=true" in refused["errors"][0]["detail"]
    await call(admin, "DELETE", f"/admin/keys/{only['id']}?force=yes", status=400)
    await call(admin, "DELETE", f"/admin/keys/{only['id']}?force=true")
    assert not await asyncio.to_thread(lambda: list(Path(tmp_path).glob("*.pem")))


@pytest.fixture
async def remote(
    aiohttp_client: MakeClient, settings: Settings, pool: Any
) -> tuple[Client, Client]:
    """An instance whose admin listener is on a non-loopback address, and its admin API."""
    remote_settings = replace(settings, admin={"host": "0.0.0.0"})  # noqa: S104  (never bound)
    main = await aiohttp_client(create_app(remote_settings))
    return main, await aiohttp_client(create_admin_app(main.server.app))


async def test_a_non_local_listener_takes_only_admin_tokens(
    remote: tuple[Client, Client], admin: Client, factory: Factory, caplog: Any
) -> None:
    main, api = remote
    ops = await factory.user("ops", password="s3cret-pass")
    assert (await api.get("/admin/clients", headers=JSONAPI)).status == 401
    response = await api.get("/admin/clients", headers=bearer("not-a-token"))
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'

    # A user's token, or a client_credentials one of a client that is not an admin client
    user_token = (await password_grant(main, await factory.client(), username="ops"))[
        "access_token"
    ]
    assert (await api.get("/admin/clients", headers=bearer(user_token))).status == 403
    plain = await new_client(admin, grants=["client_credentials"], ownerUser="ops")
    plain_token = (await grant(main, plain, "client_credentials"))["access_token"]
    assert (await api.get("/admin/clients", headers=bearer(plain_token))).status == 403

    robot = await new_client(admin, grants=["client_credentials"], ownerUser="ops", admin=True)
    issued = await grant(main, robot, "client_credentials")
    assert claims_of(issued["access_token"])["scopes"] == ["admin"]
    headers = {**JSONAPI, "Authorization": f"Bearer {issued['access_token']}"}
    with caplog.at_level(logging.INFO, logger="service.audit"):
        response = await api.post(
            "/admin/clients", json=doc("clients", name="made remotely"), headers=headers
        )
    assert response.status == 201
    [event] = [r for r in caplog.records if r.getMessage() == "client.created"]
    assert event.audit["by"] == f"client:{robot.client_id}"  # type: ignore[attr-defined]

    # Deactivated: its token is dead, and the admin API says so at once.
    await call(admin, "PATCH", f"/admin/clients/{robot.client_id}", doc("clients", active=False))
    assert (await api.get("/admin/clients", headers=headers)).status == 401
    assert ops.username == "ops"


@pytest.fixture
async def web_browser(aiohttp_client: MakeClient, settings: Settings) -> Client:
    """An instance on an http issuer: its session cookie goes back over plain http."""
    return await aiohttp_client(
        create_app(replace(settings, tokens={"issuer": "http://auth.test"}))
    )


async def test_redirect_uris_and_flags_changed_reach_the_authorize_page(
    aiohttp_client: MakeClient, web_browser: Client, factory: Factory
) -> None:
    api = await aiohttp_client(create_admin_app(web_browser.server.app))
    await factory.user()
    app = await new_client(
        api, grants=["authorization_code"], redirectUris=[REDIRECT], skipConsent=True
    )
    shown = (await call(api, "GET", f"/admin/clients/{app.client_id}"))["data"]["attributes"]
    assert (shown["redirectUris"], shown["skipConsent"]) == ([REDIRECT], True)
    assert (shown["allowPlainPkce"], shown["scopes"]) == (False, None)

    moved = "https://app.example/v2/callback"
    body = doc("clients", redirectUris=[moved], skipConsent=False, allowPlainPkce=True)
    changed = (await call(api, "PATCH", f"/admin/clients/{app.client_id}", body))["data"]
    assert changed["attributes"]["redirectUris"] == [moved]
    assert changed["attributes"]["allowPlainPkce"] is True

    # This instance has not read the client before: no cached row.
    page = await web_browser.get(authorize_url(app, redirect_uri=moved), allow_redirects=False)
    assert page.status == 200 and "_csrf_token" in await page.text()
    old = await web_browser.get(authorize_url(app), allow_redirects=False)
    assert old.status == 400 and '<h1 id="error">' in await old.text()
    assert "Location" not in old.headers


async def test_scopes_narrowed_are_enforced_at_the_token_endpoint(
    admin: Client, other: Client, factory: Factory
) -> None:
    await factory.user()
    app = await new_client(admin)
    body = doc("clients", scopes="read write")
    changed = (await call(admin, "PATCH", f"/admin/clients/{app.client_id}", body))["data"]
    assert changed["attributes"]["scopes"] == ["read", "write"]
    # `other` has not cached the client.
    assert (await password_grant(other, app, scope="read"))["access_token"]
    login_ = {"username": "admin", "password": "s3cret-pass", "scope": "read delete"}
    refused = await token_request(other, app, "password", **login_)
    assert refused.status == 400
    assert (await refused.json())["error"] == "invalid_scope"

    cleared = doc("clients", scopes=None)
    assert (await call(admin, "PATCH", f"/admin/clients/{app.client_id}", cleared))["data"][
        "attributes"
    ]["scopes"] is None


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"grants": ["authorization_code"]}, "/data/attributes/redirectUris"),
        ({"redirectUris": ["/relative"]}, "/data/attributes/redirectUris"),
        ({"redirectUris": ["https://a.example/cb#frag"]}, "/data/attributes/redirectUris"),
        ({"redirectUris": [1]}, "/data/attributes/redirectUris"),
        ({"skipConsent": "yes"}, "/data/attributes/skipConsent"),
        ({"scopes": "bad\\scope"}, "/data/attributes/scopes"),
        ({"scopes": ["read"]}, "/data/attributes/scopes"),
    ],
)
async def test_client_changes_refused_with_a_pointer(
    admin: Client, attributes: dict[str, Any], pointer: str
) -> None:
    app = await new_client(admin, grants=["password"])
    response = await admin.patch(
        f"/admin/clients/{app.client_id}", json=doc("clients", **attributes), headers=JSONAPI
    )
    assert response.status == 400, await response.text()
    [error] = (await response.json())["errors"]
    assert error["source"]["pointer"] == pointer


async def test_a_code_client_keeps_a_redirect_uri(admin: Client) -> None:
    app = await new_client(admin, grants=["authorization_code"], redirectUris=[REDIRECT])
    body = doc("clients", redirectUris=[])
    response = await admin.patch(f"/admin/clients/{app.client_id}", json=body, headers=JSONAPI)
    assert response.status == 400
    [error] = (await response.json())["errors"]
    assert error["source"]["pointer"] == "/data/attributes/redirectUris"
    refused = await admin.post(
        "/admin/clients",
        json=doc("clients", name="x", grants=["authorization_code"]),
        headers=JSONAPI,
    )
    [error] = (await refused.json())["errors"]
    assert error["source"]["pointer"] == "/data/attributes/redirectUris"
