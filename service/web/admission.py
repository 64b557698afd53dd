"""Admission under overload: each request holds one of its worker's slots (service.web.gate)
while it is handled. One that gets none within `server.queue_timeout` is answered at once,
before any work: 429 when its address held its share
(`server.max_requests_in_flight_per_address`), 503 when the worker was full
(`server.max_requests_in_flight`), both with Retry-After. Health checks and /metrics take
no slot: a balancer and a scraper must see a busy process answer."""

from __future__ import annotations

import functools
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from service import metrics
from service.logs import Throttled
from service.oauth.errors import OAuthError, TemporarilyUnavailable, TooManyRequests
from service.web.appkeys import SETTINGS
from service.web.errors import refusal
from service.web.gate import Gate, Refused
from service.web.metrics import PATH as METRICS_PATH

log = logging.getLogger(__name__)
refused_log = Throttled(log)
GATE = web.AppKey("gate", Gate)
EXEMPT = frozenset({"/health/live", "/health/ready", METRICS_PATH})
RETRY_AFTER = 1  # seconds: slots free up within one; a longer pause would idle the worker
WHY = {
    Refused.ADDRESS: "an address over server.max_requests_in_flight_per_address",
    Refused.WORKER: "a worker at server.max_requests_in_flight",
}


@functools.cache
def _counter(reason: Refused) -> Any:
    return metrics.REFUSED.labels(reason.value)


def _answer(request: web.Request, reason: Refused) -> web.Response:
    _counter(reason).inc()
    refused_log.warning("requests refused: %s", WHY[reason])
    exc: OAuthError
    if reason is Refused.ADDRESS:
        exc = TooManyRequests(RETRY_AFTER)
    else:
        exc = TemporarilyUnavailable()
        exc.headers["Retry-After"] = str(RETRY_AFTER)
    return refusal(request, exc)


async def admitted(request: web.Request, address: str, handler: Handler) -> web.StreamResponse:
    """The handler's answer, run while the request holds a slot; else the refusal. (Called
    by service.web.middleware's front middleware, after the request got its id.)"""
    if request.path in EXEMPT:
        return await handler(request)
    gate = request.app[GATE]
    reason = await gate.enter(address)
    if reason is not None:
        return _answer(request, reason)
    try:
        return await handler(request)
    finally:
        gate.leave(address)


def setup(app: web.Application) -> None:
    server = app[SETTINGS].server
    app[GATE] = Gate(
        server.max_requests_in_flight,
        server.max_requests_in_flight_per_address,
        server.queue_timeout,
    )
