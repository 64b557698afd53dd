"""Discovery as clients check it: RFC 8414 metadata that Authlib validates, served also where
Oro 7 serves it, and RFC 9728 protected-resource metadata for the APIs."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from service.app import create_app
from service.config import Settings, replace


async def test_metadata_passes_authlibs_validation(client: TestClient[Any, Any]) -> None:
    response = await client.get("/.well-known/oauth-authorization-server")
    assert response.status == 200
    body = await response.json()
    AuthorizationServerMetadata(body).validate()  # raises on any RFC 8414 violation
    assert body["issuer"] == "https://auth.test"
    assert body["token_endpoint"] == "https://auth.test/oauth2-token"
    # No JWT client authentication exists, so no algorithms for it.
    assert "token_endpoint_auth_signing_alg_values_supported" not in body
    # Public clients revoke and introspect their own tokens with their client_id alone.
    for endpoint in ("token", "revocation", "introspection"):
        assert "none" in body[f"{endpoint}_endpoint_auth_methods_supported"]


async def test_metadata_is_also_where_oro_serves_it(client: TestClient[Any, Any]) -> None:
    expected = await (await client.get("/.well-known/oauth-authorization-server")).json()
    for path in ("/oauth2-server", "/.well-known/oauth-authorization-server/oauth2-server"):
        response = await client.get(path)
        assert response.status == 200, path
        assert await response.json() == expected

    unknown = await client.get("/.well-known/oauth-authorization-server/unknown")
    assert unknown.status == 404
    assert unknown.content_type == "text/plain"
    assert await unknown.text() == "The OAuth server not found."


async def test_an_issuer_in_oros_form_has_its_endpoints_at_the_root(
    aiohttp_client: Any, settings: Settings
) -> None:
    oro = replace(settings, tokens={"issuer": "https://shop.example/oauth2-server"})
    client = await aiohttp_client(create_app(oro))
    # RFC 8414 §3.1: an issuer with a path has its metadata under the path.
    response = await client.get("/.well-known/oauth-authorization-server/oauth2-server")
    body = await response.json()
    AuthorizationServerMetadata(body).validate()
    assert body["issuer"] == "https://shop.example/oauth2-server"
    assert body["token_endpoint"] == "https://shop.example/oauth2-token"
    assert body["jwks_uri"] == "https://shop.example/.well-known/jwks.json"


async def test_protected_resource_metadata(client: TestClient[Any, Any]) -> None:
    root = await client.get("/.well-known/oauth-protected-resource")
    assert root.status == 200
    body = await root.json()
    assert body["resource"] == "https://auth.test"
    assert body["authorization_servers"] == ["https://auth.test"]
    assert body["bearer_methods_supported"] == ["header"]

    # The path form: the resource is exactly the URL the client derived it from (RFC 9728 §3.3).
    for path, name in [
        ("/api", "Back-office API"),
        ("/api/users", "Back-office API"),
        ("/storefront/api", "Storefront API"),
    ]:
        response = await client.get(f"/.well-known/oauth-protected-resource{path}")
        assert response.status == 200, path
        body = await response.json()
        assert body["resource"] == f"https://auth.test{path}"
        assert body["resource_name"] == name

    unknown = await client.get("/.well-known/oauth-protected-resource/apix")
    assert unknown.status == 404
    assert await unknown.text() == "The resource not found."
