"""A revocation survives a Redis fault (issue 11, item 11): Redis comes back from a copy of
its data taken before the revocation, with the revoked login's records in it, and the
revoked refresh token is still refused, because Postgres remembers the revocation. And
where Redis has a replica, a revocation waits for it to have the writes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from service.app import create_app
from service.config import Settings, replace
from service.oauth.model import Subject
from service.oauth.ports import Owner, TokenRecord
from service.store.tokens import TokenStore
from tests import commands
from tests.conftest import Seeded, claims_of, password_grant, refresh
from tests.servers import _cli, _redis_server, free_ports, processes, redis_binaries, wait_until


@dataclass
class PrivateRedis:
    """A redis-server of this test's own on loopback, which it may stop and restart."""

    folder: Path
    port: int
    started: list[subprocess.Popen[bytes]]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        server, cli = redis_binaries()
        proc = subprocess.Popen(_redis_server(server, self.folder, self.port, *extra))
        self.started.append(proc)
        wait_until(lambda: "PONG" in _cli(cli, self.port, "ping"), f"redis on {self.port}")
        return proc

    def snapshot(self) -> Path:
        """A copy of the data as it is now (what a lagging replica or an old RDB holds)."""
        _, cli = redis_binaries()
        _cli(cli, self.port, "save")
        return Path(shutil.copy(self.folder / "dump.rdb", self.folder / "copy.rdb"))

    def restart_from(self, copy: Path) -> None:
        _, cli = redis_binaries()
        with contextlib.suppress(subprocess.SubprocessError):
            _cli(cli, self.port, "shutdown", "nosave")
        proc = self.started.pop()
        proc.wait(10)
        shutil.copy(copy, self.folder / "dump.rdb")
        self.start()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    with processes() as started:
        server = PrivateRedis(tmp_path / "redis", free_ports(1)[0], started)
        server.start()
        yield server


async def eventually_refused(client: Any, seeded: Seeded, token: str) -> int:
    """The refresh's status once the restarted Redis answers (503 until then)."""
    for _ in range(40):
        response = await refresh(client, seeded, token)
        if response.status != 503:
            return int(response.status)
        await asyncio.sleep(0.25)
    raise AssertionError("Redis did not come back")


async def rfc7009(settings: Settings, client: Any, seeded: Seeded, tokens: dict[str, Any]) -> None:
    body = {
        "token": tokens["refresh_token"],
        "client_id": seeded.client_id,
        "client_secret": seeded.client_secret,
    }
    assert (await client.post("/oauth2-token/revoke", data=body)).status == 200


async def disable_then_enable(settings: Settings, *_: Any) -> None:
    await commands.set_user_enabled(settings, "admin", False)
    await commands.set_user_enabled(settings, "admin", True)  # back, but not its old logins


async def revoke_user(settings: Settings, *_: Any) -> None:
    await commands.revoke(settings, user="admin")


async def revoke_client(settings: Settings, client: Any, seeded: Seeded, *_: Any) -> None:
    await commands.revoke(settings, client=seeded.client_id)


Revocation = Callable[[Settings, Any, Seeded, dict[str, Any]], Awaitable[None]]
REVOCATIONS: dict[str, Revocation] = {
    "RFC 7009": rfc7009,
    "users disable, enable": disable_then_enable,
    "tokens revoke --user": revoke_user,
    "tokens revoke --client": revoke_client,
}


@pytest.mark.parametrize("how", list(REVOCATIONS))
async def test_a_revoked_login_stays_revoked_when_redis_comes_back_from_an_older_copy(
    aiohttp_client: Any,
    settings: Settings,
    seeded: Seeded,
    private_redis: PrivateRedis,
    how: str,
) -> None:
    own = replace(settings, redis={"url": private_redis.url, "timeout": 1.0})
    client = await aiohttp_client(create_app(own))
    tokens = await password_grant(client, seeded)
    kept = await password_grant(client, seeded)  # for the RFC 7009 case: not revoked
    copy = private_redis.snapshot()
    await asyncio.sleep(1.05 - time.time() % 1)  # a client revocation covers whole seconds

    await REVOCATIONS[how](own, client, seeded, tokens)
    assert (await refresh(client, seeded, tokens["refresh_token"])).status == 400

    private_redis.restart_from(copy)
    redis = Redis.from_url(private_redis.url)
    family = claims_of(tokens["refresh_token"])["fid"]
    assert await redis.exists(f"{own.redis.key_prefix}{{{family}}}:f")  # the records are back
    await redis.aclose()
    assert await eventually_refused(client, seeded, tokens["refresh_token"]) == 400
    if how == "RFC 7009":
        assert (await refresh(client, seeded, kept["refresh_token"])).status == 200


async def test_a_reused_refresh_token_stays_revoked_when_redis_comes_back(
    aiohttp_client: Any, settings: Settings, seeded: Seeded, private_redis: PrivateRedis
) -> None:
    own = replace(settings, redis={"url": private_redis.url, "timeout": 1.0})
    client = await aiohttp_client(create_app(own))
    first = await password_grant(client, seeded)
    second = await refresh(client, seeded, first["refresh_token"])
    assert second.status == 200
    copy = private_redis.snapshot()
    assert (await refresh(client, seeded, first["refresh_token"])).status == 400  # theft

    private_redis.restart_from(copy)
    current = (await second.json())["refresh_token"]
    assert await eventually_refused(client, seeded, current) == 400


async def test_a_revocation_waits_for_a_replica_within_a_bound(
    settings: Settings, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    replica_port = free_ports(1)[0]
    replica = PrivateRedis(tmp_path / "replica", replica_port, private_redis.started)
    replica_proc = replica.start("--replicaof", "127.0.0.1", str(private_redis.port))
    master = Redis.from_url(private_redis.url)

    async def linked() -> None:
        while (await master.info("replication"))["connected_slaves"] < 1:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    await asyncio.wait_for(linked(), 10)
    store = TokenStore.configured(master, replace(settings, redis={"revocation_wait_ms": 1000}))
    access = TokenRecord("fam", "jti", 60)
    await store.record(Owner(Subject.user("admin"), "c"), access, TokenRecord("fam", "r", 60))

    assert await store.revoke_family("fam")
    stats = await master.info("commandstats")
    assert stats["cmdstat_wait"]["calls"] >= 1
    # What WAIT promised: the replica has the revocation the moment it returned.
    copy = Redis.from_url(replica.url)
    assert not await copy.exists(f"{settings.redis.key_prefix}{{fam}}:f")

    # A replica that stops answering delays a revocation by the bound, no more.
    os.kill(replica_proc.pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        await store.revoke_client("c")
        assert 0.9 < time.monotonic() - start < 3
    finally:
        os.kill(replica_proc.pid, signal.SIGCONT)
    await copy.aclose()
    await master.aclose()


async def test_a_revocation_does_not_wait_without_replicas(
    settings: Settings, private_redis: PrivateRedis
) -> None:
    master = Redis.from_url(private_redis.url)
    store = TokenStore.configured(master, replace(settings, redis={"revocation_wait_ms": 1000}))
    start = time.monotonic()
    await store.revoke_client("c")
    assert time.monotonic() - start < 0.5
    assert "cmdstat_wait" not in await master.info("commandstats")
    await master.aclose()
