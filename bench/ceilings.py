"""The two ceilings every row is compared with, measured in the same run: how many
password hashes the cores can verify, and how fast aiohttp answers when it does nothing."""

from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import argon2

from service.config import PasswordHashingSettings


@dataclass(frozen=True)
class HashCeiling:
    samples: int
    median_ms: float
    p99_ms: float
    cores: int
    together: float  # verifies per second with a thread per core, all hashing at once

    @property
    def rate(self) -> float:
        """Verifies per second with every core hashing: no password grant can go faster
        without weakening the hash."""
        return self.cores / (self.median_ms / 1000)


def hash_ceiling(params: PasswordHashingSettings, samples: int) -> HashCeiling:
    """t_verify at the configured argon2id parameters, one verify at a time (in-process,
    before any server is loaded, so nothing competes for the core)."""
    hasher = argon2.PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_cost,
        parallelism=params.parallelism,
        type=argon2.Type.ID,
    )
    plain = "bench-bench-bench"
    encoded = hasher.hash(plain)
    hasher.verify(encoded, plain)  # the first touch of the memory is not a steady-state verify
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        hasher.verify(encoded, plain)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    cores = os.cpu_count() or 1

    def verify_all(_: int) -> None:
        for _ in range(samples):
            hasher.verify(encoded, plain)

    # argon2-cffi lets go of the GIL: the threads hash in parallel, as the service's do.
    # Concurrent hashes share the memory bus and caches, so each one takes longer.
    with ThreadPoolExecutor(cores) as pool:
        start = time.perf_counter()
        list(pool.map(verify_all, range(cores)))
        together = cores * samples / (time.perf_counter() - start)
    return HashCeiling(samples, statistics.median(times), p99, cores, together)
