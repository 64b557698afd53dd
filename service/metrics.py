"""Prometheus metrics, shared by every layer (the web layer counts requests and grants, the
domain times password hashing, the store times Postgres and Redis).

With several workers (`serve --workers N`) each process writes its samples to files in one
directory (prometheus-client's multiprocess mode) and /metrics on any worker sums them all.
prometheus-client decides between in-memory and file-backed values when a metric's value is
created; every metric here has labels, so its values are created at first use, in the worker,
after `use_directory` has switched the mode (the one without labels is made at first use)."""

from __future__ import annotations

import asyncio
import atexit
import bisect
import functools
import os
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Round trips on a LAN take 0.1-2 ms; a timeout shows up in the last buckets.
_STORE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUESTS = Counter(
    "oauth_http_requests",
    "HTTP requests answered, by route (its pattern, never the raw path) and status.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "oauth_http_request_duration_seconds",
    "Time to answer an HTTP request, by route.",
    ["route"],
)
GRANTS = Counter(
    "oauth_grants",
    "Token endpoint requests by grant type and outcome (issued, or the OAuth error code).",
    ["grant_type", "outcome"],
)
REFUSED = Counter(
    "oauth_requests_refused",
    "Requests turned away unanswered under overload: their address over its share of a "
    "worker (reason address, 429) or the worker full (reason worker, 503).",
    ["reason"],
)
# Security events, for alerts: each one a counter of its own.
LOCKOUTS = Counter(
    "oauth_lockouts",
    "Accounts locked after repeated wrong passwords, by audience.",
    ["audience"],
)
RATE_LIMITED = Counter(
    "oauth_rate_limited",
    "Token requests refused with 429 by a brute-force limit: the address's request rate "
    "(requests), its guest logins (guest_logins), its wrong passwords (address_failures), "
    "or too many checks of one account or address in flight (busy).",
    ["limit"],
)
REFRESH_REUSE = Counter(
    "oauth_refresh_reuse_detected",
    "Refresh tokens presented again after their rotation (outside the retry window): each "
    "revoked its login. A retry within the window is counted as outcome retried.",
    ["outcome"],
)
REVOCATIONS = Counter(
    "oauth_revocations",
    "Revocations by kind: one access token or one login (RFC 7009 access_token, "
    "refresh_token), a login for reuse (reuse), all of an owner's tokens (owner), all of a "
    "client's (client).",
    ["kind"],
)
PASSWORD_HASH_SECONDS = Histogram(
    "oauth_password_hash_seconds",
    "argon2id time per hash or verify, on the hashing thread (queueing not included).",
    ["op"],
    buckets=(0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5),
)
REDIS_SECONDS = Histogram(
    "oauth_redis_seconds",
    "Redis latency per store operation (one command, script or pipeline: one round trip).",
    ["outcome"],
    buckets=_STORE_BUCKETS,
)
POSTGRES_SECONDS = Histogram(
    "oauth_postgres_seconds",
    "Postgres latency per store operation (pool acquire and query), by table.",
    ["table", "outcome"],
    buckets=_STORE_BUCKETS,
)


@functools.cache
def keys_last_reload() -> Gauge:
    """Made at first use, in the worker: a metric without labels creates its value at once,
    and one made at import would stay in memory, where multiprocess mode does not look.
    The minimum across live workers: the value shows the worker whose reloads stopped longest
    ago; a dead worker's is dropped when the supervisor marks it dead (service.supervisor)."""
    return Gauge(
        "oauth_keys_last_reload_timestamp_seconds",
        "When the keys folder was last read without an error (UNIX time; the oldest worker's).",
        multiprocess_mode="livemin",
    )


class Batch:
    """Samples of the series every request adds to (its count and time, each store round
    trip's time), summed here and written out at most FLUSH_SECONDS later. In multiprocess
    mode each sample written is a locked write into a memory-mapped file: several a request
    cost more than the rest of the counting. Samples written late are still counted
    whole; /metrics flushes its own worker's first, and a worker's last ones go out when it
    exits. For the event loop's thread only (the hashing threads observe directly)."""

    FLUSH_SECONDS = 1.0

    def __init__(self) -> None:
        self._counts: dict[Any, float] = {}  # counter child -> amount
        self._observed: dict[Any, list[float]] = {}  # histogram child -> [sum, per bucket...]
        self._due: asyncio.AbstractEventLoop | None = None  # the loop a flush is due on

    def inc(self, counter: Any) -> None:
        self._counts[counter] = self._counts.get(counter, 0) + 1
        self._schedule()

    def observe(self, histogram: Any, value: float) -> None:
        bounds = histogram._upper_bounds  # prometheus-client's own
        pending = self._observed.get(histogram)
        if pending is None:
            pending = self._observed[histogram] = [0.0] * (len(bounds) + 1)
        pending[0] += value
        # The first bucket whose bound is at least the value, as Histogram.observe finds it.
        pending[1 + bisect.bisect_left(bounds, value)] += 1
        self._schedule()

    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop to flush later: now
            self.flush()
            return
        if self._due is loop:
            return
        if self._due is not None:  # due on a loop that has ended (a test's, a command's)
            self.flush()
        self._due = loop
        loop.call_later(self.FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        self._due = None
        counts, observed = self._counts, self._observed
        self._counts, self._observed = {}, {}
        for counter, amount in counts.items():
            counter.inc(amount)
        for histogram, pending in observed.items():
            histogram._sum.inc(pending[0])  # as Histogram.observe adds
            for bucket, n in zip(histogram._buckets, pending[1:], strict=True):
                if n:
                    bucket.inc(n)


BATCH = Batch()
atexit.register(BATCH.flush)


def observe_store(what: str, outcome: str, seconds: float) -> None:
    """One store operation; `what` is "redis" or the Postgres table (see store.errors)."""
    BATCH.observe(_store_series(what, outcome), seconds)


@functools.lru_cache(maxsize=256)
def _store_series(what: str, outcome: str) -> Any:
    if what == "redis":
        return REDIS_SECONDS.labels(outcome)
    return POSTGRES_SECONDS.labels(what, outcome)


def use_directory(directory: Path) -> None:
    """Multiprocess mode for this process and the workers it forks: samples go to files in
    `directory`, emptied first (files of dead processes would be summed in forever)."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    # prometheus-client reads the variable once, at import; this module imported it earlier.
    values.ValueClass = values.MultiProcessValue(_pid)  # type: ignore[no-untyped-call]


_process = [os.getpid()]
# Every sample checks the process id first (a fork resets the values): remember it at each
# fork instead of asking the kernel for it several times a request.
os.register_at_fork(after_in_child=lambda: _process.__setitem__(0, os.getpid()))


def _pid() -> int:
    return _process[0]


def exposition() -> tuple[bytes, str]:
    """The text format of every metric: this process's, or all workers' in multiprocess mode."""
    BATCH.flush()
    if MULTIPROC_ENV in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def count(counter: Counter, label: str) -> None:
    """One security event (rare: no cached series needed)."""
    counter.labels(label).inc()
