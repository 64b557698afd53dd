"""The bounded cache behind the client-row and verified-token caches."""

from __future__ import annotations

from service.cache import Cache


def test_the_oldest_entry_goes_when_full() -> None:
    cache: Cache[str, int] = Cache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)  # replaced: now the newest
    cache.put("c", 4)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (3, None, 4)
    assert len(cache) == 2


def test_an_entry_is_served_for_its_lifetime_only() -> None:
    now = [100.0]
    cache: Cache[str, int] = Cache(10, ttl=2, clock=lambda: now[0])
    cache.put("a", 1)
    now[0] = 101.9
    assert cache.get("a") == 1
    now[0] = 102.0
    assert cache.get("a") is None


def test_pop_and_clear() -> None:
    cache: Cache[str, int] = Cache(10)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.pop("a")
    cache.pop("missing")
    assert cache.get("a") is None and cache.get("b") == 2
    cache.clear()
    assert len(cache) == 0
