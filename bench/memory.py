"""Memory after the run: resident set of each service worker, and Redis bytes per live
token (each live token is one key: an access token's record or a family's refresh record)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import redis

from bench import procs

SAMPLE = 2000


@dataclass(frozen=True)
class RedisUsage:
    keys: int
    sampled: int
    bytes_per_token: float
    by_kind: dict[str, float]  # mean bytes of access records, refresh (family) records, other


def _kind(key: bytes) -> str:
    if b":a:" in key:
        return "access"
    if key.endswith(b":r"):
        return "refresh"
    return "other"


def redis_usage(url: str, prefix: str) -> RedisUsage:
    """MEMORY USAGE of a random sample of the run's keys (all of them, up to SAMPLE). It
    counts the key, its value and the main dict's entry; not the expiry dict's entry."""
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        sample = random.sample(keys, min(SAMPLE, len(keys)))  # noqa: S311 - sampling, not secrecy
        pipe = client.pipeline(transaction=False)
        for key in sample:
            pipe.memory_usage(key, samples=0)
        sizes = pipe.execute()
    kinds: dict[str, list[int]] = {}
    for key, size in zip(sample, sizes, strict=True):
        if size is not None:  # expired between SCAN and MEMORY USAGE
            kinds.setdefault(_kind(key), []).append(int(size))
    measured = [s for sizes_of_kind in kinds.values() for s in sizes_of_kind]
    mean = sum(measured) / len(measured) if measured else 0.0
    by_kind = {k: round(sum(v) / len(v), 1) for k, v in sorted(kinds.items())}
    return RedisUsage(len(keys), len(measured), round(mean, 1), by_kind)


def worker_rss_mb(pids: list[int]) -> dict[int, float]:
    return {pid: round(procs.rss_mb(pid), 1) for pid in pids}
