"""The process supervisor, for real: `python -m service serve` with 2 workers on the test
database and Redis. SIGTERM under load answers every request in flight and exits 0 within
`server.graceful_timeout`; a request whose body is still arriving does not hold the
shutdown past it; a worker killed with SIGKILL is replaced while the service keeps
answering, and /metrics keeps summing the workers (the dead one marked)."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from prometheus_client.parser import text_string_to_metric_families

from service.config import Settings
from service.oauth.passwords import Passwords
from tests.conftest import Factory, login
from tests.servers import children, free_ports, service_server, wait_until

# About a quarter of a second per verify: requests stay in flight long enough to signal.
SLOW = {"memory_cost": 19456, "time_cost": 12, "parallelism": 1, "threads": 2}
DEFAULT_GRACE = 25  # server.graceful_timeout's default
CLIENTS = 20


def _config(settings: Settings, **server: Any) -> dict[str, Any]:
    return {
        "server": {"workers": 2, **server},
        # The admin API's listener too: it stops with the main one.
        "admin": {"port": free_ports(1)[0]},
        "database": {"url": settings.database.url, "pool_max_size": 4},
        "redis": {"url": settings.redis.url, "key_prefix": settings.redis.key_prefix},
        "tokens": {"keys_dir": settings.tokens.keys_dir},
        "password_hashing": SLOW,
        "maintenance": {"cleanup_interval": 0},
    }


async def _slow_logins(factory: Factory, users: int) -> list[dict[str, Any]]:
    """Password grants of `users` users whose passwords take SLOW's time to verify (one
    account's checks in flight are bounded: the load comes from several)."""
    slow = Passwords(Settings().password_hashing.__class__(**SLOW))
    password_hash = await slow.hash("s3cret-pass")
    slow.close()
    seeded = await factory.client()
    bodies = []
    for n in range(users):
        user = await factory.user(f"user{n}")
        await factory.pool.execute(
            "UPDATE users SET password_hash = $1 WHERE id = $2", password_hash, user.id
        )
        bodies.append(login(seeded, username=f"user{n}"))
    return bodies


async def test_sigterm_under_load_answers_every_request_and_exits_0(
    settings: Settings, factory: Factory, tmp_path: Path
) -> None:
    """CLIENTS keep-alive clients send password grants back to back; SIGTERM comes while
    some are hashing and others are on their way. Each client goes on until it is told the
    connection closes (Connection: close) or can no longer connect: every request it sent
    got an answer, none a reset connection."""
    bodies = await _slow_logins(factory, CLIENTS)
    answered: collections.Counter[int | str] = collections.Counter()

    async def client(url: str, body: dict[str, Any]) -> None:
        async with aiohttp.ClientSession() as http:  # one keep-alive connection
            while True:
                try:
                    async with http.post(f"{url}/oauth2-token", json=body) as answer:
                        await answer.read()
                        answered[answer.status] += 1
                        if answer.headers.get("Connection", "").lower() == "close":
                            return
                except aiohttp.ClientConnectorError:
                    return  # the listener is closed: never sent
                except aiohttp.ClientError as exc:
                    answered[type(exc).__name__] += 1
                    return

    with service_server(_config(settings), tmp_path) as server:
        clients = [asyncio.create_task(client(server.url, body)) for body in bodies]
        for _ in range(300):  # under way: some answered, the others in flight
            if sum(answered.values()) >= CLIENTS:
                break
            await asyncio.sleep(0.05)
        assert sum(answered.values()) >= CLIENTS, server.log.read_text()
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(server.process.wait, DEFAULT_GRACE + 10)
        took = time.monotonic() - signalled
        await asyncio.gather(*clients)
        output = server.log.read_text()

    assert set(answered) == {200}, answered
    assert code == 0, output
    assert took < DEFAULT_GRACE
    assert "Traceback" not in output and "InvalidStateError" not in output
    assert '"level":"error"' not in output


def test_a_body_still_arriving_does_not_hold_the_shutdown(
    settings: Settings, tmp_path: Path
) -> None:
    grace = 3
    with service_server(_config(settings, graceful_timeout=grace), tmp_path) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
            conn.sendall(
                b"POST /oauth2-token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"grant_type":'
            )
            time.sleep(0.5)  # the handler is reading the body
            signalled = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            code = server.process.wait(timeout=60)
            took = time.monotonic() - signalled
            conn.settimeout(5)
            try:
                left = conn.recv(65536)
            except ConnectionResetError:
                left = b""
        output = server.log.read_text()

    assert code == 0, output
    assert took < grace + 2, f"the shutdown took {took:.1f} s"
    assert b"200 OK" not in left  # cut off, not answered as if the body were whole
    assert "Traceback" not in output


def test_a_killed_worker_is_replaced_and_metrics_keep_summing(
    settings: Settings, tmp_path: Path
) -> None:
    metrics_dir = tmp_path / "metrics"
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    config = _config(settings)
    admin = f"http://127.0.0.1:{config['admin']['port']}"
    with service_server(config, tmp_path / "server", env=env) as server:
        pid = server.process.pid
        wait_until(lambda: len(children(pid)) == 2, "two workers")
        workers = children(pid)
        for _ in range(10):
            assert _get(server.url, "/health/live")[0] == 200
        # Each worker writes its counts out within Batch.FLUSH_SECONDS.
        wait_until(lambda: _live_count(server.url) == 10, "10 counted", 5)
        before = _live_count(server.url)

        victim = min(workers)
        assert list(metrics_dir.glob(f"gauge_live*_{victim}.db"))  # its keys-reload gauge
        os.kill(victim, signal.SIGKILL)
        # A connection each: whichever worker accepts, every one is answered.
        assert [_get(server.url, "/health/live")[0] for _ in range(30)] == [200] * 30
        wait_until(lambda: len(children(pid) - workers) == 1, "a new worker", 30)
        assert len(children(pid)) == 2
        assert server.process.poll() is None
        # The admin API's listener, served by every worker, the new one too.
        assert {_get(admin, "/admin/clients")[0] for _ in range(10)} <= {200, 401}

        # The dead worker's 10 were written out before it died; the 30 go out within a second.
        wait_until(lambda: _live_count(server.url) == before + 30, "30 more counted", 5)
        counted = _live_count(server.url)
        for _ in range(40):
            assert _get(server.url, "/health/live")[0] == 200
        wait_until(lambda: _live_count(server.url) == counted + 40, "40 more counted", 5)
        after = _live_count(server.url)
        gauges = _samples(server.url, "oauth_keys_last_reload_timestamp_seconds")

    # The dead worker's requests stay counted; both workers' new ones are summed.
    assert counted >= before + 30
    assert after == counted + 40
    # Its gauge file is gone (marked dead): the "oldest reload" is a live worker's.
    assert not list(metrics_dir.glob(f"gauge_live*_{victim}.db"))
    assert len(gauges) == 1 and gauges[0] > time.time() - 120


def _get(base: str, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"{base}{path}", timeout=10) as answer:  # noqa: S310
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, ""


def _samples(base: str, name: str, **labels: str) -> list[float]:
    status, text = _get(base, "/metrics")
    assert status == 200
    return [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def _live_count(base: str) -> float:
    live = {"method": "GET", "route": "/health/live", "status": "200"}
    return sum(_samples(base, "oauth_http_requests_total", **live))


async def test_the_access_log_can_be_turned_off_and_the_audit_trail_stays(
    settings: Settings, tmp_path: Path
) -> None:
    """logging.access: false writes no line per request; audit events are still written."""

    async def requests(url: str) -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/api/users") as answer:
                assert answer.status == 401
            body = {"grant_type": "client_credentials", "client_id": "nobody"}
            async with http.post(f"{url}/oauth2-token", json=body) as answer:
                assert answer.status == 401

    def paths(log: Path) -> set[str]:
        entries = [
            orjson.loads(line) for line in log.read_text().splitlines() if '"logger"' in line
        ]
        return {e["path"] for e in entries if e["logger"] == "aiohttp.access"}

    def audited(log: Path) -> bool:
        return '"message":"token.refused"' in log.read_text()

    config = {**_config(settings), "logging": {"access": True}}
    with service_server(config, tmp_path / "on") as server:
        await requests(server.url)
        wait_until(lambda: paths(server.log) == {"/api/users", "/oauth2-token"}, "access lines")
        assert audited(server.log)

    config = {**_config(settings), "logging": {"access": False}}
    with service_server(config, tmp_path / "off") as server:
        await requests(server.url)
        wait_until(lambda: audited(server.log), "the audit line")
        await asyncio.sleep(0.5)  # access lines, were there any, would have followed by now
        assert paths(server.log) == set()
