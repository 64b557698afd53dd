"""DSN passwords never reach the logs; a store that cannot work is "unavailable"."""

from __future__ import annotations

import logging

import pytest
import redis.exceptions

from service.config import DatabaseSettings
from service.store.errors import StoreUnavailable, translated
from service.store.pg import create_pool, hide_password


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://oauth:s3cret@db:5432/oauth", "postgresql://oauth:***@db:5432/oauth"),
        ("redis://:s3cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("postgresql://oauth@db/oauth", "postgresql://oauth@db/oauth"),
    ],
)
def test_hide_password(url: str, shown: str) -> None:
    assert hide_password(url) == shown


async def test_a_failed_start_logs_the_dsn_without_its_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from service.logs import JsonFormatter

    caplog.set_level(logging.INFO)
    url = "postgresql://oauth:hunter2-secret@127.0.0.1:1/oauth"
    pool = await create_pool(DatabaseSettings(url=url, timeout=1.0), require=False)
    await pool.close()
    with pytest.raises(StoreUnavailable):
        await create_pool(DatabaseSettings(url=url, timeout=1.0))
    logged = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "127.0.0.1:1" in logged
    assert "hunter2-secret" not in logged


@pytest.mark.parametrize(
    "error",
    [
        redis.exceptions.ReadOnlyError("READONLY You can't write against a replica"),
        redis.exceptions.OutOfMemoryError("OOM command not allowed"),
    ],
)
def test_a_redis_that_cannot_take_writes_is_unavailable_not_a_500(error: Exception) -> None:
    with pytest.raises(StoreUnavailable), translated("redis"):
        raise error
