"""Bearer authentication for the JSON:API handlers."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from service.oauth.errors import InvalidToken
from service.oauth.model import Audience, Claims
from service.web import jsonapi
from service.web.appkeys import BEARER

Handler = Callable[[web.Request, Claims], Awaitable[web.Response]]


def _refuse(status: int, error: str, detail: str) -> web.Response:
    challenge = {"WWW-Authenticate": f'Bearer error="{error}"'}
    return jsonapi.error(status, error, detail, challenge)


def _media_types(header: str) -> list[tuple[str, set[str]]]:
    """(type, parameter names) per entry of an Accept-like header; q is not a parameter."""
    entries = []
    for part in header.split(","):
        mime, *params = (p.strip() for p in part.split(";"))
        names = {p.split("=", 1)[0].strip().lower() for p in params if p} - {"q"}
        if mime:
            entries.append((mime.lower(), names))
    return entries


def negotiate(request: web.Request) -> web.Response | None:
    """JSON:API content negotiation: 415 for a body that is not plain JSON:API, 406 when
    the client accepts nothing we can send."""
    content_type = request.headers.get("Content-Type")
    if content_type is not None and not (request.can_read_body or "vnd.api+json" in content_type):
        content_type = None  # no body: its type says nothing
    refused = _refusal(content_type, request.headers.get("Accept"))
    return None if refused is None else jsonapi.error(*refused)


@functools.lru_cache(maxsize=256)
def _refusal(content_type: str | None, accept: str | None) -> tuple[int, str, str] | None:
    """negotiate's verdict on two header values: a client sends the same ones every time."""
    allowed = {"ext", "profile"}
    if content_type is not None:
        [(mime, params)] = _media_types(content_type)[:1] or [("", set())]
        if mime != jsonapi.MEDIA_TYPE or params - allowed:
            return 415, "unsupported media type", f"Send {jsonapi.MEDIA_TYPE}."
    if accept:
        entries = _media_types(accept)
        ours = [params for mime, params in entries if mime == jsonapi.MEDIA_TYPE]
        wildcard = any(mime in ("*/*", "application/*") for mime, _ in entries)
        if (ours and all(params - allowed for params in ours)) or (not ours and not wildcard):
            return 406, "not acceptable", f"Accept {jsonapi.MEDIA_TYPE}."
    return None


def bearer(
    audience: Audience, query: tuple[str, ...] = ()
) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.Response]]]:
    """Let the handler run only for a live access token issued for `audience`, with no query
    parameter but those in `query` (JSON:API: an unknown one is a 400)."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def checked(request: web.Request) -> web.Response:
            refused = negotiate(request)
            if refused is not None:
                return refused
            if "access_token" in request.query:
                detail = "Send the token in the Authorization header, not the query string."
                return _refuse(400, "invalid_request", detail)
            unknown = sorted(set(request.query) - set(query))
            if unknown:
                detail = f"Unsupported query parameter {unknown[0]!r}."
                return jsonapi.error(400, "invalid query parameter", detail)
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer":
                # RFC 6750 §3.1: no credentials of ours at all is no error, only a challenge.
                detail = "An access token is needed: send it as a Bearer token."
                return jsonapi.error(401, "unauthorized", detail, {"WWW-Authenticate": "Bearer"})
            try:
                claims = await request.app[BEARER].verify(token.strip(), audience)
            except InvalidToken:
                detail = "The access token is missing, invalid or expired."
                return _refuse(401, "invalid_token", detail)
            return await handler(request, claims)

        return checked

    return wrap


def forbidden(detail: str) -> web.Response:
    return jsonapi.error(403, "forbidden", detail)
