"""The command line over the admin layer: clients, users, customer users and logins, with
--json, on real Postgres and Redis; and the admin listener of a served instance."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml
from aiohttp.test_utils import TestClient

from service.config import Settings
from tests.authflow import REDIRECT, authorize_url
from tests.conftest import Factory, Seeded, bearer, password_grant
from tests.servers import free_ports, service_config, service_process
from tests.test_cli import cli, ok


@pytest.fixture
def config(tmp_path: Path, settings: Settings) -> Path:
    """config.yml of the stores the test's app uses (its Redis key prefix too)."""
    path = tmp_path / "config.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": {"url": settings.database.url},
                "redis": {"url": settings.redis.url, "key_prefix": settings.redis.key_prefix},
                "tokens": {"keys_dir": settings.tokens.keys_dir},
                "server": {"var_dir": str(tmp_path / "var")},
            }
        )
    )
    return path


def fails(result: Any, option: str) -> None:
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(f"error: {option}"), result.stderr


async def test_clients_commands(
    config: Path, pool: asyncpg.Pool, client: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.user()
    created = ok(
        cli(config, "clients", "create", "--name", "Kiosk", "--access-token-lifetime", "300")
    )
    kiosk = created["client_id"]
    listed = ok(cli(config, "clients", "list", "--audience", "backoffice"))["clients"]
    assert [(c["client_id"], c["access_token_lifetime"]) for c in listed] == [(kiosk, 300)]
    assert ok(cli(config, "clients", "list", "--inactive"))["clients"] == []
    second = ok(cli(config, "clients", "create", "--name", "Till"))["client_id"]
    paged = ok(cli(config, "clients", "list", "--size", "1", "--page", "2"))
    assert (paged["total"], [c["client_id"] for c in paged["clients"]]) == (2, [second])
    ok(cli(config, "clients", "delete", "--client-id", second))
    shown = ok(cli(config, "clients", "show", "--client-id", kiosk))
    assert shown["name"] == "Kiosk" and "secret" not in json.dumps(shown)

    issued = await password_grant(client, Seeded(kiosk, created["client_secret"]))
    assert issued["expires_in"] == 300
    changed = ok(
        cli(
            config,
            "clients",
            "update",
            "--client-id",
            kiosk,
            "--name",
            "Till",
            "--access-token-lifetime",
            "config",
            "--grants",
            "password",
        )
    )
    assert (changed["name"], changed["access_token_lifetime"], changed["grants"]) == (
        "Till",
        None,
        ["password"],
    )
    fails(
        cli(config, "clients", "update", "--client-id", kiosk, "--refresh-token-lifetime", "1"),
        "--refresh-token-lifetime",
    )

    rotated = ok(cli(config, "clients", "rotate-secret", "--client-id", kiosk))
    assert rotated["client_secret"] != created["client_secret"]
    old = await client.post(
        "/oauth2-token",
        json={
            "grant_type": "password",
            "client_id": kiosk,
            "client_secret": created["client_secret"],
            "username": "admin",
            "password": "s3cret-pass",
        },
    )
    assert old.status == 401
    token = (await password_grant(client, Seeded(kiosk, rotated["client_secret"])))["access_token"]
    ok(cli(config, "clients", "delete", "--client-id", kiosk))
    assert (await client.get("/api/users", headers=bearer(token))).status == 401
    fails(cli(config, "clients", "show", "--client-id", kiosk), "--client-id")


async def test_users_and_logins_commands(
    config: Path, pool: asyncpg.Pool, client: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.user("admin")
    await factory.user("zed")
    app = await factory.client()
    page = ok(cli(config, "users", "list", "--size", "1"))
    assert page["total"] == 2 and [a["username"] for a in page["accounts"]] == ["admin"]
    assert [
        a["username"] for a in ok(cli(config, "users", "list", "--search", "ZE"))["accounts"]
    ] == ["zed"]
    assert ok(cli(config, "users", "show", "--username", "zed@example.com"))["username"] == "zed"

    first = await password_grant(client, app)
    await password_grant(client, app)
    logins = ok(cli(config, "tokens", "list", "--user", "admin"))
    assert logins["subject"] == "admin" and len(logins["logins"]) == 2
    assert {lg["client_id"] for lg in logins["logins"]} == {app.client_id}
    assert ok(cli(config, "users", "delete", "--username", "admin"))["revoked_logins"] == 2
    assert (await client.get("/api/users", headers=bearer(first["access_token"]))).status == 401
    fails(cli(config, "users", "show", "--username", "admin"), "--username")


async def test_users_and_customer_users_update(
    config: Path, pool: asyncpg.Pool, client: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.user("zed")
    app = await factory.client()
    token = (await password_grant(client, app, username="zed"))["access_token"]
    changed = ok(
        cli(
            config,
            "users",
            "update",
            "--username",
            "zed",
            "--email",
            "zed@new.example",
            "--first-name",
            "Zed",
        )
    )
    assert changed["account"]["email"] == "zed@new.example"
    assert (changed["account"]["first_name"], changed["revoked_logins"]) == ("Zed", 0)
    assert (await client.get("/api/users", headers=bearer(token))).status == 200
    disabled = ok(cli(config, "users", "update", "--username", "zed", "--disabled"))
    assert disabled["account"]["enabled"] is False and disabled["revoked_logins"] == 1
    assert (await client.get("/api/users", headers=bearer(token))).status == 401
    fails(cli(config, "users", "update", "--username", "zed"), "nothing to change")
    fails(cli(config, "users", "update", "--username", "nobody", "--enabled"), "--username")

    await factory.customer("ann@shop.example", "buyer-pass")
    shop = await factory.client(audience="storefront")
    issued = await password_grant(client, shop, username="ann@shop.example", password="buyer-pass")
    customer = ok(
        cli(
            config,
            "customer-users",
            "update",
            "--email",
            "ANN@shop.example",
            "--last-name",
            "Lee",
            "--disabled",
        )
    )
    assert customer["account"]["last_name"] == "Lee" and customer["revoked_logins"] == 1
    mine = "/storefront/api/customerusers/mine"
    assert (await client.get(mine, headers=bearer(issued["access_token"]))).status == 401
    enabled = cli(config, "customer-users", "update", "--email", "ann@shop.example", "--enabled")
    assert ok(enabled)["account"]["enabled"] is True


async def test_customer_users_commands(
    config: Path, pool: asyncpg.Pool, client: TestClient[Any, Any], factory: Factory
) -> None:
    await factory.customer("ann@shop.example", "buyer-pass")
    shop = await factory.client(audience="storefront")
    listed = ok(cli(config, "customer-users", "list"))["accounts"]
    assert [a["email"] for a in listed] == ["ann@shop.example"]
    token = await password_grant(client, shop, username="ANN@shop.example", password="buyer-pass")
    assert (
        len(ok(cli(config, "tokens", "list", "--customer-user", "ann@shop.example"))["logins"]) == 1
    )
    disabled = ok(cli(config, "customer-users", "disable", "--email", "Ann@Shop.example"))
    assert disabled["account"]["enabled"] is False and disabled["revoked_logins"] == 1
    mine = "/storefront/api/customerusers/mine"
    assert (await client.get(mine, headers=bearer(token["access_token"]))).status == 401
    ok(cli(config, "customer-users", "enable", "--email", "ann@shop.example"))
    ok(
        cli(
            config,
            "customer-users",
            "set-password",
            "--email",
            "ann@shop.example",
            "--password-stdin",
            stdin="new-buyer-pass\n",
        )
    )
    await password_grant(client, shop, username="ann@shop.example", password="new-buyer-pass")
    assert (
        ok(cli(config, "customer-users", "unlock", "--email", "ann@shop.example"))["unlocked"]
        is False
    )
    ok(cli(config, "customer-users", "delete", "--email", "ann@shop.example"))
    assert ok(cli(config, "customer-users", "list"))["accounts"] == []


def test_a_served_instance_has_its_admin_listener(
    database_url: str, redis_url: str, keys_dir: Path, tmp_path: Path, settings: Settings
) -> None:
    admin_port = free_ports(1)[0]
    conf = service_config(
        database_url,
        redis_url,
        keys_dir,
        settings.redis.key_prefix,
        admin={"host": "127.0.0.1", "port": admin_port},
    )
    with service_process(conf, tmp_path / "served") as (port, _):
        request = urllib.request.Request(
            f"http://127.0.0.1:{admin_port}/admin/keys",
            headers={"Accept": "application/vnd.api+json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310  (http, a URL built here)
            assert response.status == 200
            assert json.loads(response.read())["data"][0]["type"] == "keys"
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/keys", timeout=5)
        except urllib.error.HTTPError as exc:
            assert exc.code == 404
        else:
            raise AssertionError("the public port must not serve the admin API")


async def test_clients_update_redirect_uris_flags_and_scopes(
    config: Path, client: TestClient[Any, Any]
) -> None:
    create = ("clients", "create", "--name", "Web", "--grants", "authorization_code")
    web = ok(cli(config, *create, "--redirect-uri", REDIRECT))["client_id"]
    update = ("clients", "update", "--client-id", web)
    moved = ("https://app.example/v2/callback", "https://app.example/v3/callback")
    changed = ok(
        cli(
            config,
            *update,
            "--redirect-uri",
            moved[0],
            "--redirect-uri",
            moved[1],
            "--skip-consent",
            "--allow-plain-pkce",
            "--scopes",
            "read write",
        )
    )
    assert changed["redirect_uris"] == list(moved)
    assert (changed["skip_consent"], changed["allow_plain_pkce"]) == (True, True)
    assert changed["scopes"] == ["read", "write"]

    # `client` has not read the client before: no cached row.
    seeded = Seeded(web, None)
    page = await client.get(authorize_url(seeded, redirect_uri=moved[1]), allow_redirects=False)
    assert page.status == 200
    old = await client.get(authorize_url(seeded), allow_redirects=False)
    assert old.status == 400 and '<h1 id="error">' in await old.text()

    cleared = ok(cli(config, *update, "--any-scope", "--no-skip-consent"))
    assert (cleared["scopes"], cleared["skip_consent"]) == (None, False)
    assert cleared["redirect_uris"] == list(moved)
    fails(cli(config, *update, "--redirect-uri", "https://a.example/#x"), "--redirect-uri")
    fails(cli(config, *update, "--scopes", "bad\\scope"), "--scopes")
    password = ok(cli(config, "clients", "create", "--name", "Kiosk"))["client_id"]
    fails(
        cli(config, "clients", "update", "--client-id", password, "--grants", "authorization_code"),
        "--redirect-uri",
    )
