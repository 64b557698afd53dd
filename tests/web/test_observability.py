"""The access log as structured fields, and the security event counters."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import Settings, replace
from service.logs import BatchedHandler, JsonFormatter
from service.web.access import AccessLogger
from tests.conftest import Seeded, grant, password_grant, refresh, token_request
from tests.web.test_metrics import scrape, value


async def _logged(caplog: pytest.LogCaptureFixture, lines: int) -> None:
    """The line is written once the answer went out: wait for it."""
    for _ in range(100):
        if len([r for r in caplog.records if r.name == "aiohttp.access"]) >= lines:
            return
        await asyncio.sleep(0.01)


async def test_access_log_lines_are_structured_and_probes_go_at_debug(
    aiohttp_server: Any, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    server = await aiohttp_server(create_app(settings), access_log_class=AccessLogger)
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    async with aiohttp.ClientSession() as session:
        url = f"http://{server.host}:{server.port}"
        async with session.get(f"{url}/health/live"):
            pass
        async with session.get(
            f"{url}/api/users?access_token=secret", headers={"X-Request-Id": "r-1"}
        ):
            pass
    await _logged(caplog, 1)
    [line] = [r for r in caplog.records if r.name == "aiohttp.access"]
    fields = line.access  # type: ignore[attr-defined]
    assert fields["method"] == "GET"
    assert fields["path"] == "/api/users"  # never the query string
    assert fields["status"] == 400  # a token in the query string is refused
    assert fields["request_id"] == "r-1"
    assert fields["client"] == "127.0.0.1"
    assert isinstance(fields["duration_ms"], float)
    entry = JsonFormatter().format(line)
    assert '"status":400' in entry and "secret" not in entry

    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="aiohttp.access")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://{server.host}:{server.port}/health/live"),
    ):
        pass
    await _logged(caplog, 1)
    [probe] = [r for r in caplog.records if r.name == "aiohttp.access"]
    assert probe.levelno == logging.DEBUG


async def test_security_events_are_counted(
    aiohttp_client: Any, settings: Settings, seeded: Seeded
) -> None:
    limited = replace(settings, protection={"max_account_failures": 2, "requests_per_minute": 8})
    client: TestClient[Any, Any] = await aiohttp_client(create_app(limited))
    before = await scrape(client)

    first = await password_grant(client, seeded)
    second = await grant(client, seeded, "refresh_token", refresh_token=first["refresh_token"])
    assert (await refresh(client, seeded, first["refresh_token"])).status == 400  # reuse
    login = {"username": "admin", "password": "wrong-pass"}
    for _ in range(2):
        await token_request(client, seeded, "password", **login)
    body = {
        "token": second["access_token"],
        "client_id": seeded.client_id,
        "client_secret": seeded.client_secret,
    }
    await client.post("/oauth2-token/revoke", data=body)
    statuses = [
        (await token_request(client, seeded, "password", **login)).status for _ in range(12)
    ]
    assert 429 in statuses

    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("oauth_refresh_reuse_detected_total", outcome="revoked") == 1
    assert grew("oauth_revocations_total", kind="reuse") == 1
    assert grew("oauth_lockouts_total", audience="backoffice") == 1
    assert grew("oauth_rate_limited_total", limit="requests") >= 1


class _Writes:
    """A stream that keeps each write apart."""

    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> None:
        self.writes.append(text)

    def flush(self) -> None:
        pass


def _batched() -> tuple[logging.Logger, _Writes]:
    stream = _Writes()
    handler = BatchedHandler()
    handler.setStream(stream)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(f"test.batched.{id(stream)}")
    logger.propagate = False
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    return logger, stream


async def test_lines_of_one_turn_of_the_loop_go_out_in_one_write() -> None:
    logger, stream = _batched()
    for n in range(3):
        logger.info("line %d", n)
    assert stream.writes == []  # not yet: at the end of this turn of the loop
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    [written] = stream.writes
    assert [orjson.loads(line)["message"] for line in written.splitlines()] == [
        "line 0",
        "line 1",
        "line 2",
    ]
    logger.info("later")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(stream.writes) == 2


def test_outside_a_loop_a_line_goes_out_at_once_and_shutdown_flushes_the_rest() -> None:
    logger, stream = _batched()
    logger.info("now")
    assert [orjson.loads(stream.writes[0])["message"]] == ["now"]

    async def log_and_end() -> None:  # a loop that ends before its turn does
        logger.info("last")

    for _ in range(2):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(log_and_end())
        loop.close()
    logger.handlers[0].flush()  # what logging.shutdown does at exit
    lines = "".join(stream.writes).splitlines()
    assert [orjson.loads(line)["message"] for line in lines] == ["now", "last", "last"]
