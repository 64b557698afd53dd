"""Real servers on loopback for the topology, scaling and OpenAPI tests: free ports, a Redis
Cluster, Redis Sentinel, the service itself in a process of its own or its apps in a thread
of their own, and waiting for things to answer."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import pytest
import yaml
from aiohttp import web

ROOT = Path(__file__).parent.parent


def free_ports(count: int) -> list[int]:
    """Ports nothing listens on right now (held open together, so they differ)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


def wait_until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            if check():
                return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout} s")


def wait_until_ready(
    process: subprocess.Popen[bytes], ready: Callable[[], bool], log: Path, what: str
) -> None:
    """Until `ready()`; `process`'s log in the error if it exits meanwhile."""

    def check() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{what} exited: {log.read_text()}")
        return ready()

    wait_until(check, what)


def accepting(port: int) -> Callable[[], bool]:
    def check() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    return check


def answering(port: int) -> Callable[[], bool]:
    """A worker answers (gunicorn's socket accepts connections before any worker is up),
    whatever its status: /health/ready, which tests counting /health/live requests ignore."""

    def check() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/ready", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True

    return check


def redis_binaries() -> tuple[str, str]:
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        pytest.skip("redis-server and redis-cli are not on PATH (apt-get install redis-server)")
    return server, cli


def _cli(cli: str, port: int, *args: str) -> str:
    return subprocess.run(
        [cli, "-h", "127.0.0.1", "-p", str(port), *args],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout


@contextlib.contextmanager
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Started processes, terminated (then killed) on the way out, whatever happened."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in started:
            proc.terminate()
        for proc in started:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _redis_server(server: str, folder: Path, port: int, *extra: str) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    return [
        server,
        *extra,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(folder),
        "--save", "",
        "--appendonly", "no",
        "--logfile", str(folder / "log"),
    ]  # fmt: skip


@contextlib.contextmanager
def redis_cluster(folder: Path, masters: int = 3) -> Iterator[list[int]]:
    """A Redis Cluster of `masters` primaries (no replicas) on loopback; yields their ports."""
    server, cli = redis_binaries()
    ports = free_ports(2 * masters)
    data, buses = ports[:masters], ports[masters:]
    with processes() as started:
        for port, bus in zip(data, buses, strict=True):
            node = folder / str(port)
            args = _redis_server(server, node, port)
            args += ["--cluster-enabled", "yes", "--cluster-port", str(bus)]
            args += ["--cluster-config-file", str(node / "nodes.conf")]
            args += ["--cluster-node-timeout", "2000"]
            started.append(subprocess.Popen(args))
        for port in data:
            wait_until(lambda p=port: "PONG" in _cli(cli, p, "ping"), f"redis node {port}")
        nodes = [f"127.0.0.1:{p}" for p in data]
        _cli(cli, data[0], "--cluster", "create", *nodes, "--cluster-yes")
        for port in data:
            wait_until(
                lambda p=port: "cluster_state:ok" in _cli(cli, p, "cluster", "info"),
                f"cluster state on {port}",
            )
        yield data


@contextlib.contextmanager
def redis_sentinel(folder: Path, master_name: str) -> Iterator[tuple[int, int]]:
    """A Redis master and one Sentinel watching it; yields (master port, sentinel port)."""
    server, cli = redis_binaries()
    master, sentinel = free_ports(2)
    with processes() as started:
        started.append(subprocess.Popen(_redis_server(server, folder / "master", master)))
        wait_until(lambda: "PONG" in _cli(cli, master, "ping"), "redis master")
        conf = folder / "sentinel.conf"
        conf.write_text(
            f"port {sentinel}\nbind 127.0.0.1\ndir {folder}\n"
            f"sentinel monitor {master_name} 127.0.0.1 {master} 1\n"
        )
        started.append(
            subprocess.Popen([server, str(conf), "--sentinel", "--logfile", str(folder / "s.log")])
        )
        wait_until(
            lambda: (
                str(master)
                in _cli(cli, sentinel, "sentinel", "get-master-addr-by-name", master_name)
            ),
            "redis sentinel",
        )
        yield master, sentinel


def service_config(
    database_url: str, redis_url: str, keys_dir: Path, key_prefix: str, **sections: Any
) -> dict[str, Any]:
    """A config.yml for `service_process` on the suite's stores, 2 workers, no cleanup task."""
    return {
        "server": {"workers": 2},
        "admin": {"port": 0},
        "database": {"url": database_url},
        "redis": {"url": redis_url, "key_prefix": key_prefix},
        "tokens": {"keys_dir": str(keys_dir)},
        "maintenance": {"cleanup_interval": 0},
        **sections,
    }


@dataclass
class Running:
    """A `python -m service serve` this test started: its port, output file and process."""

    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def service_process(
    config: dict[str, Any], folder: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[int, Path]]:
    """`python -m service serve` with `config` (server.port filled in unless set: a caller
    may need the URL first, for the issuer) until the block ends; yields its port and the
    file its output goes to."""
    with service_server(config, folder, env) as running:
        yield running.port, running.log


@contextlib.contextmanager
def service_server(
    config: dict[str, Any], folder: Path, env: dict[str, str] | None = None
) -> Iterator[Running]:
    """As service_process, yielding the process too (to signal it)."""
    port = config.get("server", {}).get("port") or free_ports(1)[0]
    config = {**config, "server": {**config.get("server", {}), "port": port}}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yml").write_text(yaml.safe_dump(config))
    log = folder / "server.log"
    command = [sys.executable, "-m", "service", "--config", str(folder / "config.yml"), "serve"]
    with processes() as started, log.open("wb") as output:
        started.append(
            subprocess.Popen(
                command,
                cwd=ROOT,
                stdout=output,
                stderr=output,
                env={**os.environ, **(env or {})},
            )
        )

        wait_until_ready(started[0], answering(port), log, "the service")
        yield Running(port, log, started[0])


@contextlib.contextmanager
def apps_in_thread(
    *apps: web.Application, then: Callable[[], Awaitable[Any]] | None = None
) -> Iterator[tuple[list[str], Any]]:
    """The apps on real loopback ports, served by an event loop in a thread of its own, so
    sync clients (schemathesis, httpx) can call them; started in order (the admin app after
    the one whose stores it shares), then `then` run on that loop (seeding), stopped in
    reverse. Yields the apps' base URLs and what `then` returned."""
    loop = asyncio.new_event_loop()
    runners = [web.AppRunner(app) for app in apps]

    async def start() -> tuple[list[str], Any]:
        bases = []
        for runner in runners:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            bases.append(f"http://127.0.0.1:{runner.addresses[0][1]}")
        return bases, None if then is None else await then()

    async def stop() -> None:
        for runner in reversed(runners):
            await runner.cleanup()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(30)
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def children(pid: int) -> set[int]:
    """The processes whose parent is `pid` (a server's workers), from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == pid:
                found.add(int(stat.parent.name))
    return found


PGBOUNCER = shutil.which("pgbouncer") or next(
    (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None
)


@contextlib.contextmanager
def pgbouncer(server_url: str, pool_size: int = 2) -> Iterator[Callable[[str], str]]:
    """PgBouncer in transaction pooling on a free loopback port, in front of the Postgres
    server of `server_url` (any database: `*`), logging in as its user. `pool_size` server
    connections per database: fewer than the clients, so their transactions share them.
    Yields a function turning a URL of that server into the same URL through PgBouncer."""
    if PGBOUNCER is None:
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer)")
    parts = urlsplit(server_url)
    query = dict(parse_qsl(parts.query))
    host = query.get("host") or parts.hostname or "127.0.0.1"
    port = parts.port or int(query.get("port", 5432))
    user = unquote(parts.username or "postgres")
    password = unquote(parts.password or "")
    (listen,) = free_ports(1)
    # PgBouncer refuses to run as root: as root it drops to `nobody`, who must read these.
    folder = Path(tempfile.mkdtemp(prefix="oauth-pgbouncer-"))
    folder.chmod(0o755)
    users = folder / "users.txt"
    users.write_text(f'"{user}" "{password}"\n')
    ini = folder / "pgbouncer.ini"
    ini.write_text(
        "[databases]\n"
        f"* = host={host} port={port}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {users}\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
    )
    command = [PGBOUNCER, str(ini)]
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        for path in (users, ini):
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
            path.chmod(0o600)
        command[1:1] = ["-u", "nobody"]
    try:
        with processes() as started, (folder / "log").open("wb") as log:
            started.append(subprocess.Popen(command, stdout=log, stderr=log))

            wait_until_ready(started[0], accepting(listen), folder / "log", "pgbouncer")

            def through(url: str) -> str:
                login, at, _ = parts.netloc.rpartition("@")
                netloc = f"{login}{at}127.0.0.1:{listen}"
                return urlunsplit(("postgresql", netloc, urlsplit(url).path, "", ""))

            yield through
    finally:
        shutil.rmtree(folder, ignore_errors=True)
