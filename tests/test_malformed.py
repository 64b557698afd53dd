"""Malformed requests against a real server process (2 workers), sent as raw bytes: what
aiohttp's parser refuses gets league's 400 without a version header, echoes nothing and
logs one warning line without the value; non-ASCII Basic credentials are a 401."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import service_config, service_process

SECRET = "TOPSECRET-0123456789"


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str, keys_dir: Path
) -> Iterator[tuple[int, Path]]:
    config = service_config(database_url, redis_url, keys_dir, "test:malformed:")
    with service_process(config, tmp_path_factory.mktemp("malformed")) as running:
        yield running


def exchange(port: int, data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes: status, headers (lower case), body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(data)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return int(status_line.split()[1]), headers, body


def new_log_lines(log: Path, since: int) -> list[dict[str, Any]]:
    time.sleep(0.3)  # the worker writes its lines after answering
    return [json.loads(line) for line in log.read_bytes()[since:].decode().splitlines()]


BASIC = base64.b64encode(f"some-client:{SECRET}".encode()).decode()
MALFORMED = {
    "header line too long": f"GET / HTTP/1.1\r\nHost: x\r\nX-Note: {SECRET}{'a' * 9000}\r\n\r\n",
    "control character in Basic": (
        "POST /oauth2-token HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Basic {BASIC}\x01{SECRET}\r\nContent-Length: 0\r\n\r\n"
    ),
    "bad request line": f"GET /{SECRET} y z HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("case", MALFORMED)
def test_requests_aiohttp_refuses_get_a_quiet_400(server: tuple[int, Path], case: str) -> None:
    port, log = server
    since = log.stat().st_size
    status, headers, body = exchange(port, MALFORMED[case].encode())

    assert status == 400
    assert "server" not in headers
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"] == "invalid_request"
    assert SECRET.encode() not in body and BASIC.encode() not in body

    lines = new_log_lines(log, since)
    text = json.dumps(lines)
    assert SECRET not in text and BASIC not in text
    assert "exception" not in text and "Traceback" not in text
    assert [line["level"] for line in lines if line["level"] != "info"] == ["warning"]


BAD_BASIC = {
    "UTF-8 letters": "Basic \u00e9\u00e9t\u00e9".encode(),
    "bytes that are not UTF-8": b"Basic \xff\xfe\xfd",
    "base64 of bytes that are not UTF-8": b"Basic " + base64.b64encode(b"\xff:\xfe"),
}


@pytest.mark.parametrize("header", BAD_BASIC)
@pytest.mark.parametrize(
    "path", ["/oauth2-token", "/oauth2-token/introspect", "/oauth2-token/revoke"]
)
def test_non_ascii_basic_credentials_are_invalid_client(
    server: tuple[int, Path], path: str, header: str
) -> None:
    port, log = server
    since = log.stat().st_size
    body = b'{"grant_type":"client_credentials","token":"x"}'
    request = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n".encode()
        + b"Authorization: "
        + BAD_BASIC[header]
        + f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    status, headers, answer = exchange(port, request)
    assert status == 401, answer
    assert json.loads(answer)["error"] == "invalid_client"
    assert headers["www-authenticate"] == 'Basic realm="OAuth"'
    assert not [line for line in new_log_lines(log, since) if line["level"] == "error"]
