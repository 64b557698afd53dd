"""Errors the store raises; driver exceptions never travel past the store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import asyncpg
import redis.exceptions


class StoreError(Exception):
    pass


class StoreUnavailable(StoreError):
    """Postgres or Redis cannot be reached (or answered too slowly)."""


class Conflict(StoreError):
    """A row with the same unique key exists."""


class Invalid(StoreError):
    """The database refused the values (a CHECK or foreign key constraint)."""


_DOWN = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
)


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn driver exceptions into StoreError subclasses named after `what`."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"{what}: {exc.constraint_name or 'unique'} already taken") from None
    except (asyncpg.CheckViolationError, asyncpg.ForeignKeyViolationError) as exc:
        raise Invalid(f"{what}: rejected by {exc.constraint_name}") from None
    except _DOWN as exc:
        raise StoreUnavailable(f"{what}: {type(exc).__name__}") from None
