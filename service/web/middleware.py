"""The front of every request: its id, the client address behind trusted proxies, its slot
of the worker (service.web.admission) and its count (service.web.metrics), in one
middleware; and the headers every answer gets."""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import secrets
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from service.oauth.audit import Caller
from service.web import admission, metrics
from service.web.appkeys import SETTINGS

REQUEST_ID = web.RequestKey("request_id", str)
# The client address, as client_address found it (the access log reads it too).
CLIENT = web.RequestKey("client_address", str)
_GOOD_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def client_address(request: web.Request) -> str:
    """The peer, or the X-Forwarded-For hop just before our trusted proxies: a header from
    anyone else is ignored, or every client could pick its own rate-limit bucket."""
    peer = request.remote or "unknown"
    proxies = request.app[TRUSTED]
    if not proxies:
        return peer
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    address = peer
    for hop in [peer, *reversed(hops)]:
        try:
            ip = ipaddress.ip_address(hop)
        except ValueError:
            return address
        address = str(ip)
        if not any(ip in net for net in proxies):
            return address
    return address


def caller(request: web.Request) -> Caller:
    return Caller(address=request[CLIENT], request_id=request[REQUEST_ID])


_ids = itertools.count()
_id_prefix = [secrets.token_hex(4)]
# A forked worker numbers its requests under a prefix of its own.
os.register_at_fork(after_in_child=lambda: _id_prefix.__setitem__(0, secrets.token_hex(4)))


@web.middleware
async def front_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Outermost. One layer rather than one each: a layer costs every request a coroutine
    and a call, and these three run for every request anyway."""
    start = time.perf_counter()
    given = request.headers.get("X-Request-Id", "")
    if _GOOD_ID.fullmatch(given):
        request[REQUEST_ID] = given
    else:  # unique, not secret: a random prefix per process and a counter
        request[REQUEST_ID] = f"{_id_prefix[0]}{next(_ids):08x}"
    request[CLIENT] = address = client_address(request)
    status = 500
    try:
        response = await admission.admitted(request, address, handler)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.observe(request, status, time.perf_counter() - start)


async def common_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Request-Id"] = request.get(REQUEST_ID, "")
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.popall("Server", None)


TRUSTED = web.AppKey("trusted_proxies", tuple)


def setup(app: web.Application) -> None:
    networks = app[SETTINGS].protection.trusted_proxies
    app[TRUSTED] = tuple(ipaddress.ip_network(n, strict=False) for n in networks)
    admission.setup(app)
    app.middlewares.insert(0, front_middleware)
    app.on_response_prepare.append(common_headers)
