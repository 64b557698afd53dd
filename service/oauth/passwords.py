"""argon2id hashing, always off the event loop."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import argon2

from service.config import PasswordHashingSettings
from service.metrics import PASSWORD_HASH_SECONDS

T = TypeVar("T")


def _timed(fn: Callable[..., T], *args: str) -> T:
    """On a hashing thread: times the hash itself, not the wait for a free thread."""
    start = time.perf_counter()
    try:
        return fn(*args)
    finally:
        op = getattr(fn, "__name__", "other")
        PASSWORD_HASH_SECONDS.labels(op).observe(time.perf_counter() - start)


class Passwords:
    def __init__(self, settings: PasswordHashingSettings, processes: int = 1) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=settings.time_cost,
            memory_cost=settings.memory_cost,
            parallelism=settings.parallelism,
            type=argon2.Type.ID,
        )
        # By default the CPUs are shared out among the worker processes: more hashing
        # threads than cores only makes each hash, and the event loop, wait longer.
        threads = settings.threads or max(1, (os.cpu_count() or 1) // processes)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="argon2")
        # Unknown users are checked against this, so they cost what known users cost.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True if `password` matches; with no hash, burns the same time and says False."""
        try:
            ok = await self._run(self._hasher.verify, password_hash or self._dummy, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
        return ok and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, _timed, fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
