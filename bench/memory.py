"""Memory after the run: resident set of each service worker, and Redis bytes per live
token.

Per token, not per key: besides one key per access token, the store keeps a record per
family (a login and its refreshes) and index sets of families, shared by many tokens. So
the bench sums MEMORY USAGE over every key of the run and divides by the tokens it knows
are live (counted from the answers it got; see Bench.issued). MEMORY USAGE counts a key,
its value and its main-dict entry, not its entry in the expiry dict (~32 B more a key).
Authorization codes and the authorize pages' sessions are not tokens: listed, not counted
in the figure (the code row's pool leaves thousands, gone after tokens.auth_code_lifetime)."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from bench import procs

BATCH = 1000


@dataclass(frozen=True)
class RedisUsage:
    keys: int
    total_bytes: int
    live_tokens: int
    by_kind: dict[str, dict[str, int]]  # kind of key -> {"keys": n, "bytes": sum}

    @property
    def token_bytes(self) -> int:
        return sum(n["bytes"] for kind, n in self.by_kind.items() if kind not in NOT_TOKENS)

    @property
    def bytes_per_token(self) -> float:
        return self.token_bytes / self.live_tokens if self.live_tokens else 0.0


NOT_TOKENS = ("code", "session")


def _kind(key: bytes) -> str:
    """The store's key layout (service/store/tokens.py, codes.py)."""
    if b":code:" in key:
        return "code"
    if b":sess:" in key:
        return "session"
    if b":a:" in key:
        return "access"
    if key.endswith((b":f", b":r")):
        return "family"
    if b"idx:" in key:
        return "index"
    return "other"


def redis_usage(url: str, prefix: str, live_tokens: int) -> RedisUsage:
    by_kind: dict[str, dict[str, int]] = {}
    with redis.Redis.from_url(url) as client:
        keys = list(client.scan_iter(match=f"{prefix}*", count=BATCH))
        for start in range(0, len(keys), BATCH):
            batch = keys[start : start + BATCH]
            pipe = client.pipeline(transaction=False)
            for key in batch:
                # SAMPLES 0: every member of a set, not an estimate from five of them.
                pipe.memory_usage(key, samples=0)
            for key, size in zip(batch, pipe.execute(), strict=True):
                if size is None:  # expired between SCAN and MEMORY USAGE
                    continue
                kind = by_kind.setdefault(_kind(key), {"keys": 0, "bytes": 0})
                kind["keys"] += 1
                kind["bytes"] += int(size)
    total = sum(k["bytes"] for k in by_kind.values())
    return RedisUsage(len(keys), total, live_tokens, dict(sorted(by_kind.items())))


def worker_rss_mb(pids: list[int]) -> dict[int, float]:
    return {pid: round(procs.rss_mb(pid), 1) for pid in pids}
