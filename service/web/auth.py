"""Bearer authentication for the JSON:API handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from service.oauth.errors import InvalidToken
from service.oauth.tokens import Claims
from service.web import jsonapi
from service.web.appkeys import BEARER

Handler = Callable[[web.Request, Claims], Awaitable[web.Response]]


def _refuse(status: int, error: str, detail: str) -> web.Response:
    challenge = {"WWW-Authenticate": f'Bearer error="{error}"'}
    return jsonapi.error(status, error, detail, challenge)


def bearer(realm: str) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.Response]]]:
    """Let the handler run only for a live access token issued for `realm`."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def checked(request: web.Request) -> web.Response:
            if "access_token" in request.query:
                detail = "Send the token in the Authorization header, not the query string."
                return _refuse(400, "invalid_request", detail)
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            try:
                if scheme.lower() != "bearer":
                    raise InvalidToken("no bearer token")
                claims = await request.app[BEARER].verify(token.strip(), realm)
            except InvalidToken:
                detail = "The access token is missing, invalid or expired."
                return _refuse(401, "invalid_token", detail)
            return await handler(request, claims)

        return checked

    return wrap


def forbidden(detail: str) -> web.Response:
    return jsonapi.error(403, "forbidden", detail)
