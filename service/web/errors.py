"""One middleware renders every error: league's body on the token endpoint, a JSON:API
error document on the APIs. Anything unexpected becomes a 500 that reveals nothing."""

from __future__ import annotations

import logging

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from service.logs import Throttled
from service.oauth.errors import InvalidRequest, OAuthError, TemporarilyUnavailable
from service.store.errors import Invalid, StoreUnavailable
from service.web import jsonapi
from service.web.appkeys import SETTINGS

log = logging.getLogger(__name__)
# While a store is down every request would log it: a line per 10 s with a count instead.
unavailable_log = Throttled(log)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def no_store_json(
    data: object, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A token endpoint answer: `application/json` without charset (as league), not cached."""
    return web.Response(
        status=status,
        body=orjson.dumps(data),
        content_type="application/json",
        headers={**NO_STORE, **(headers or {})},
    )


def oauth_response(exc: OAuthError) -> web.Response:
    return no_store_json(exc.body(), exc.status, exc.headers)


def _is_api(request: web.Request) -> bool:
    api = request.app[SETTINGS].api
    path = request.path
    return any(
        path == p or path.startswith(p + "/")
        for p in (api.backoffice_prefix, api.storefront_prefix)
    )


def refusal(request: web.Request, exc: OAuthError) -> web.Response:
    """A request turned away before any work (overload): a JSON:API error document on the
    APIs, league's body elsewhere; the exception's headers (Retry-After) either way."""
    if _is_api(request):
        return jsonapi.error(exc.status, exc.error.replace("_", " "), exc.message, exc.headers)
    return oauth_response(exc)


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    reason = exc.reason
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "www-authenticate")}
    if _is_api(request):
        return jsonapi.error(exc.status, reason, reason, headers)
    body = {
        "error": reason.lower().replace(" ", "_"),
        "error_description": reason,
        "message": reason,
    }
    if exc.status == 413:
        body["error"] = "invalid_request"
    return no_store_json(body, exc.status, headers)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except OAuthError as exc:
        return oauth_response(exc)
    except StoreUnavailable as exc:
        unavailable_log.warning("dependency unavailable: %s", exc)
        if _is_api(request):
            return jsonapi.error(503, "temporarily unavailable", "Try again later.")
        return oauth_response(TemporarilyUnavailable())
    except Invalid as exc:
        # The database refused a value that got past the checks in front of it: still the
        # caller's input, so a 400 that names nothing, not a 500.
        log.warning("value refused by the database: %s", exc)
        if _is_api(request):
            return jsonapi.error(400, "invalid value", "A value of the request is not valid.")
        return oauth_response(InvalidRequest())
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_error(request, exc)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        if _is_api(request):
            return jsonapi.error(500, "internal error", "The server could not answer.")
        return oauth_response(OAuthError())
