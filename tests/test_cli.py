"""python -m service: migrate, keys generate, users create, clients create, config errors."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import yaml

ROOT = Path(__file__).parent.parent


@pytest.fixture
def config(tmp_path: Path, database_url: str, redis_url: str) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "database": {"url": database_url},
                "redis": {"url": redis_url},
                "tokens": {"keys_dir": str(tmp_path / "keys")},
                "server": {"var_dir": str(tmp_path / "var")},
            }
        )
    )
    return path


def cli(
    config: Path, *args: str, stdin: str = "", as_json: bool = True
) -> subprocess.CompletedProcess[str]:
    flags = ["--json"] if as_json else []
    return subprocess.run(
        [sys.executable, "-m", "service", "--config", str(config), *flags, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def text(result: subprocess.CompletedProcess[str]) -> str:
    """A command's line for people (`cli(..., as_json=False)`)."""
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


async def test_migrate_is_idempotent_and_recorded(config: Path, database_url: str) -> None:
    assert ok(cli(config, "migrate")) == {"applied": []}  # the suite's database is migrated
    conn = await asyncpg.connect(database_url)
    versions = await conn.fetch("SELECT version, name FROM schema_migrations")
    await conn.close()
    files = sorted((ROOT / "service" / "store" / "migrations").glob("*.sql"))
    expected = [(int(f.name.split("_")[0]), f.name) for f in files]
    assert sorted((r["version"], r["name"]) for r in versions) == expected


def test_keys_generate(config: Path, tmp_path: Path) -> None:
    generated = ok(cli(config, "keys", "generate"))
    kid = generated["kid"]
    [pem] = (tmp_path / "keys").glob("*.pem")
    assert pem.stat().st_mode & 0o777 == 0o600
    assert len(kid) == 43
    # Named as config.yml says: <UTC time>Z-<kid>.pem.
    assert re.fullmatch(r"\d{8}T\d{6}\.\d{9}Z-" + re.escape(kid) + r"\.pem", pem.name)
    # The first key signs at once, whatever tokens.key_activation_delay says.
    assert generated["signs_in"] == 0
    assert generated["activation_delay"] == 300


def test_keys_generate_says_when_the_key_signs(config: Path) -> None:
    first = text(cli(config, "keys", "generate", as_json=False))
    assert first.endswith(": it signs now")
    second = text(cli(config, "keys", "rotate", as_json=False))
    assert "signs in 300 s" in second or "signs in 299 s" in second, second
    assert "until then the current key signs" in second
    rotated = ok(cli(config, "keys", "rotate"))
    assert 298 <= rotated["signs_in"] <= 300
    assert abs(rotated["signs_at"] - (time.time() + 300)) < 5


async def test_users_create_reads_the_password_from_stdin(config: Path, pool: asyncpg.Pool) -> None:
    user = ok(
        cli(
            config,
            "users",
            "create",
            "--username",
            "jane",
            "--email",
            "jane@example.com",
            "--password-stdin",
            stdin="correct horse battery\n",
        )
    )
    assert user["username"] == "jane"
    stored = await pool.fetchval("SELECT password_hash FROM users WHERE id = $1", user["id"])
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "correct horse" not in stored

    again = cli(
        config,
        "users",
        "create",
        "--username",
        "jane",
        "--email",
        "j2@example.com",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert again.returncode == 2
    assert "already taken" in again.stderr
    assert "Traceback" not in again.stderr


async def test_users_create_refuses_a_visitor_name(config: Path, pool: asyncpg.Pool) -> None:
    result = cli(
        config,
        "users",
        "create",
        "--username",
        "visitor:0123456789abcdef0123",
        "--email",
        "v@example.com",
        "--password-stdin",
        stdin="correct horse battery\n",
    )
    assert result.returncode == 2
    assert "--username: names starting with 'visitor:' are reserved" in result.stderr
    assert "Traceback" not in result.stderr
    assert await pool.fetchval("SELECT count(*) FROM users") == 0


def test_users_create_refuses_a_short_password(config: Path, pool: asyncpg.Pool) -> None:
    result = cli(
        config,
        "users",
        "create",
        "--username",
        "x",
        "--email",
        "x@example.com",
        "--password-stdin",
        stdin="short\n",
    )
    assert result.returncode == 2
    assert "8 characters" in result.stderr


async def test_clients_create_prints_the_secret_once_and_stores_a_digest(
    config: Path, pool: asyncpg.Pool
) -> None:
    client = ok(cli(config, "clients", "create", "--name", "shop"))
    assert client["audience"] == "backoffice"
    assert client["grants"] == ["password", "refresh_token"]
    assert len(client["client_secret"]) >= 43  # 256 bits, base64url
    row = await pool.fetchrow(
        "SELECT secret_digest, confidential FROM oauth_clients WHERE client_id = $1",
        client["client_id"],
    )
    assert row["confidential"]
    assert bytes(row["secret_digest"]) == hashlib.sha256(client["client_secret"].encode()).digest()

    public = ok(cli(config, "clients", "create", "--name", "spa", "--public"))
    assert public["client_secret"] is None

    bad = cli(config, "clients", "create", "--name", "x", "--grants", "password,implicit")
    assert bad.returncode == 2
    assert "implicit" in bad.stderr


async def test_a_password_client_may_refresh_unless_created_not_to(
    config: Path, pool: asyncpg.Pool
) -> None:
    # Oro's client form lists `password` alone; its isGrantSupported lets it refresh.
    oro_like = ok(cli(config, "clients", "create", "--name", "a", "--grants", "password"))
    assert oro_like["grants"] == ["password", "refresh_token"]
    assert oro_like["scopes"] is None
    no_refresh = ok(
        cli(config, "clients", "create", "--name", "b", "--grants", "password", "--no-refresh")
    )
    assert no_refresh["grants"] == ["password"]

    limited = ok(cli(config, "clients", "create", "--name", "c", "--scopes", "read write"))
    assert limited["scopes"] == ["read", "write"]
    stored = await pool.fetchval(
        "SELECT scopes FROM oauth_clients WHERE client_id = $1", limited["client_id"]
    )
    assert stored == ["read", "write"]
    bad = cli(config, "clients", "create", "--name", "d", "--scopes", 'a"b')
    assert bad.returncode == 2
    assert "--scopes" in bad.stderr


def test_a_bad_config_stops_with_the_key_named(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text("tokens:\n  access_token_lifetime: -5\n")
    result = cli(path, "migrate")
    assert result.returncode == 2
    assert "tokens.access_token_lifetime" in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text("database:\n  url: postgresql://nobody@127.0.0.1:1/x\n  timeout: 2\n")
    result = cli(path, "migrate")
    assert result.returncode == 2
    assert "database.url" in result.stderr


async def test_customer_users_and_storefront_clients(config: Path, pool: asyncpg.Pool) -> None:
    customer = ok(
        cli(
            config,
            "customer-users",
            "create",
            "--email",
            "Buyer@Shop.example",
            "--password-stdin",
            stdin="buyer-password\n",
        )
    )
    assert customer["email"] == "Buyer@Shop.example"
    clash = cli(
        config,
        "customer-users",
        "create",
        "--email",
        "buyer@shop.EXAMPLE",
        "--password-stdin",
        stdin="buyer-password\n",
    )
    assert clash.returncode == 2

    shop = ok(cli(config, "clients", "create", "--name", "shop", "--audience", "storefront"))
    assert shop["audience"] == "storefront"
    audience = await pool.fetchval(
        "SELECT audience FROM oauth_clients WHERE client_id = $1", shop["client_id"]
    )
    assert audience == "storefront"


async def test_account_commands_revoke_and_report(config: Path, pool: asyncpg.Pool) -> None:
    ok(
        cli(
            config,
            "users",
            "create",
            "--username",
            "ops",
            "--email",
            "ops@example.com",
            "--password-stdin",
            stdin="operator-pass\n",
        )
    )
    client = ok(cli(config, "clients", "create", "--name", "c"))
    assert ok(cli(config, "tokens", "revoke", "--user", "ops")) == {"revoked_logins": 0}
    assert (
        ok(cli(config, "tokens", "revoke", "--client", client["client_id"]))["revoked_before"] > 0
    )
    assert cli(config, "tokens", "revoke", "--user", "nobody").returncode == 2

    assert ok(cli(config, "users", "disable", "--username", "ops"))["enabled"] is False
    assert not await pool.fetchval("SELECT enabled FROM users WHERE username = 'ops'")
    ok(cli(config, "users", "enable", "--username", "ops"))
    ok(
        cli(
            config,
            "users",
            "set-password",
            "--username",
            "ops",
            "--password-stdin",
            stdin="another-pass\n",
        )
    )
    ok(cli(config, "clients", "deactivate", "--client-id", client["client_id"]))
    active = await pool.fetchval(
        "SELECT active FROM oauth_clients WHERE client_id = $1", client["client_id"]
    )
    assert active is False

    refused = cli(config, "clients", "create", "--name", "m", "--grants", "client_credentials")
    assert refused.returncode == 2
    assert "owner" in refused.stderr
    machine = ok(
        cli(
            config,
            "clients",
            "create",
            "--name",
            "m",
            "--grants",
            "client_credentials",
            "--owner-user",
            "ops",
        )
    )
    assert machine["grants"] == ["client_credentials"]


def test_key_rotation_commands(config: Path, tmp_path: Path) -> None:
    first = ok(cli(config, "keys", "generate"))["kid"]
    second = ok(cli(config, "keys", "rotate", "--algorithm", "ES256"))["kid"]
    listed = ok(cli(config, "keys", "list"))["keys"]
    assert [k["kid"] for k in listed] == [first, second]
    # The new key waits for key_activation_delay before it signs.
    assert [k["signing"] for k in listed] == [True, False]
    # The first key is the only one that may sign yet: retiring it needs --force.
    refused = cli(config, "keys", "retire", first)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"error: key {first} is the only key that may sign")
    assert "--force" in refused.stderr
    assert [k["kid"] for k in ok(cli(config, "keys", "list"))["keys"]] == [first, second]
    ok(cli(config, "keys", "retire", "--force", first))
    assert [k["kid"] for k in ok(cli(config, "keys", "list"))["keys"]] == [second]
    # The only key left: it signs, and nothing else could.
    alone = cli(config, "keys", "retire", second)
    assert alone.returncode == 2
    assert "cannot start or reload" in alone.stderr
    assert cli(config, "keys", "retire", "no-such-kid").returncode == 2


def test_a_key_may_be_retired_once_another_signs(config: Path, tmp_path: Path) -> None:
    path = tmp_path / "no-delay.yml"
    raw = yaml.safe_load(config.read_text())
    path.write_text(yaml.safe_dump({**raw, "tokens": {**raw["tokens"], "key_activation_delay": 0}}))
    first = ok(cli(path, "keys", "generate"))["kid"]
    second = ok(cli(path, "keys", "rotate"))
    assert second["signs_in"] == 0  # no delay: the newest signs at once
    ok(cli(path, "keys", "retire", first))  # it no longer signs: no --force needed


def test_unlock_commands(config: Path) -> None:
    assert ok(cli(config, "users", "unlock", "--username", "ops")) == {
        "account": "ops",
        "unlocked": False,
    }
    assert ok(cli(config, "customer-users", "unlock", "--email", "a@shop.example"))["account"]


def raw(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """python -m service with `args` as given (no --json added)."""
    return subprocess.run(
        [sys.executable, "-m", "service", "--config", str(config), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_json_may_follow_the_command(config: Path) -> None:
    kid = ok(raw(config, "keys", "generate", "--json"))["kid"]
    assert ok(raw(config, "keys", "list", "--json")) == {
        "keys": [{"kid": kid, "alg": "RS256", "signing": True}]
    }
    # Without it, lines for people.
    listed = raw(config, "keys", "list")
    assert listed.stdout == f"{kid} RS256 (signs)\n"
    assert raw(config, "clients", "activate", "--client-id", "nope").stderr.endswith(
        "error: --client-id: no client 'nope'\n"
    )


def test_cleanup_prints_a_line_per_result(config: Path) -> None:
    result = raw(config, "cleanup")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("deleted_visitors: ")


def test_help_lists_the_choices_and_needs_no_config(tmp_path: Path) -> None:
    result = raw(tmp_path / "missing.yml", "clients", "create", "--help")
    assert result.returncode == 0, result.stderr
    assert "[backoffice|storefront]" in result.stdout
    assert "--owner-customer-user" in result.stdout


def test_tokens_revoke_wants_exactly_one_owner(config: Path) -> None:
    result = raw(config, "tokens", "revoke", "--user", "a", "--client", "b")
    assert result.returncode == 2
    assert "give exactly one of --user, --customer-user, --client" in result.stderr


async def test_clients_create_for_the_authorization_code(config: Path, pool: asyncpg.Pool) -> None:
    args = ("clients", "create", "--name", "spa", "--audience", "storefront", "--public")
    spa = ok(
        cli(
            config,
            *args,
            "--grants",
            "authorization_code,refresh_token",
            "--redirect-uri",
            "https://shop.example/cb",
            "--redirect-uri",
            "com.example.app:/cb",
            "--skip-consent",
            "--allow-plain-pkce",
        )
    )
    assert spa["client_secret"] is None and spa["client_id"]
    assert spa["grants"] == ["authorization_code", "refresh_token"]
    row = await pool.fetchrow(
        "SELECT redirect_uris, skip_consent, allow_plain_pkce FROM oauth_clients "
        "WHERE client_id = $1",
        spa["client_id"],
    )
    assert row["redirect_uris"] == ["https://shop.example/cb", "com.example.app:/cb"]
    assert row["skip_consent"] and row["allow_plain_pkce"]
    confidential = ok(
        cli(
            config,
            "clients",
            "create",
            "--name",
            "web",
            "--grants",
            "authorization_code",
            "--redirect-uri",
            "https://admin.example/cb",
        )
    )
    assert confidential["client_secret"]
    no_uri = cli(config, "clients", "create", "--name", "x", "--grants", "authorization_code")
    assert no_uri.returncode == 2 and "--redirect-uri" in no_uri.stderr
    fragment = cli(
        config,
        "clients",
        "create",
        "--name",
        "x",
        "--grants",
        "authorization_code",
        "--redirect-uri",
        "https://a.example/cb#frag",
    )
    assert fragment.returncode == 2 and "--redirect-uri" in fragment.stderr


def test_a_kid_that_looks_like_an_option_is_still_a_kid(config: Path) -> None:
    """base64url kids start with "-" one time in 64: `keys retire -Xyz…` names a key."""
    ok(cli(config, "keys", "generate"))
    refused = cli(config, "keys", "retire", "-9ZmadeUp")
    assert refused.returncode == 2
    assert refused.stderr == "error: kid: no key '-9ZmadeUp'\n"
