"""GET /metrics (Prometheus text format) and what the web layer counts: every request by route
and status, every token request by grant type and outcome.

/metrics is on the main listener unless `metrics.port` gives it one of its own, and open
unless `metrics.token` (SERVICE_METRICS_TOKEN) is set: then a scrape must send it as a
bearer token."""

from __future__ import annotations

import contextlib
import functools
import hmac
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from service import metrics
from service.config import Settings
from service.oauth.errors import classify
from service.oauth.model import GRANT_TYPES
from service.web.appkeys import SETTINGS

PATH = "/metrics"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_of(request: web.Request) -> str:
    """The route's pattern ("/api/users/{id}"), never the raw path; "unmatched" for 404s."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


def observe(request: web.Request, status: int, seconds: float) -> None:
    """One answered request (service.web.middleware's front middleware calls it last, so it
    sees the status the error middleware rendered)."""
    route = route_of(request)
    method = request.method if request.method in METHODS else "other"
    counter, histogram = _children(method, route, status)
    metrics.BATCH.inc(counter)
    metrics.BATCH.observe(histogram, seconds)


@functools.lru_cache(maxsize=1024)
def _children(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The labelled series of one kind of request. Looking them up costs more than the
    counting itself; the label space is small (routes x methods x statuses)."""
    return metrics.REQUESTS.labels(method, route, str(status)), metrics.REQUEST_SECONDS.labels(
        route
    )


def record_grant(grant_type: str, outcome: str) -> None:
    """One token request: `outcome` is "issued" or the OAuth error code it was refused with."""
    # Label values come from the grant types only: a client must not mint new time series.
    _grant_series(grant_type if grant_type in GRANT_TYPES else "other", outcome).inc()


@functools.lru_cache(maxsize=256)
def _grant_series(grant_type: str, outcome: str) -> Any:
    return metrics.GRANTS.labels(grant_type, outcome)


class GrantRequest:
    """What the token request turned out to ask for, once its body was read."""

    grant_type: str | None = None


@contextlib.contextmanager
def counting_grants() -> Iterator[GrantRequest]:
    """Around the token endpoint's work: records how the request ended (the outcome the
    error middleware answers, by the same classification), then lets it end so."""
    request, outcome = GrantRequest(), "server_error"
    try:
        yield request
        outcome = "issued"
    except Exception as exc:
        outcome = classify(exc).error
        raise
    finally:
        record_grant(request.grant_type or "", outcome)


def _authorized(request: web.Request) -> bool:
    token = request.app[SETTINGS].metrics.token
    if not token:
        return True
    given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
    return hmac.compare_digest(given, f"Bearer {token}".encode())


async def scrape(request: web.Request) -> web.Response:
    if not _authorized(request):
        return web.Response(
            status=401,
            text="a bearer token is needed (metrics.token)",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
        )
    body, content_type = metrics.exposition()
    # aiohttp wants the charset apart from the media type.
    media_type, _, params = content_type.partition(";")
    charset = params.partition("charset=")[2].strip() or None
    return web.Response(
        body=body,
        content_type=media_type.strip(),
        charset=charset,
        headers={"Cache-Control": "no-store"},
    )


def setup(app: web.Application) -> None:
    """Serve /metrics, unless it has a listener of its own."""
    if not app[SETTINGS].metrics.port:
        app.router.add_get(PATH, scrape)


def listener_app(settings: Settings) -> web.Application:
    """The app behind `metrics.port`: /metrics only."""
    app = web.Application()
    app[SETTINGS] = settings
    app.router.add_get(PATH, scrape)
    app.on_response_prepare.append(_no_server_header)
    return app


async def _no_server_header(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.popall("Server", None)
