"""Horizontal scaling for real: two service instances (`python -m service serve` subprocesses
on the test database and Redis) behind HAProxy running deploy/haproxy.cfg on loopback. Any
instance accepts a token another issued, a revocation on one is seen by the other, and the
balancer keeps answering while an instance is killed. Also: with `--workers 2`, /metrics on
either worker counts the requests of both."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import yaml

from service import metrics
from tests.conftest import FAST_HASHING, Factory, Seeded, login
from tests.servers import free_ports, processes, wait_until

ROOT = Path(__file__).resolve().parent.parent
HAPROXY = shutil.which("haproxy") or next(
    (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if os.access(p, os.X_OK)), None
)


@dataclass
class Instance:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _ready(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/health/ready", timeout=2) as response:  # noqa: S310
        return bool(response.status == 200)


@pytest.fixture
def service_config(
    tmp_path: Path, database_url: str, redis_url: str, keys_dir: Path
) -> Iterator[Path]:
    """A config.yml for the subprocesses, built from the same fixtures as the in-process app."""
    prefix = f"test:scale:{secrets.token_hex(4)}:"
    config = tmp_path / "config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"host": "127.0.0.1", "var_dir": str(tmp_path / "var")},
                "admin": {"port": 0},
                "database": {"url": database_url, "pool_min_size": 1, "pool_max_size": 4},
                "redis": {"url": redis_url, "key_prefix": prefix},
                "tokens": {"keys_dir": str(keys_dir), "issuer": "https://auth.test"},
                "password_hashing": FAST_HASHING,
                "maintenance": {"cleanup_interval": 0},
            }
        )
    )
    yield config
    subprocess.run([sys.executable, "-c", _FORGET, redis_url, prefix], check=False, timeout=30)


# Deletes the run's Redis keys (the subprocesses wrote them; the conftest cleanup does not
# know this prefix).
_FORGET = """
import sys, redis
r = redis.Redis.from_url(sys.argv[1])
keys = list(r.scan_iter(match=sys.argv[2] + "*", count=1000))
if keys:
    r.delete(*keys)
"""


def _environment() -> dict[str, str]:
    """Ours, minus what would override the config file or switch the metrics mode."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SERVICE_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


@contextlib.contextmanager
def instances(config: Path, count: int, workers: int = 1) -> Iterator[list[Instance]]:
    ports = free_ports(count)
    with processes() as started:
        for port in ports:
            log = (config.parent / f"service-{port}.log").open("wb")
            with log:
                started.append(
                    subprocess.Popen(
                        [
                            *(sys.executable, "-m", "service", "--config", str(config), "serve"),
                            *("--workers", str(workers), "--port", str(port)),
                        ],
                        cwd=ROOT,
                        env=_environment(),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        running = [Instance(port, proc) for port, proc in zip(ports, started, strict=True)]
        for instance in running:
            wait_until(lambda i=instance: _ready(i.url), f"service on {instance.port}", 30)
        yield running


def haproxy_config(port: int, backends: list[Instance], stats: Path) -> str:
    """deploy/haproxy.cfg with loopback addresses, quick health checks and a stats socket."""
    shipped = (ROOT / "deploy" / "haproxy.cfg").read_text(encoding="utf-8")
    config = re.sub(r"(?ms)^resolvers docker\n.*?\n\n", "", shipped)
    config = config.replace("    bind :8080\n", f"    bind 127.0.0.1:{port}\n")
    servers = "".join(f"    server app{i} 127.0.0.1:{b.port}\n" for i, b in enumerate(backends))
    config, found = re.subn(r"(?m)^    server-template .*\n", servers, config)
    assert found == 1, "deploy/haproxy.cfg: expected one server-template line"
    config, found = re.subn(
        r"(?m)^    default-server .*$", "    default-server check inter 100ms fall 1 rise 1", config
    )
    assert found == 1, "deploy/haproxy.cfg: expected one default-server line"
    return config.replace("global\n", f"global\n    stats socket {stats}\n", 1)


def _servers_up(stats: Path) -> int:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(2)
        s.connect(str(stats))
        s.sendall(b"show stat\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    rows = [line.split(",") for line in data.decode().splitlines() if line.startswith("service,")]
    return sum(1 for row in rows if row[1].startswith("app") and row[17] == "UP")


@contextlib.contextmanager
def balancer(tmp: Path, backends: list[Instance]) -> Iterator[str]:
    if HAPROXY is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    (port,) = free_ports(1)
    stats = tmp / "haproxy.sock"
    config = tmp / "haproxy.cfg"
    config.write_text(haproxy_config(port, backends, stats))
    with processes() as started, (tmp / "haproxy.log").open("wb") as log:
        started.append(
            subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=log, stderr=log)
        )
        wait_until(lambda: _servers_up(stats) == len(backends), "haproxy with every server UP")
        yield f"http://127.0.0.1:{port}"


async def _token(session: aiohttp.ClientSession, base: str, seeded: Seeded) -> str:
    body = login(seeded)
    async with session.post(f"{base}/oauth2-token", json=body) as response:
        assert response.status == 200, await response.text()
        token: str = (await response.json())["access_token"]
        return token


async def _api(session: aiohttp.ClientSession, base: str, token: str) -> int:
    headers = {"Accept": "application/vnd.api+json", "Authorization": f"Bearer {token}"}
    async with session.get(f"{base}/api/users", headers=headers) as response:
        await response.read()
        return response.status


async def _requests_served(session: aiohttp.ClientSession, instance: Instance) -> float:
    async with session.get(f"{instance.url}/metrics") as response:
        text = await response.text()
    pattern = r'oauth_http_requests_total\{method="GET",route="/api/users",status="200"\} (\S+)'
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
async def seeded(factory: Factory) -> Seeded:
    await factory.user()
    return await factory.client()


async def test_any_instance_accepts_and_revokes_any_token(
    service_config: Path, seeded: Seeded
) -> None:
    with (
        instances(service_config, 2) as (one, two),
        balancer(service_config.parent, [one, two]) as lb,
    ):
        async with aiohttp.ClientSession() as session:
            token = await _token(session, lb, seeded)
            assert [await _api(session, i.url, token) for i in (one, two, one)] == [200] * 3

            revoke = {
                "client_id": seeded.client_id,
                "client_secret": seeded.client_secret,
                "token": token,
            }
            async with session.post(f"{one.url}/oauth2-token/revoke", data=revoke) as response:
                assert response.status == 200
            assert await _api(session, two.url, token) == 401
            assert await _api(session, lb, token) == 401

            # The balancer hides /metrics; each instance shows its own.
            async with session.get(f"{lb}/metrics") as response:
                assert response.status == 404


async def _until_unavailable(session: aiohttp.ClientSession, base: str) -> dict[str, str]:
    for _ in range(100):
        async with session.get(f"{base}/api/users") as response:
            if response.status == 503:
                assert response.content_type == "application/json"
                assert response.headers["Cache-Control"] == "no-store"
                body: dict[str, str] = await response.json()
                return body
        await asyncio.sleep(0.05)
    raise AssertionError("the balancer never answered 503 with every instance gone")


async def test_the_balancer_keeps_answering_when_an_instance_dies(
    service_config: Path, seeded: Seeded
) -> None:
    with (
        instances(service_config, 2) as (one, two),
        balancer(service_config.parent, [one, two]) as lb,
    ):
        # A keep-alive session to the balancer, as a real client would hold.
        async with aiohttp.ClientSession() as session:
            token = await _token(session, lb, seeded)
            before = [await _api(session, lb, token) for _ in range(20)]
            assert before == [200] * 20
            # Round robin: both instances served part of it.
            assert await _requests_served(session, one) > 0
            assert await _requests_served(session, two) > 0

            statuses: list[tuple[float, int]] = []
            under_way = asyncio.Event()

            async def client() -> None:
                for _ in range(60):
                    statuses.append((time.monotonic(), await _api(session, lb, token)))
                    if len(statuses) >= 40:  # a sixth of the run, however fast it goes
                        under_way.set()

            async def kill() -> None:
                await under_way.wait()
                one.process.send_signal(signal.SIGKILL)
                one.process.wait()
                killed.append(time.monotonic())

            killed: list[float] = []
            await asyncio.gather(client(), client(), client(), client(), kill())

            # With no instance left the balancer answers in the service's own error shape.
            two.process.send_signal(signal.SIGKILL)
            two.process.wait()
            answer = await _until_unavailable(session, lb)
            assert answer["error"] == "temporarily_unavailable"

    assert killed, "the instance was not killed during the run"
    after = [status for at, status in statuses if at > killed[0]]
    assert len(after) >= 20, "too few requests after the kill to show anything"
    assert after == [200] * len(after)
    assert [s for _, s in statuses] == [200] * len(statuses)


async def _fresh_get(url: str) -> tuple[int, str]:
    """A GET on a new connection, so the kernel may hand it to any worker."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_metrics_of_several_workers_are_summed(service_config: Path) -> None:
    """serve --workers 2: whichever worker answers /metrics reports every worker's requests."""
    pattern = r'oauth_http_requests_total\{method="GET",route="/health/live",status="200"\} (\S+)'
    with instances(service_config, 1, workers=2) as (server,):
        for _ in range(30):
            assert (await _fresh_get(f"{server.url}/health/live"))[0] == 200
        # Each worker writes its counts out within Batch.FLUSH_SECONDS: then any worker
        # reports all 30, and never more.
        await asyncio.sleep(metrics.Batch.FLUSH_SECONDS + 0.5)
        seen = set()
        for _ in range(6):
            status, text = await _fresh_get(f"{server.url}/metrics")
            found = re.search(pattern, text)
            assert status == 200
            assert found is not None
            seen.add(float(found.group(1)))
        assert seen == {30.0}
