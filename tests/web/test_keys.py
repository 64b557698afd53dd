"""Signing keys: JWKS and RFC 8414 metadata, rotation without restarts, retirement, reloads
that survive a bad entry, and a start refused with one line."""

from __future__ import annotations

import asyncio
import calendar
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.app import _every, create_app
from service.config import Settings, replace
from service.oauth import keys
from tests.conftest import Factory, Seeded, bearer, password_grant
from tests.servers import free_ports

ROOT = Path(__file__).parent.parent.parent


def kid_of(token: str) -> str:
    import base64

    head = token.split(".")[0]
    header: dict[str, str] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return header["kid"]


async def test_jwks_publishes_public_keys_only(
    client: Any, settings: Settings, seeded: Any
) -> None:
    response = await client.get("/.well-known/jwks.json")
    assert response.status == 200
    body = await response.json()
    [jwk] = body["keys"]
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
    assert "d" not in jwk and "p" not in jwk
    token = (await password_grant(client, seeded))["access_token"]
    assert kid_of(token) == jwk["kid"]


async def test_authorization_server_metadata(client: Any, settings: Settings) -> None:
    body = await (await client.get("/.well-known/oauth-authorization-server")).json()
    assert body["issuer"] == "https://auth.test"
    assert body["token_endpoint"] == "https://auth.test/oauth2-token"
    assert body["revocation_endpoint"] == "https://auth.test/oauth2-token/revoke"
    assert body["introspection_endpoint"] == "https://auth.test/oauth2-token/introspect"
    assert body["jwks_uri"] == "https://auth.test/.well-known/jwks.json"
    assert set(body["grant_types_supported"]) == {
        "password",
        "refresh_token",
        "client_credentials",
        "authorization_code",
    }


async def wait_for(condition: Any, limit: float = 10) -> None:
    async def poll() -> None:
        while not await condition():  # noqa: ASYNC110 - polls a running server
            await asyncio.sleep(0.1)

    await asyncio.wait_for(poll(), limit)


async def reloading_app(
    aiohttp_client: Any, settings: Settings, factory: Factory, folder: Path, delay: int
) -> tuple[Any, Seeded, str]:
    """An app that re-reads `folder` every second, a user and client, and its first key."""
    old_kid = keys.generate(folder, "RS256")
    live = replace(
        settings,
        tokens={"keys_dir": str(folder), "keys_reload_interval": 1, "key_activation_delay": delay},
    )
    client = await aiohttp_client(create_app(live))
    await factory.user()
    return client, await factory.client(), old_kid


async def test_rotation_and_retirement_without_restart(
    aiohttp_client: Any, settings: Settings, factory: Factory, tmp_path: Path
) -> None:
    client, seeded, old_kid = await reloading_app(aiohttp_client, settings, factory, tmp_path, 0)
    old_token = (await password_grant(client, seeded))["access_token"]
    assert kid_of(old_token) == old_kid

    new_kid = keys.generate(tmp_path, "ES256")

    async def new_key_signs() -> bool:
        token = (await password_grant(client, seeded))["access_token"]
        return kid_of(token) == new_kid

    await wait_for(new_key_signs)
    new_token = (await password_grant(client, seeded))["access_token"]
    assert (await client.get("/api/users", headers=bearer(old_token))).status == 200
    assert (await client.get("/api/users", headers=bearer(new_token))).status == 200

    keys.retire(tmp_path, old_kid)

    async def old_key_refused() -> bool:
        return (await client.get("/api/users", headers=bearer(old_token))).status == 401

    await wait_for(old_key_refused)
    assert (await client.get("/api/users", headers=bearer(new_token))).status == 200


async def test_a_new_key_is_published_before_it_signs(
    aiohttp_client: Any, settings: Settings, factory: Factory, tmp_path: Path
) -> None:
    client, seeded, old_kid = await reloading_app(aiohttp_client, settings, factory, tmp_path, 300)
    new_kid = keys.generate(tmp_path, "RS256")

    async def published() -> bool:
        body = await (await client.get("/.well-known/jwks.json")).json()
        return new_kid in {k["kid"] for k in body["keys"]}

    await wait_for(published)
    assert kid_of((await password_grant(client, seeded))["access_token"]) == old_kid


async def test_reload_survives_a_dangling_link(
    aiohttp_client: Any,
    settings: Settings,
    factory: Factory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A secret volume leaves a `*.pem` link to nowhere for a moment during an update: the
    reload skips it (one warning naming it, no traceback) and keeps loading what follows."""
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    client, seeded, old_kid = await reloading_app(aiohttp_client, settings, factory, folder, 0)
    old_token = (await password_grant(client, seeded))["access_token"]
    dangling = folder / "signing.pem"
    dangling.symlink_to(tmp_path / "gone" / "key.pem")
    linked_at = time.time()
    await asyncio.sleep(2.5)  # two reloads see it

    new_kid = keys.generate(folder, "ES256")

    async def new_key_signs() -> bool:
        token = (await password_grant(client, seeded))["access_token"]
        return kid_of(token) == new_kid

    await wait_for(new_key_signs)
    keys.retire(folder, old_kid)

    async def old_key_refused() -> bool:
        return (await client.get("/api/users", headers=bearer(old_token))).status == 401

    await wait_for(old_key_refused)
    assert kid_of((await password_grant(client, seeded))["access_token"]) == new_kid

    warnings = [r for r in caplog.records if dangling.name in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].levelno == logging.WARNING and warnings[0].exc_info is None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    await asyncio.sleep(1.2)  # one more reload, nothing changed: still a success
    ready = await (await client.get("/health/ready")).json()
    last = calendar.timegm(time.strptime(ready["keys"]["last_reload"], "%Y-%m-%dT%H:%M:%SZ"))
    assert last >= int(linked_at) + 2 and ready["keys"]["age_seconds"] <= 2
    metrics = await (await client.get("/metrics")).text()
    [gauge] = [
        float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("oauth_keys_last_reload_timestamp_seconds ")
    ]
    assert gauge >= linked_at + 2


SPOILERS = {
    "dangling link": lambda folder: (folder / "b.pem").symlink_to(folder / "nowhere"),
    "not a key": lambda folder: (folder / "b.pem").write_bytes(b"hello"),
    "group-readable key": lambda folder: next(folder.glob("*.pem")).chmod(0o640),
    "world-writable folder": lambda folder: folder.chmod(0o777),
}


@pytest.mark.parametrize("spoiled", SPOILERS)
def test_a_bad_keys_folder_stops_the_start_with_one_line(tmp_path: Path, spoiled: str) -> None:
    """Before any worker starts: one `error:` line naming the entry, exit status 2."""
    folder = tmp_path / "keys"
    folder.mkdir(mode=0o700)
    keys.generate(folder, "EdDSA")
    SPOILERS[spoiled](folder)
    config = tmp_path / "config.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "server": {"port": free_ports(1)[0], "workers": 2},
                "admin": {"port": 0},
                "tokens": {"keys_dir": str(folder)},
                "database": {"url": "postgresql://nobody@127.0.0.1:1/none"},
                "redis": {"url": "redis://127.0.0.1:1/0"},
            }
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "service", "--config", str(config), "serve"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: tokens.keys_dir: {folder}")
    if spoiled == "group-readable key":
        assert "mode 640" in line and "chmod 600" in line
    if spoiled == "world-writable folder":
        assert f"chmod o-w {folder}" in line


async def test_a_periodic_job_outlives_any_error(caplog: pytest.LogCaptureFixture) -> None:
    """Whatever a job raises, the next interval runs it again."""
    errors = [RuntimeError("unexpected"), keys.KeyFileError("expected"), OSError("odd")]
    calls = 0

    async def job() -> None:
        nonlocal calls
        calls += 1
        if errors:
            raise errors.pop(0)

    async def ran_on() -> bool:
        return calls > 4

    task = asyncio.create_task(_every(0, job, "key reload"))
    try:
        await wait_for(ran_on)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING", "ERROR"]
