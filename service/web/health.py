"""Health for load balancers and orchestrators.

/health/live: the process answers (no I/O): restart it if this fails.
/health/ready: Postgres and Redis answer within READY_TIMEOUT: send it traffic only then. Its
body also tells when this worker last read its keys folder without an error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable

from aiohttp import web

from service.web.appkeys import KEY_RELOADER, PROBES

# Below the balancer's check timeout (deploy/haproxy.cfg: 2 s), so a slow store reads as
# "down" here rather than as a check that never answered.
READY_TIMEOUT = 1.0
NO_STORE = {"Cache-Control": "no-store"}


async def live(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"}, headers=NO_STORE)


async def _check(ping: Awaitable[None]) -> str:
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await ping
    except Exception:  # any failure at all means "not ready"; the reason is not for callers
        return "down"
    return "ok"


async def ready(request: web.Request) -> web.Response:
    probes = request.app[PROBES]
    states = await asyncio.gather(*(_check(ping()) for ping in probes.values()))
    checks = dict(zip(probes, states, strict=True))
    ok = all(state == "ok" for state in checks.values())
    return web.json_response(
        {"status": "ok" if ok else "unavailable", "checks": checks, "keys": _keys(request)},
        status=200 if ok else 503,
        headers=NO_STORE,
    )


def _keys(request: web.Request) -> dict[str, str | int]:
    # Not a check: an instance whose reloads fail still signs and verifies with the keys it
    # has. The age is for a person or an alert; the metric says the same to Prometheus.
    last = request.app[KEY_RELOADER].last_success
    return {
        "last_reload": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(last)),
        "age_seconds": max(0, int(time.time() - last)),
    }


def routes() -> list[web.AbstractRouteDef]:
    return [web.get("/health/live", live), web.get("/health/ready", ready)]
