"""Driver exceptions turned into the domain's storage errors; none travels past the store."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import asyncpg
import redis.exceptions

from service.metrics import observe_store

# The errors a store raises are the domain's (its ports' contract); they are named here
# too, for the store's own callers.
from service.oauth.errors import Conflict as Conflict
from service.oauth.errors import Invalid as Invalid
from service.oauth.errors import StoreError as StoreError
from service.oauth.errors import StoreUnavailable as StoreUnavailable

_DOWN = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    # A standby promoted too late, a full disk, no memory: the server cannot take writes.
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.InsufficientResourcesError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError,  # a replica, until Sentinel's failover reaches us
    redis.exceptions.OutOfMemoryError,  # maxmemory reached with noeviction
    redis.exceptions.ClusterError,  # CLUSTERDOWN, or retries exhausted while slots move
)


@contextlib.contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn driver exceptions into StoreError subclasses named after `what`; time the
    operation for the latency histograms ("redis", else a Postgres table)."""
    start, outcome = time.perf_counter(), "error"
    try:
        yield
        outcome = "ok"
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"{what}: {exc.constraint_name or 'unique'} already taken") from None
    except (asyncpg.CheckViolationError, asyncpg.ForeignKeyViolationError) as exc:
        raise Invalid(f"{what}: rejected by {exc.constraint_name}") from None
    except asyncpg.DataError as exc:
        raise Invalid(f"{what}: {type(exc).__name__}") from None
    except _DOWN as exc:
        raise StoreUnavailable(f"{what}: {type(exc).__name__}") from None
    finally:
        observe_store(what, outcome, time.perf_counter() - start)
