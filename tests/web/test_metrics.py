"""GET /metrics: requests by route pattern and status, grants by type and outcome, and the
password-hash, Redis and Postgres latency histograms (read back through the text format);
a scrape token, and a listener of its own with several workers."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from service.app import create_app
from service.config import Settings, replace
from service.metrics import Batch
from tests.conftest import Seeded, bearer, password_grant
from tests.servers import free_ports, service_config, service_process, wait_until


async def scrape(
    client: TestClient[Any, Any],
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.content_type == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(await response.text()):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_requests_are_counted_by_route_pattern_and_status(
    client: TestClient[Any, Any],
) -> None:
    before = await scrape(client)
    for user_id in ("1", "2", "3"):
        assert (await client.get(f"/api/users/{user_id}", headers=bearer("x"))).status == 401
    assert (await client.get("/no/such/path/12345")).status == 404
    after = await scrape(client)

    name = "oauth_http_requests_total"
    route = {"method": "GET", "route": "/api/users/{id}", "status": "401"}
    assert value(after, name, **route) - value(before, name, **route) == 3
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, name, **unmatched) - value(before, name, **unmatched) == 1
    body = await (await client.get("/metrics")).text()
    assert "/api/users/1" not in body
    assert "12345" not in body


async def test_grants_are_counted_by_type_and_outcome(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    before = await scrape(client)
    await password_grant(client, seeded)
    base = {"client_id": seeded.client_id, "client_secret": seeded.client_secret}
    wrong = {**base, "grant_type": "password", "username": "admin", "password": "nope"}
    assert (await client.post("/oauth2-token", json=wrong)).status == 400
    odd = {**base, "grant_type": "urn:made:up"}
    assert (await client.post("/oauth2-token", json=odd)).status == 400
    after = await scrape(client)

    def delta(grant_type: str, outcome: str) -> float:
        labels = {"grant_type": grant_type, "outcome": outcome}
        return value(after, "oauth_grants_total", **labels) - value(
            before, "oauth_grants_total", **labels
        )

    assert delta("password", "issued") == 1
    assert delta("password", "invalid_grant") == 1
    assert delta("other", "unsupported_grant_type") == 1
    assert "urn:made:up" not in (await (await client.get("/metrics")).text())


async def test_store_and_hashing_latencies_are_observed(
    client: TestClient[Any, Any], seeded: Seeded
) -> None:
    before = await scrape(client)
    await password_grant(client, seeded)
    after = await scrape(client)

    def grew(name: str, **labels: str) -> bool:
        return value(after, name, **labels) > value(before, name, **labels)

    assert grew("oauth_password_hash_seconds_count", op="verify")
    assert grew("oauth_redis_seconds_count", outcome="ok")
    assert grew("oauth_postgres_seconds_count", table="users", outcome="ok")
    assert grew("oauth_http_request_duration_seconds_count", route="/oauth2-token")


async def test_clients_cannot_mint_label_values(client: TestClient[Any, Any]) -> None:
    """Odd methods and paths fold into "other" and "unmatched": no series per request."""
    assert (await client.request("PROPFIND", "/x/y/z")).status == 404
    body = await (await client.get("/metrics")).text()
    assert 'method="other",route="unmatched",status="404"' in body
    assert "PROPFIND" not in body
    assert "/x/y/z" not in body


async def test_a_metrics_token_is_asked_for_when_set(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]], settings: Settings
) -> None:
    token = "scrape-token-0123456789"
    client = await aiohttp_client(create_app(replace(settings, metrics={"token": token})))
    for sent in (None, "Bearer wrong-token", f"Basic {token}", f"Bearer {token}x"):
        headers = {"Authorization": sent} if sent else {}
        refused = await client.get("/metrics", headers=headers)
        assert refused.status == 401
        assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert "oauth_" not in await refused.text()
    allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert allowed.status == 200
    assert "oauth_http_requests_total" in await allowed.text()


def test_metrics_on_a_listener_of_their_own_sum_every_worker(
    tmp_path: Path, database_url: str, redis_url: str, keys_dir: Path
) -> None:
    """`metrics.port` with 2 workers: /metrics leaves the main port; on its own port it
    counts the requests of both workers and asks for SERVICE_METRICS_TOKEN."""
    metrics_port = free_ports(1)[0]
    prefix = "test:metrics-listener:"
    config = service_config(
        database_url, redis_url, keys_dir, prefix, metrics={"port": metrics_port}
    )
    token = "scrape-token-0123456789"
    with service_process(config, tmp_path, env={"SERVICE_METRICS_TOKEN": token}) as (port, _):
        wait_until(lambda: get(metrics_port, "/metrics", token)[0] == 200, "metrics listener")
        assert get(port, "/metrics", token)[0] == 404
        assert get(metrics_port, "/metrics", None)[0] == 401
        for _ in range(40):  # a connection each: the kernel spreads them over the workers
            assert get(port, "/health/live", None)[0] == 200
        seen: list[dict[tuple[str, tuple[tuple[str, str], ...]], float]] = []

        def scraped() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
            status, text = get(metrics_port, "/metrics", token)
            assert status == 200
            seen.append(
                {
                    (s.name, tuple(sorted(s.labels.items()))): s.value
                    for family in text_string_to_metric_families(text)
                    for s in family.samples
                }
            )
            return seen[-1]

        live = (("method", "GET"), ("route", "/health/live"), ("status", "200"))
        # Each worker writes its counts out within Batch.FLUSH_SECONDS.
        wait_until(lambda: scraped()[("oauth_http_requests_total", live)] == 40, "40 counted", 5)
    assert all(s.get(("oauth_http_requests_total", live), 0) <= 40 for s in seen)
    assert seen[-1][("oauth_keys_last_reload_timestamp_seconds", ())] > time.time() - 120


def get(port: int, path: str, token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


def _exposed(registry: CollectorRegistry, prefix: str) -> dict[tuple[str, str], float]:
    """The samples of the metrics named `prefix`..., with the prefix cut off their names."""
    return {
        (s.name.removeprefix(prefix), s.labels.get("le", "")): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
        if s.name.startswith(prefix) and not s.name.endswith("_created")
    }


async def test_a_batch_writes_within_a_second_what_each_sample_would_have() -> None:
    registry = CollectorRegistry()
    buckets = (0.001, 0.01, 0.1)
    made = {
        name: (
            Counter(f"{name}_calls", "calls", registry=registry),
            Histogram(f"{name}_seconds", "time", buckets=buckets, registry=registry),
        )
        for name in ("direct", "batched")
    }
    batch = Batch()
    batch.FLUSH_SECONDS = 0.2
    # Below, on and above each bound, and past the last one.
    for seconds in (0.0005, 0.001, 0.002, 0.01, 0.05, 0.1, 0.5, 7.0):
        made["direct"][0].inc()
        made["direct"][1].observe(seconds)
        batch.inc(made["batched"][0])
        batch.observe(made["batched"][1], seconds)
    written = _exposed(registry, "batched")
    assert written[("_calls_total", "")] == 0  # held back: in the loop, nothing written yet
    assert written[("_seconds_count", "")] == 0
    await asyncio.sleep(0.3)
    assert _exposed(registry, "batched") == _exposed(registry, "direct")
    assert _exposed(registry, "direct")[("_seconds_bucket", "0.001")] == 2  # le: on the bound


def test_outside_an_event_loop_a_sample_is_written_at_once() -> None:
    registry = CollectorRegistry()
    counter = Counter("calls", "calls", registry=registry)
    Batch().inc(counter)
    assert _exposed(registry, "calls")[("_total", "")] == 1
