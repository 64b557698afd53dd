"""Brute force and abuse: lockout, per-address limits (429 + Retry-After), trusted proxies,
request ids, and an audit trail that never holds a secret."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import Settings, replace
from tests import commands
from tests.conftest import Factory, Seeded, bearer, login, password_grant
from tests.web.test_metrics import scrape, value


async def attempt(client: TestClient[Any, Any], seeded: Seeded, **kwargs: Any) -> Any:
    headers = kwargs.pop("headers", None)
    return await client.post("/oauth2-token", json=login(seeded, **kwargs), headers=headers)


async def test_five_failures_lock_the_account_even_for_the_right_password(
    client: TestClient[Any, Any], seeded: Seeded, factory: Factory, settings: Settings
) -> None:
    await factory.user("other", password="other-pass")
    for _ in range(5):
        wrong = await attempt(client, seeded, password="wrong-pass")
        assert "hint" not in await wrong.json()

    locked = await attempt(client, seeded)
    body = await locked.json()
    assert (locked.status, body["error"], body["hint"]) == (
        400,
        "invalid_grant",
        "Account is locked.",
    )
    # By email too: the lock belongs to the account name that was attacked.
    assert (await attempt(client, seeded, username="other", password="other-pass")).status == 200

    assert (await commands.unlock(settings, "backoffice", "admin")).unlocked
    assert (await attempt(client, seeded)).status == 200


async def test_unknown_accounts_lock_alike(client: TestClient[Any, Any], seeded: Seeded) -> None:
    for _ in range(5):
        await attempt(client, seeded, username="ghost", password="guess-guess")
    body = await (await attempt(client, seeded, username="ghost", password="guess-guess")).json()
    assert body["hint"] == "Account is locked."


async def test_a_success_resets_the_account_counter(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    for _ in range(4):
        await attempt(client, seeded, password="wrong-pass")
    assert (await attempt(client, seeded)).status == 200
    for _ in range(4):
        await attempt(client, seeded, password="wrong-pass")
    assert (await attempt(client, seeded)).status == 200


async def limited(aiohttp_client: Any, settings: Settings, **protection: Any) -> Any:
    if protection.get("requests_per_minute"):
        # The rate is estimated from two fixed minutes: requests that straddle a minute's
        # start count a hair under their number. Start well inside a minute.
        into_minute = time.time() % 60
        if into_minute > 55:
            await asyncio.sleep(60.1 - into_minute)
    app = create_app(replace(settings, protection=protection))
    return await aiohttp_client(app)


async def test_requests_over_the_address_rate_get_429(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    client = await limited(aiohttp_client, settings, requests_per_minute=3)
    for _ in range(3):
        assert (await attempt(client, seeded)).status == 200
    refused = await attempt(client, seeded)
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) >= 1
    body = await refused.json()
    assert body["error"] == "too_many_requests"
    assert body["message"] == body["error_description"]


async def test_failed_logins_from_one_address_get_429(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    client = await limited(aiohttp_client, settings, max_address_failures=3)
    for name in ("a", "b", "c"):
        assert (await attempt(client, seeded, username=name, password="nope-nope")).status == 400
    assert (await attempt(client, seeded)).status == 429


async def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    client = await limited(aiohttp_client, settings, requests_per_minute=2)
    statuses = [
        (await attempt(client, seeded, headers={"X-Forwarded-For": f"203.0.113.{n}"})).status
        for n in range(3)
    ]
    assert statuses == [200, 200, 429]


async def test_x_forwarded_for_from_a_trusted_proxy_is_believed(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    client = await limited(
        aiohttp_client, settings, requests_per_minute=2, trusted_proxies=("127.0.0.0/8",)
    )
    for n in range(3):
        response = await attempt(client, seeded, headers={"X-Forwarded-For": f"203.0.113.{n}"})
        assert response.status == 200
    # The client may prepend anything; only the hop the proxy added counts.
    spoofed = {"X-Forwarded-For": "198.51.100.7, 203.0.113.0"}
    assert (await attempt(client, seeded, headers=spoofed)).status == 200
    assert (await attempt(client, seeded, headers=spoofed)).status == 429


async def test_every_answer_carries_a_request_id(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    ok = await attempt(client, seeded)
    error = await attempt(client, seeded, password="wrong-pass")
    api = await client.get("/api/users", headers=bearer("nope"))
    missing = await client.get("/nowhere")
    ids = [r.headers["X-Request-Id"] for r in (ok, error, api, missing)]
    assert all(ids) and len(set(ids)) == 4
    assert "Server" not in ok.headers

    echoed = await client.get("/api/users", headers={"X-Request-Id": "trace-123"})
    assert echoed.headers["X-Request-Id"] == "trace-123"
    cleaned = await client.get("/api/users", headers={"X-Request-Id": "bad id\\n"})
    assert cleaned.headers["X-Request-Id"] != "bad id\\n"


async def test_audit_trail_has_the_events_and_no_secret(
    client: TestClient[Any, Any], seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    from service.logs import JsonFormatter

    caplog.set_level(logging.INFO)
    tokens = await password_grant(client, seeded)
    for _ in range(5):
        await attempt(client, seeded, password="wrong-password-123")
    await client.post(
        "/oauth2-token/revoke",
        data={
            "client_id": seeded.client_id,
            "client_secret": seeded.client_secret,
            "token": tokens["refresh_token"],
        },
    )
    await client.get("/api/users", headers=bearer(tokens["access_token"]))

    lines = [JsonFormatter().format(r) for r in caplog.records]
    events = [e for e in map(json.loads, lines) if e["logger"] == "service.audit"]
    kinds = [e["message"] for e in events]
    assert kinds.count("token.issued") == 1
    assert kinds.count("token.refused") == 5
    assert "account.locked" in kinds
    assert "token.revoked" in kinds
    issued = events[kinds.index("token.issued")]
    assert issued["client_id"] == seeded.client_id
    assert issued["subject"] == "admin"
    assert issued["address"] == "127.0.0.1"
    assert issued["request_id"]

    everything = "\n".join(lines) + caplog.text
    assert seeded.client_secret
    for secret in (
        "s3cret-pass",
        "wrong-password-123",
        seeded.client_secret,
        tokens["access_token"],
        tokens["refresh_token"],
    ):
        assert secret not in everything
    assert tokens["access_token"].split(".")[2] not in everything


async def test_concurrent_right_passwords_all_succeed(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    """Each success releases its reservation: more right passwords at once than the account
    allows failures wait for a slot and get in, and do not lock anyone out."""
    for _ in range(4):
        await attempt(client, seeded, password="wrong-pass")
    answers = await asyncio.gather(*(attempt(client, seeded) for _ in range(20)))
    assert [a.status for a in answers] == [200] * 20
    for _ in range(4):
        assert "hint" not in await (await attempt(client, seeded, password="wrong-pass")).json()
    assert (await attempt(client, seeded)).status == 200


async def test_the_lock_answers_with_the_generic_grant_text(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    for _ in range(5):
        await attempt(client, seeded, password="wrong-pass")
    body = await (await attempt(client, seeded)).json()
    assert body["error"] == "invalid_grant"
    assert body["message"] == body["error_description"]
    assert body["message"].startswith("The provided authorization grant")
    assert body["hint"] == "Account is locked."


async def test_every_spelling_of_a_back_office_login_counts_against_one_account(
    client: TestClient[Any, Any], factory: Factory, settings: Settings
) -> None:
    await factory.user("admin", email="Admin@Example.com")
    seeded = await factory.client()
    # Username, email, email in other case; Postgres folds "İ" to "i", Python to "i̇".
    spellings = ["admin", "admin@example.com", "ADMIN@EXAMPLE.COM", "admİn@example.com"]
    for username in [*spellings, "ADMİN@EXAMPLE.COM"]:
        wrong = await attempt(client, seeded, username=username, password="wrong-pass")
        assert "hint" not in await wrong.json()

    for username in spellings:
        body = await (await attempt(client, seeded, username=username)).json()
        assert body["hint"] == "Account is locked."

    # Unlocked by any spelling of it, too.
    assert (await commands.unlock(settings, "backoffice", "ADMİN@example.COM")).unlocked
    assert (await attempt(client, seeded, username="admin@example.com")).status == 200


async def test_every_spelling_of_a_customer_email_counts_against_one_account(
    client: TestClient[Any, Any], factory: Factory, settings: Settings
) -> None:
    await factory.customer("iris@shop.example", password="iris-pass")
    shop = await factory.client("storefront")
    for email in [
        "iris@shop.example",
        "IRIS@shop.example",
        "İris@shop.example",
        "irİs@SHOP.example",
        "İRİS@shop.example",
    ]:
        wrong = await attempt(client, shop, username=email, password="wrong-pass")
        assert "hint" not in await wrong.json()
    right = await attempt(client, shop, username="iris@shop.example", password="iris-pass")
    assert (await right.json())["hint"] == "Account is locked."

    assert (await commands.unlock(settings, "storefront", "İRİS@SHOP.EXAMPLE")).unlocked
    right = await attempt(client, shop, username="Iris@shop.example", password="iris-pass")
    assert right.status == 200


async def test_names_that_match_no_one_lock_alike_in_every_spelling_postgres_folds(
    client: TestClient[Any, Any], factory: Factory
) -> None:
    shop = await factory.client("storefront")
    for email in [
        "nick@x.example",
        "NICK@x.example",
        "nİck@x.example",
        "NİCK@X.EXAMPLE",
        "nick@X.example",
    ]:
        await attempt(client, shop, username=email, password="wrong-pass")
    body = await (await attempt(client, shop, username="Nİck@x.example")).json()
    assert body["hint"] == "Account is locked."


def forwarded(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def test_ipv6_clients_are_limited_by_their_64(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    client = await limited(
        aiohttp_client, settings, requests_per_minute=2, trusted_proxies=("127.0.0.0/8",)
    )
    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2::3"]
    statuses = [(await attempt(client, seeded, headers=forwarded(a))).status for a in same_64]
    assert statuses == [200, 200, 429]

    other_64 = await attempt(client, seeded, headers=forwarded("2001:db8:1:3::1"))
    assert other_64.status == 200


async def test_ipv6_prefix_is_configurable_and_ipv4_mapped_counts_as_ipv4(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    client = await limited(
        aiohttp_client,
        settings,
        requests_per_minute=1,
        ipv6_prefix=48,
        trusted_proxies=("127.0.0.0/8",),
    )
    for first, second in [
        ("2001:db8:1:2::1", "2001:db8:1:3::1"),  # one /48
        ("203.0.113.9", "::ffff:203.0.113.9"),  # one IPv4 address, however written
    ]:
        assert (await attempt(client, seeded, headers=forwarded(first))).status == 200
        assert (await attempt(client, seeded, headers=forwarded(second))).status == 429
    # IPv4 stays per address.
    assert (await attempt(client, seeded, headers=forwarded("203.0.113.10"))).status == 200


async def test_failed_logins_from_one_ipv6_64_share_the_address_limit(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    client = await limited(
        aiohttp_client, settings, max_address_failures=2, trusted_proxies=("127.0.0.0/8",)
    )
    for n, name in enumerate(("a", "b")):
        headers = forwarded(f"2001:db8:7:7::{n + 1}")
        wrong = await attempt(client, seeded, username=name, password="nope", headers=headers)
        assert wrong.status == 400
    assert (await attempt(client, seeded, headers=forwarded("2001:db8:7:7::99"))).status == 429
    assert (await attempt(client, seeded, headers=forwarded("2001:db8:7:8::1"))).status == 200


async def test_guest_logins_have_their_own_per_address_limit(
    aiohttp_client: Any, settings: Settings, factory: Factory, pool: Any
) -> None:
    client = await limited(
        aiohttp_client, settings, guest_logins_per_minute=3, trusted_proxies=("127.0.0.0/8",)
    )
    shop = await factory.client("storefront")
    await factory.customer()
    here, elsewhere = forwarded("203.0.113.1"), forwarded("203.0.113.2")
    for _ in range(3):
        assert (await attempt(client, shop, username="guest", password="guest", headers=here)).ok

    before = await scrape(client)
    refused = await attempt(client, shop, username="guest", password="guest", headers=here)
    assert refused.status == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (await refused.json())["error"] == "too_many_requests"
    # No visitor row for the refused one.
    assert await pool.fetchval("SELECT count(*) FROM customer_visitors") == 3
    # Counted with the request, before the client is authenticated (the worker knows it
    # from the logins before): a wrong secret changes nothing.
    wrong = Seeded(shop.client_id, "wrong-secret")
    again = await attempt(client, wrong, username="guest", password="guest", headers=here)
    assert again.status == 429
    limited_by = value(await scrape(client), "oauth_rate_limited_total", limit="guest_logins")
    assert limited_by - value(before, "oauth_rate_limited_total", limit="guest_logins") == 2

    # Other logins from the address, and guests from elsewhere, go on.
    customer = await attempt(
        client, shop, username="buyer@shop.example", password="buyer-pass", headers=here
    )
    assert customer.status == 200
    assert (await attempt(client, shop, username="guest", password="guest", headers=elsewhere)).ok


async def test_a_guest_login_past_the_request_rate_is_refused_for_the_rate(
    aiohttp_client: Any, settings: Settings, factory: Factory, pool: Any
) -> None:
    """Both rates counted in one round trip: the request rate refuses first, and the
    refusal is the request rate's."""
    client = await limited(aiohttp_client, settings, requests_per_minute=2)
    shop = await factory.client("storefront")
    for _ in range(2):
        assert (await attempt(client, shop, username="guest", password="guest")).ok
    before = await scrape(client)
    refused = await attempt(client, shop, username="guest", password="guest")
    assert refused.status == 429
    after = await scrape(client)
    for limit, grew in (("requests", 1), ("guest_logins", 0)):
        counted = value(after, "oauth_rate_limited_total", limit=limit)
        assert counted - value(before, "oauth_rate_limited_total", limit=limit) == grew
    assert await pool.fetchval("SELECT count(*) FROM customer_visitors") == 2


async def test_past_the_rate_a_password_grant_costs_no_postgres_query(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    """The rate is counted before the client and the account are looked up: a flood of
    made-up clients and names stops at Redis."""
    client = await limited(aiohttp_client, settings, requests_per_minute=2)
    for _ in range(2):
        assert (await attempt(client, seeded)).status == 200
    before = await scrape(client)
    for n in range(5):
        made_up = {**login(seeded, username=f"nobody-{n}"), "client_id": f"made-up-{n}"}
        assert (await client.post("/oauth2-token", json=made_up)).status == 429
    after = await scrape(client)
    for table in ("oauth_clients", "users"):
        labels = {"table": table, "outcome": "ok"}
        counted = value(after, "oauth_postgres_seconds_count", **labels)
        assert counted == value(before, "oauth_postgres_seconds_count", **labels)
