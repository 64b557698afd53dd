"""What an operator sees when a start or a command fails: one `error:` line that says what
to do, exit status 2, never a traceback or an exception's class name. And what `serve`
derives or warns about its issuer. Each in a subprocess, on the suite's real servers."""

from __future__ import annotations

import json
import re
import secrets
import socket
import subprocess
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import yaml

from tests.servers import free_ports, service_config, service_process
from tests.test_cli import raw

CLASS_NAME = re.compile(r"\b[A-Z]\w*(Error|Exception)\b")


def run(tmp_path: Path, config: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config))
    return raw(path, *args)


def refused(result: subprocess.CompletedProcess[str]) -> str:
    """The one `error:` line of a failed command (log lines may come before it)."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert errors[0] == result.stderr.splitlines()[-1]
    assert not CLASS_NAME.search(errors[0]), errors[0]
    return errors[0]


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture
async def empty_database(postgres_server_url: str) -> AsyncIterator[str]:
    """A database that exists but was never migrated."""
    name = f"oauth_empty_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres_server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(postgres_server_url, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another process (here: this one) listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_postgres_not_running(tmp_path: Path) -> None:
    config = {"database": {"url": "postgresql://oauth:secret-pw@127.0.0.1:1/oauth"}}
    line = refused(run(tmp_path, config, "migrate"))
    assert line.startswith("error: database.url: cannot reach Postgres at 127.0.0.1:1")
    assert "connection refused" in line and "start it" in line
    assert "secret-pw" not in line


def test_the_database_does_not_exist(tmp_path: Path, postgres_server_url: str) -> None:
    url = with_database(postgres_server_url, f"oauth_missing_{secrets.token_hex(4)}")
    for command in (["migrate"], ["cleanup"], ["clients", "create", "--name", "shop"]):
        line = refused(run(tmp_path, {"database": {"url": url}}, *command))
        assert "has no database" in line
        assert "createdb" in line and "migrate" in line


def test_a_wrong_database_user(tmp_path: Path, postgres_server_url: str) -> None:
    parts = urlsplit(postgres_server_url)
    netloc = f"no_such_role:pw@{parts.hostname}:{parts.port or 5432}"
    url = urlunsplit(parts._replace(netloc=netloc))
    line = refused(run(tmp_path, {"database": {"url": url}}, "cleanup"))
    assert 'refused user "no_such_role"' in line
    assert "check the user and password" in line


def test_a_database_without_tables_asks_for_migrate(tmp_path: Path, empty_database: str) -> None:
    line = refused(run(tmp_path, {"database": {"url": empty_database}}, "cleanup"))
    assert "tables are missing" in line
    assert "python -m service migrate" in line


def test_redis_not_running(tmp_path: Path, database_url: str) -> None:
    config = {"database": {"url": database_url}, "redis": {"url": "redis://127.0.0.1:1/0"}}
    line = refused(run(tmp_path, config, "tokens", "revoke", "--user", "nobody"))
    assert line.startswith("error: redis.url: cannot reach Redis at 127.0.0.1:1")


def test_serve_on_a_port_in_use(tmp_path: Path, held_port: int, keys_dir: Path) -> None:
    config = {"tokens": {"keys_dir": str(keys_dir)}}
    line = refused(run(tmp_path, config, "serve", "--port", str(held_port)))
    assert line == (
        f"error: server.port: 127.0.0.1:{held_port} is in use by another process; stop it, "
        "or choose another port (serve --port, SERVICE_SERVER_PORT)"
    )


def test_serve_with_the_admin_port_in_use(tmp_path: Path, held_port: int, keys_dir: Path) -> None:
    [free] = free_ports(1)
    config = {"tokens": {"keys_dir": str(keys_dir)}, "admin": {"port": held_port}}
    line = refused(run(tmp_path, config, "serve", "--port", str(free)))
    assert line == (
        f"error: admin.port: 127.0.0.1:{held_port} is in use by another process; stop it, "
        "or choose another port (admin.port)"
    )


def test_serve_options_are_checked_like_the_config(tmp_path: Path) -> None:
    line = refused(run(tmp_path, {}, "serve", "--port", "70000"))
    assert line == "error: server.port: expected int <= 65535, got 70000"


def _metadata(port: int) -> Any:
    url = f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.load(answer)


def test_the_issuer_follows_the_listener_and_a_stray_one_is_warned_about(
    tmp_path: Path, database_url: str, redis_url: str, keys_dir: Path
) -> None:
    prefix = f"t{secrets.token_hex(4)}:"
    config = service_config(database_url, redis_url, keys_dir, prefix)
    # A misspelt variable (server.port is SERVICE_SERVER_PORT) is named, its value is not.
    misspelt = {"SERVICE_SERVER_PROT": "9999", "SERVICE_SERVER_PORT": ""}
    with service_process(config, tmp_path / "derived", misspelt) as (port, log):
        metadata = _metadata(port)
        assert metadata["issuer"] == f"http://localhost:{port}"
        assert metadata["token_endpoint"] == f"http://localhost:{port}/oauth2-token"
        text = log.read_text()
        assert "tokens.issuer" not in text
        [unknown] = [
            json.loads(line) for line in text.splitlines() if "SERVICE_SERVER_PROT" in line
        ]
        assert unknown["level"] == "warning" and "9999" not in unknown["message"]
        assert "ignored: SERVICE_SERVER_PROT (" in unknown["message"]
    stray = {**config, "tokens": {**config["tokens"], "issuer": "http://localhost:8080"}}
    with service_process(stray, tmp_path / "stray") as (port, log):
        assert _metadata(port)["issuer"] == "http://localhost:8080"
        warnings = [
            json.loads(line)
            for line in log.read_text().splitlines()
            if line.startswith("{") and "tokens.issuer" in line
        ]
        assert len(warnings) == 1
        assert warnings[0]["level"] == "warning"
        assert f"is not server.port {port}" in warnings[0]["message"]
