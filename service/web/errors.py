"""One middleware renders every error: league's body on the token endpoint, a JSON:API
error document on the APIs. What an error answers is service.oauth.errors.classify's
verdict, the one the metrics and the audit log count too; anything unexpected becomes a
500 that reveals nothing."""

from __future__ import annotations

import logging

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from service.logs import Throttled
from service.oauth.errors import (
    Invalid,
    InvalidValue,
    OAuthError,
    StoreUnavailable,
    TemporarilyUnavailable,
    classify,
)
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


# On the APIs, the JSON:API title and detail of what the token endpoint answers in league's
# shape; an error of another kind never reaches an API handler.
_API_ERRORS: dict[type[OAuthError], tuple[str, str]] = {
    TemporarilyUnavailable: ("temporarily unavailable", "Try again later."),
    InvalidValue: ("invalid value", "A value of the request is not valid."),
}
_API_SERVER_ERROR = ("internal error", "The server could not answer.")


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
    return no_store_json(body, exc.status, headers)


def _log(request: web.Request, exc: Exception) -> None:
    if isinstance(exc, OAuthError):
        return  # the caller's mistake, already in the audit log where it matters
    if isinstance(exc, StoreUnavailable):
        unavailable_log.warning("dependency unavailable: %s", exc)
    elif isinstance(exc, Invalid):
        # The database refused a value that got past the checks in front of it.
        log.warning("value refused by the database: %s", exc)
    else:
        log.exception("unhandled error on %s %s", request.method, request.path)


def _render(request: web.Request, error: OAuthError) -> web.Response:
    if not _is_api(request):
        return oauth_response(error)
    title, detail = _API_ERRORS.get(type(error), _API_SERVER_ERROR)
    return jsonapi.error(error.status, title, detail)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_error(request, exc)
    except Exception as exc:
        _log(request, exc)
        error = classify(exc)
        if isinstance(exc, OAuthError):  # the domain's own answer, wherever it is asked
            return oauth_response(error)
        return _render(request, error)
