"""Discovery end to end, as `make run` serves it: the repository's config.yml with its
defaults (an http://localhost issuer, on the port it names), a real process, and Authlib's
client finding the token endpoint in the metadata, then logging in and calling the API."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import yaml
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from tests.conftest import Seeded
from tests.servers import ROOT, free_ports, service_process


async def test_authlib_discovers_and_logs_in_against_the_default_config(
    tmp_path: Path, database_url: str, redis_url: str, keys_dir: Path, seeded: Seeded
) -> None:
    config: dict[str, Any] = yaml.safe_load((ROOT / "config.yml").read_text())
    # `make run`'s config as it is, on the suite's stores, and on a free port with the issuer
    # `make run` has on that port (its default names port 8080 for both).
    port = free_ports(1)[0]
    config["server"].update(workers=1, port=port, var_dir=str(tmp_path / "var"))
    config["database"]["url"] = database_url
    config["redis"].update(url=redis_url, key_prefix=f"test:e2e:{secrets.token_hex(4)}:")
    config["tokens"].update(keys_dir=str(keys_dir), issuer=f"http://localhost:{port}")
    config["maintenance"] = {"cleanup_interval": 0}
    issuer = config["tokens"]["issuer"]

    with service_process(config, tmp_path):
        async with AsyncOAuth2Client(
            seeded.client_id, seeded.client_secret, token_endpoint_auth_method="client_secret_basic"
        ) as oauth:
            found = await oauth.request(
                "GET", f"{issuer}/.well-known/oauth-authorization-server", withhold_token=True
            )
            assert found.status_code == 200
            metadata = AuthorizationServerMetadata(found.json())
            # RFC 8414 §3.3: the issuer is the one the document was asked of.
            assert metadata["issuer"] == issuer
            # Everything but the issuer's https (a development server on localhost).
            for key in metadata.REGISTRY_KEYS:
                if key != "issuer":
                    getattr(metadata, f"validate_{key}")()
            assert "password" in metadata["grant_types_supported"]
            assert "client_secret_basic" in metadata["token_endpoint_auth_methods_supported"]

            token = await oauth.fetch_token(
                metadata["token_endpoint"], username="admin", password="s3cret-pass"
            )
            assert token["token_type"] == "Bearer"
            accept = {"Accept": "application/vnd.api+json"}
            assert (await oauth.get(f"{issuer}/api/users", headers=accept)).status_code == 200
            # And the token is revoked where the metadata says.
            revoked = await oauth.revoke_token(
                metadata["revocation_endpoint"], token["access_token"]
            )
            assert revoked.status_code == 200
            assert (await oauth.get(f"{issuer}/api/users", headers=accept)).status_code == 401
