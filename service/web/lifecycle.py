"""POST /oauth2-token/revoke (RFC 7009) and POST /oauth2-token/introspect (RFC 7662)."""

from __future__ import annotations

from aiohttp import web

from service.oauth.clients import credentials
from service.oauth.entities import Client
from service.oauth.grants import required
from service.web.appkeys import CLIENTS, TOKEN_ADMIN
from service.web.errors import no_store_json
from service.web.middleware import caller
from service.web.token import ENDPOINT, read_basic, read_params


async def _client_and_token(request: web.Request) -> tuple[Client, str]:
    params = await read_params(request)
    client = await request.app[CLIENTS].authenticate(credentials(params, read_basic(request)), None)
    return client, required(params, "token")


async def revoke(request: web.Request) -> web.Response:
    client, token = await _client_and_token(request)
    await request.app[TOKEN_ADMIN].revoke(client, token, caller(request))
    # An empty JSON object, as JSON: clients that parse every answer (simple-oauth2) fail
    # on an empty body.
    return no_store_json({})


async def introspect(request: web.Request) -> web.Response:
    client, token = await _client_and_token(request)
    return no_store_json(await request.app[TOKEN_ADMIN].introspect(client, token))


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.post(f"{ENDPOINT}/revoke", revoke),
        web.post(f"{ENDPOINT}/introspect", introspect),
    ]
