"""The discovery documents: the JWKS, RFC 8414 authorization server metadata (at the RFC's
place and where Oro 7 serves it), and RFC 9728 protected-resource metadata for the APIs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from service.config import Settings
from service.oauth.authorize import AUTHORIZE
from service.oauth.model import GrantType
from service.oauth.pkce import Method
from service.web.appkeys import CODEC, SETTINGS
from service.web.token import ENDPOINT

METADATA = "/.well-known/oauth-authorization-server"
RESOURCE_METADATA = "/.well-known/oauth-protected-resource"
# Oro 7's metadata path; its issuer is this URL, and its endpoints sit at the host's root.
ORO_METADATA = "/oauth2-server"
# Any rest of the path, newlines too (`.` stops at one, and the 404 would not be Oro's).
_ANY_PATH = r"/{path:[\s\S]+}"
_CACHED = {"Cache-Control": "public, max-age=60"}
# Every client authenticates with its secret (Basic or in the body), or, a public client,
# with its client_id alone: on all three endpoints.
_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


def _issuer_path(settings: Settings) -> str:
    return urlsplit(settings.tokens.issuer).path.rstrip("/")


def endpoint_base(settings: Settings) -> str:
    """Where the endpoints are: the issuer, or its host for an issuer in Oro's form
    (`https://shop.example/oauth2-server`), whose endpoints are at the root as in Oro."""
    issuer = settings.tokens.issuer.rstrip("/")
    return issuer.removesuffix(ORO_METADATA) if issuer.endswith(ORO_METADATA) else issuer


def _origin(settings: Settings) -> str:
    parts = urlsplit(settings.tokens.issuer)
    return f"{parts.scheme}://{parts.netloc}"


def metadata_document(settings: Settings) -> dict[str, Any]:
    base = endpoint_base(settings)
    return {
        "issuer": settings.tokens.issuer,
        "authorization_endpoint": f"{base}{AUTHORIZE}",
        "token_endpoint": f"{base}{ENDPOINT}",
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "revocation_endpoint": f"{base}{ENDPOINT}/revoke",
        "introspection_endpoint": f"{base}{ENDPOINT}/introspect",
        "grant_types_supported": [g.value for g in GrantType],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": [m.value for m in Method],
        # Any scope a client asks for is taken, as Oro's scope repository does (a client
        # may be limited to some): there is no list to advertise.
        "scopes_supported": [],
        "token_endpoint_auth_methods_supported": _AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": _AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": _AUTH_METHODS,
    }


def _not_found(text: str) -> web.Response:
    """Oro's answer for an unknown server or resource: plain text."""
    return web.Response(status=404, text=text, headers={"Cache-Control": "no-store"})


async def jwks(request: web.Request) -> web.Response:
    # Short cache: a rotated key must reach verifiers before it starts signing.
    return web.json_response(request.app[CODEC].keys.public_jwks(), headers=_CACHED)


async def metadata(request: web.Request) -> web.Response:
    return web.json_response(metadata_document(request.app[SETTINGS]), headers=_CACHED)


async def metadata_alias(request: web.Request) -> web.Response:
    """RFC 8414 §3.1's place for an issuer with a path, and Oro's alias
    `/.well-known/oauth-authorization-server/oauth2-server`."""
    settings = request.app[SETTINGS]
    path = "/" + request.match_info["path"].strip("/")
    if path not in (ORO_METADATA, _issuer_path(settings) or ORO_METADATA):
        return _not_found("The OAuth server not found.")
    return web.json_response(metadata_document(settings), headers=_CACHED)


def _api_prefixes(settings: Settings) -> dict[str, str]:
    return {
        settings.api.backoffice_prefix: "Back-office API",
        settings.api.storefront_prefix: "Storefront API",
    }


async def protected_resource(request: web.Request) -> web.Response:
    """RFC 9728: what a client needs to get a token for a resource. The `resource` is the
    identifier the client derived this document's URL from (§3.3 makes it check that): the
    host, or an API or a path under it."""
    settings = request.app[SETTINGS]
    path = request.match_info.get("path", "").strip("/")
    resource_path = f"/{path}" if path else ""
    name = "Token service APIs"
    if resource_path:
        names = [
            label
            for prefix, label in _api_prefixes(settings).items()
            if resource_path == prefix or resource_path.startswith(prefix + "/")
        ]
        if not names:
            return _not_found("The resource not found.")
        name = names[0]
    return web.json_response(
        {
            "resource_name": name,
            "resource": f"{_origin(settings)}{resource_path}",
            "authorization_servers": [settings.tokens.issuer],
            "bearer_methods_supported": ["header"],
            "scopes_supported": [],
        },
        headers=_CACHED,
    )


def routes() -> list[web.AbstractRouteDef]:
    return [
        web.get("/.well-known/jwks.json", jwks),
        web.get(METADATA, metadata),
        web.get(METADATA + _ANY_PATH, metadata_alias),
        web.get(ORO_METADATA, metadata),
        web.get(RESOURCE_METADATA, protected_resource),
        web.get(RESOURCE_METADATA + _ANY_PATH, protected_resource),
    ]
