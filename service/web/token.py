"""POST /oauth2-token: parse the request strictly, hand it to the domain, render the answer."""

from __future__ import annotations

import base64
import email.errors
import json
from urllib.parse import parse_qsl, unquote_plus

import orjson
from aiohttp import web

from service.oauth.errors import InvalidClient, InvalidRequest, PayloadTooLarge
from service.web.appkeys import SETTINGS, TOKEN_ENDPOINT
from service.web.errors import no_store_json
from service.web.metrics import counting_grants
from service.web.middleware import caller

ENDPOINT = "/oauth2-token"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def _from_json(raw: bytes) -> dict[str, str]:
    try:
        body = orjson.loads(raw)
    except ValueError:  # orjson's errors, too deep a nesting and bad UTF-8 included
        raise InvalidRequest(hint="The body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest(hint="The body must be a JSON object")
    # orjson keeps the last of repeated names. Each name is followed by one colon, so a body
    # with no more colons than names has none repeated (the usual case: one byte scan);
    # else parse it again, slowly, keeping every pair.
    if raw.count(b":") > len(body):
        _refuse_repeated(raw)
    params: dict[str, str] = {}
    for key, value in body.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidRequest.parameter(key)
        params[key] = value
    return _checked(params)


def _refuse_repeated(raw: bytes) -> None:
    seen: set[str] = set()
    for key, _ in json.loads(raw, object_pairs_hook=lambda pairs: pairs):
        if key in seen:  # RFC 6749 §3.2: parameters MUST NOT be repeated
            raise InvalidRequest.parameter(key)
        seen.add(key)


def _checked(params: dict[str, str]) -> dict[str, str]:
    """No parameter of any grant holds a NUL, and Postgres text cannot store one."""
    for key, value in params.items():
        if "\x00" in key or "\x00" in value:
            raise InvalidRequest.parameter(key.replace("\x00", ""))
    return params


def _from_form(raw: bytes) -> dict[str, str]:
    try:
        pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise InvalidRequest(hint="The body is not valid UTF-8") from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:  # RFC 6749 §3.2: parameters MUST NOT be repeated
            raise InvalidRequest.parameter(key)
        params[key] = value
    return _checked(params)


def media_type(request: web.Request) -> str:
    """The Content-Type without parameters; "" when the header cannot be parsed."""
    try:
        return request.content_type
    # aiohttp hands the header to the email package, which gives up on some malformed ones.
    except (ValueError, IndexError, email.errors.MessageError):
        return ""


async def read_body(request: web.Request) -> bytes:
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise PayloadTooLarge(message=exc.reason) from None


async def read_params(request: web.Request) -> dict[str, str]:
    raw = await read_body(request)
    kind = media_type(request)
    if kind == JSON:
        return _from_json(raw)
    if kind == FORM:
        return _from_form(raw)
    raise InvalidRequest(hint=f"Send the parameters as {FORM} or {JSON}")


def read_basic(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise InvalidClient()
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    # ValueError: bad base64 (binascii.Error), decoded bytes that are not UTF-8, and a header
    # with non-ASCII characters in it (b64decode takes ASCII strings only).
    except ValueError:
        raise InvalidClient(basic=True) from None
    client_id, sep, secret = decoded.partition(":")
    # RFC 6749 §2.3.1: both parts are form-encoded before base64.
    client_id, secret = unquote_plus(client_id), unquote_plus(secret)
    if not sep or not client_id or "\x00" in client_id + secret:
        raise InvalidClient(basic=True)
    return client_id, secret


async def token(request: web.Request) -> web.Response:
    # Counted from the first byte read: a body that cannot be parsed is a refusal too.
    with counting_grants() as grant:
        params = await read_params(request)
        grant.grant_type = params.get("grant_type")
        issued = await request.app[TOKEN_ENDPOINT].token(
            params, read_basic(request), caller(request)
        )
    body: dict[str, str | int] = {
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "access_token": issued.access_token,
    }
    if issued.refresh_token is not None:
        body["refresh_token"] = issued.refresh_token
    return no_store_json(body)


ALLOW = "OPTIONS, POST"
# A preflight's answer may be reused this long (as Oro's default preflight_max_age).
PREFLIGHT_MAX_AGE = 600


async def preflight(request: web.Request) -> web.Response:
    """As Oro's optionsAction: without Origin, the methods (`Allow`); from an allowed origin,
    the CORS answer, cacheable for PREFLIGHT_MAX_AGE when it is a preflight. Another origin
    is refused and told nothing."""
    cors = request.app[SETTINGS].cors
    origin = request.headers.get("Origin")
    if origin is None:
        return web.Response(status=200, headers={"Allow": ALLOW})
    if origin not in cors.origins:
        return web.Response(status=403, headers={"Vary": "Origin"})
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    if "Access-Control-Request-Method" not in request.headers:
        return web.Response(status=200, headers={**headers, "Allow": ALLOW})
    allowed_headers = ",".join(["Authorization", "Content-Type", *cors.allow_headers])
    return web.Response(
        status=200,
        headers={
            **headers,
            "Access-Control-Allow-Methods": ALLOW,
            "Access-Control-Allow-Headers": allowed_headers,
            "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE),
            # OPTIONS answers are not cached by default; this lets proxies and browsers
            # keep it, per origin (Vary), as Oro does.
            "Cache-Control": f"max-age={PREFLIGHT_MAX_AGE}, public",
        },
    )


async def add_cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    origin = request.headers.get("Origin")
    if origin and request.path == ENDPOINT and origin in request.app[SETTINGS].cors.origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"


def routes() -> list[web.AbstractRouteDef]:
    return [web.post(ENDPOINT, token), web.options(ENDPOINT, preflight)]
