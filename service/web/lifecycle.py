"""POST /oauth2-token/revoke (RFC 7009), POST /oauth2-token/introspect (RFC 7662), and the
discovery documents: /.well-known/jwks.json and /.well-known/oauth-authorization-server."""

from __future__ import annotations

from aiohttp import web

from service.oauth.authorize import AUTHORIZE
from service.oauth.clients import credentials
from service.oauth.entities import Client
from service.oauth.grants import required
from service.oauth.model import GrantType
from service.oauth.pkce import Method
from service.web.appkeys import CLIENTS, CODEC, SETTINGS, TOKEN_ADMIN
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
    return web.Response(status=200, headers={"Cache-Control": "no-store"})


async def introspect(request: web.Request) -> web.Response:
    client, token = await _client_and_token(request)
    return no_store_json(await request.app[TOKEN_ADMIN].introspect(client, token))


async def jwks(request: web.Request) -> web.Response:
    # Short cache: a rotated key must reach verifiers before it starts signing.
    return web.json_response(
        request.app[CODEC].keys.public_jwks(), headers={"Cache-Control": "public, max-age=60"}
    )


async def metadata(request: web.Request) -> web.Response:
    issuer = request.app[SETTINGS].tokens.issuer.rstrip("/")
    auth_methods = ["client_secret_basic", "client_secret_post"]
    return web.json_response(
        {
            "issuer": request.app[SETTINGS].tokens.issuer,
            "authorization_endpoint": f"{issuer}{AUTHORIZE}",
            "token_endpoint": f"{issuer}{ENDPOINT}",
            "jwks_uri": f"{issuer}/.well-known/jwks.json",
            "revocation_endpoint": f"{issuer}{ENDPOINT}/revoke",
            "introspection_endpoint": f"{issuer}{ENDPOINT}/introspect",
            "grant_types_supported": [g.value for g in GrantType],
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": [m.value for m in Method],
            "scopes_supported": [],
            "token_endpoint_auth_methods_supported": [*auth_methods, "none"],
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "token_endpoint_auth_signing_alg_values_supported": request.app[CODEC].keys.algorithms,
        },
        headers={"Cache-Control": "public, max-age=60"},
    )


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.post(f"{ENDPOINT}/revoke", revoke),
        web.post(f"{ENDPOINT}/introspect", introspect),
        web.get("/.well-known/jwks.json", jwks),
        web.get("/.well-known/oauth-authorization-server", metadata),
    ]
