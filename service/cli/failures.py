"""What a command tells when Postgres, Redis or the listener's port fails it: one line that
says what is wrong and what to do, never an exception's class name."""

from __future__ import annotations

import errno
import socket
from urllib.parse import urlsplit

import asyncpg

from service.config import Settings

MIGRATE = "run `python -m service migrate`"
DURING = "Postgres or Redis stopped answering during the command; run it again once they are back"


def _where(url: str) -> tuple[str, str, str]:
    """Host:port, database and user of a Postgres URL (never its password)."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = parts.port or 5432
    return f"{host}:{port}", parts.path.lstrip("/") or (parts.username or ""), parts.username or ""


def postgres(exc: BaseException, settings: Settings) -> str:
    """Why connecting to database.url failed, and what to do."""
    where, database, user = _where(settings.database.url)
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        return (
            f'database.url: Postgres at {where} has no database "{database}": create it '
            f"(createdb -h {where.rpartition(':')[0]} -U {user or 'postgres'} {database}), "
            f"then {MIGRATE}"
        )
    if isinstance(
        exc, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError
    ):
        return (
            f'database.url: Postgres at {where} refused user "{user}" ({exc.args[0]}); '
            "check the user and password in database.url (SERVICE_DATABASE_URL)"
        )
    if isinstance(exc, TimeoutError):
        return (
            f"database.url: no answer from Postgres at {where} within "
            f"{settings.database.timeout:g} s (database.timeout); is it running and reachable?"
        )
    if isinstance(exc, OSError):
        if isinstance(exc, ConnectionRefusedError) or "Connect call failed" in str(exc):
            reason = "connection refused"
        elif isinstance(exc, socket.gaierror):
            reason = "unknown host"
        else:
            reason = (exc.strerror or str(exc) or "connection failed").lower()
        return (
            f"database.url: cannot reach Postgres at {where} ({reason}); start it, or "
            "point database.url (SERVICE_DATABASE_URL) at a running one"
        )
    if isinstance(exc, asyncpg.PostgresError):
        return f"database.url: Postgres at {where} refused the connection: {exc.args[0]}"
    return f"database.url: cannot connect to Postgres at {where}: {exc}"


def postgres_query(exc: asyncpg.PostgresError) -> str:
    """A query a command sent failed: most often, the database has not been migrated."""
    if isinstance(exc, asyncpg.UndefinedTableError | asyncpg.UndefinedColumnError):
        return f"the database's tables are missing or old ({exc.args[0]}); {MIGRATE}"
    return f"Postgres refused the command: {exc.args[0]}"


def redis(settings: Settings) -> str:
    """Why connecting to redis.url failed, and what to do."""
    r = settings.redis
    if r.mode == "sentinel":
        where = f"the sentinels {', '.join(r.sentinels)} (master {r.sentinel_master!r})"
    elif r.url.startswith("unix://"):
        where = r.url.removeprefix("unix://")
    else:
        parts = urlsplit(r.url)
        where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
    return (
        f"redis.url: cannot reach Redis at {where}; start it, or point redis.url "
        "(SERVICE_REDIS_URL) at a running one"
    )


def unexpected(exc: Exception) -> str:
    detail = str(exc).splitlines()[0] if str(exc) else "no detail"
    return f"the command failed unexpectedly ({detail}); logging.level debug logs where"


def listener(host: str, port: int, key: str) -> str | None:
    """Why the service could not listen on host:port, or None if it can. Bound and closed
    again at once, without SO_REUSEPORT, so that any process already on it counts: the
    workers bind with SO_REUSEPORT, and would otherwise share the port with a second
    instance started by mistake."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"{key}: cannot listen on {host}: {exc.strerror}"
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                where = "serve --port, SERVICE_SERVER_PORT" if key == "server.port" else key
                return (
                    f"{key}: {host}:{port} is in use by another process; stop it, or choose "
                    f"another port ({where})"
                )
            if exc.errno == errno.EACCES:
                return f"{key}: port {port} needs privileges; choose one above 1023"
            if exc.errno == errno.EADDRNOTAVAIL:
                return f"{key}: {host} is not an address of this machine (server.host)"
            return f"{key}: cannot listen on {host}:{port} ({exc.strerror})"
    return None
