"""Who may call the admin API, and how its errors are told. On a loopback listener the
caller is an operator on the host; anywhere else only a live access token of an active
admin client (client_credentials, the `admin` scope) gets in, checked like any bearer token
and against the client's row on every call."""

from __future__ import annotations

import ipaddress
import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from service.admin.clients import is_admin_client
from service.admin.errors import AdminError, NotFound
from service.oauth.errors import Conflict, Invalid, InvalidToken, StoreError, StoreUnavailable
from service.oauth.keys import KeyFileError
from service.oauth.model import ADMIN_SCOPE, Audience
from service.web import jsonapi
from service.web.admin.appkeys import BY, STORES, VERIFIER
from service.web.admin.documents import BadDocument
from service.web.appkeys import SETTINGS

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _challenge(status: int, error: str, detail: str) -> web.Response:
    headers = {"WWW-Authenticate": f'Bearer error="{error}"'}
    return jsonapi.error(status, error, detail, headers)


async def _caller(request: web.Request) -> str | web.Response:
    """Who calls ("local", or the admin client), or the refusal to answer."""
    header = request.headers.get("Authorization")
    if header is None and is_loopback(request.app[SETTINGS].admin.host):
        return "local"
    scheme, _, token = (header or "").partition(" ")
    try:
        if scheme.lower() != "bearer":
            raise InvalidToken("no bearer token")
        claims = await request.app[VERIFIER].verify(token.strip(), Audience.BACKOFFICE)
    except InvalidToken:
        return _challenge(401, "invalid_token", "An admin client's access token is required.")
    pool = request.app[STORES].pool
    if ADMIN_SCOPE not in claims.scopes or not await is_admin_client(pool, claims.client_id):
        return _challenge(403, "insufficient_scope", "The token is not an admin client's.")
    return f"client:{claims.client_id}"


@web.middleware
async def admin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        caller = await _caller(request)
        if isinstance(caller, web.Response):
            return caller
        request[BY] = caller
        return await handler(request)
    except BadDocument as exc:
        return exc.response()
    except NotFound as exc:
        return BadDocument(404, "not found", str(exc)).response()
    except AdminError as exc:
        return BadDocument.refused(exc).response()
    except Conflict:
        return jsonapi.error(409, "conflict", "A resource with that name exists already.")
    except Invalid:
        return jsonapi.error(400, "invalid value", "A value of the request is not valid.")
    except KeyFileError as exc:
        return jsonapi.error(400, "invalid key", str(exc))
    except StoreUnavailable:
        return jsonapi.error(503, "temporarily unavailable", "Try again later.")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        # A 405 tells which methods the resource has (RFC 9110).
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return jsonapi.error(exc.status, exc.reason, exc.reason, allow)
    except StoreError:
        return jsonapi.error(503, "temporarily unavailable", "Try again later.")
    except OSError:  # the keys folder, read-only or full
        log.warning("admin: keys folder not writable", exc_info=True)
        return jsonapi.error(503, "temporarily unavailable", "The keys folder cannot be written.")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonapi.error(500, "internal error", "The server could not answer.")
