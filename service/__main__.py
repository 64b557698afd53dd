"""Command line: python -m service [--config config.yml] COMMAND ..."""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import multiprocessing.connection
import os
import secrets
import signal
import sys
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from service import commands
from service.app import create_app
from service.commands import CommandError, out, run
from service.config import ConfigError, Settings, load, replace
from service.oauth.keys import KeyFileError

log = logging.getLogger("service")


class AccessLogger(AbstractAccessLogger):
    """Method, path and status only: a query string may carry a token or a password."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %.1fms',
            request.remote,
            request.method,
            request.path,
            response.status,
            time * 1000,
        )


def _serve_one(settings: Settings, reuse_port: bool) -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    web.run_app(
        create_app(settings),
        host=settings.server.host,
        port=settings.server.port,
        reuse_port=reuse_port,
        access_log_class=AccessLogger,
        print=None,
    )


def serve(settings: Settings) -> None:
    """One process, or N forked workers each listening with SO_REUSEPORT (the kernel spreads
    connections). If a worker dies the others are stopped too, so a supervisor sees it."""
    workers = settings.server.workers or os.cpu_count() or 1
    if workers == 1:
        _serve_one(settings, reuse_port=False)
        return
    fork = multiprocessing.get_context("fork")
    children = [fork.Process(target=_serve_one, args=(settings, True)) for _ in range(workers)]
    for child in children:
        child.start()

    def stop(signum: int, frame: object) -> None:
        for child in children:
            if child.is_alive():
                os.kill(child.pid or 0, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "serving on %s:%d with %d workers", settings.server.host, settings.server.port, workers
    )
    sentinels = {child.sentinel: child for child in children}
    multiprocessing.connection.wait(list(sentinels))
    stop(signal.SIGTERM, None)
    for child in children:
        child.join()
    failed = [c.exitcode for c in children if c.exitcode not in (0, -signal.SIGTERM)]
    if failed:
        raise SystemExit(1)


def dev(settings: Settings) -> None:
    """`make run`: embedded servers, migrations, a key, a demo client and user, then serve."""
    settings = commands.with_embedded(settings)
    for name in run(commands.migrate(settings)):
        print(f"applied migration {name}")
    if kid := commands.ensure_key(settings):
        print(f"generated signing key {kid} in {settings.tokens.keys_dir}/")
    base = f"http://{settings.server.host}:{settings.server.port}"
    try:
        password = secrets.token_urlsafe(12)
        run(commands.create_user(settings, "admin", "admin@example.com", password, "Demo", "Admin"))
    except CommandError:
        print(
            "demo user 'admin' exists; its password was printed on the first run "
            "(make clean starts over)"
        )
        client_id, secret, password = "<client_id>", "<client_secret>", "<password>"
    else:
        client = run(
            commands.create_client(
                settings,
                "Demo back-office client",
                "backoffice",
                ("password", "refresh_token"),
                public=False,
                owner_username=None,
            )
        )
        client_id, secret = client["client_id"], client["client_secret"]
        print("demo credentials (shown once):")
        print(f"  user      admin / {password}")
        print(f"  client_id {client_id}\n  secret    {secret}")
    print("\nget a token:")
    print(
        f"  curl -s {base}/oauth2-token -H 'Content-Type: application/json' -d "
        f'\'{{"grant_type":"password","client_id":"{client_id}",'
        f'"client_secret":"{secret}","username":"admin","password":"{password}"}}\''
    )
    print("then call the API with it:")
    print(
        f"  curl -s {base}/api/users -H 'Accept: application/vnd.api+json' "
        "-H 'Authorization: Bearer <access_token>'"
    )
    print(f"\nserving on {base} (Ctrl-C stops)", flush=True)
    serve(settings)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    p.add_argument("--config", default="config.yml", help="path of config.yml")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve HTTP")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int, help="processes (default server.workers)")
    sub.add_parser("dev", help="embedded servers + demo data + serve (make run)")
    sub.add_parser("migrate", help="apply the SQL migrations")
    k = sub.add_parser("keys", help="signing keys").add_subparsers(dest="action", required=True)
    g = k.add_parser("generate", help="add a signing key to tokens.keys_dir")
    g.add_argument("--algorithm", choices=["RS256", "ES256", "EdDSA"])
    c = sub.add_parser("clients", help="OAuth clients").add_subparsers(dest="action", required=True)
    cc = c.add_parser("create", help="create a client; prints its secret once")
    cc.add_argument("--name", required=True)
    cc.add_argument("--audience", choices=["backoffice", "storefront"], default="backoffice")
    cc.add_argument("--grants", default="password,refresh_token", help="comma-separated")
    cc.add_argument("--public", action="store_true", help="no secret (not for servers)")
    cc.add_argument("--owner-user", help="back-office username the client acts as")
    cc.add_argument("--owner-customer-user", help="customer user email the client acts as")
    u = sub.add_parser("users", help="back-office users").add_subparsers(
        dest="action", required=True
    )
    uc = u.add_parser("create", help="create a user; the password is read from stdin")
    uc.add_argument("--username", required=True)
    uc.add_argument("--email", required=True)
    uc.add_argument("--first-name", default="")
    uc.add_argument("--last-name", default="")
    uc.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    cu = sub.add_parser("customer-users", help="storefront customer users")
    cuc = cu.add_subparsers(dest="action", required=True).add_parser(
        "create", help="create a customer user; the password is read from stdin"
    )
    cuc.add_argument("--email", required=True, help="the login, matched case-insensitively")
    cuc.add_argument("--first-name", default="")
    cuc.add_argument("--last-name", default="")
    cuc.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    sub.add_parser("cleanup", help="delete customer visitors whose tokens have all expired")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load(args.config)
        return dispatch(args, settings)
    except (ConfigError, CommandError, KeyFileError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def dispatch(args: Any, settings: Settings) -> int:
    if args.command == "serve":
        names = ("host", "port", "workers")
        server: dict[str, Any] = {k: v for k in names if (v := getattr(args, k)) is not None}
        serve(commands.with_embedded(replace(settings, server=server)))
        return 0
    if args.command == "dev":
        dev(settings)
        return 0
    if args.command == "keys":
        kid = commands.generate_key(settings, args.algorithm)
        out(args.json, {"kid": kid}, f"generated key {kid}")
        return 0
    settings = commands.with_embedded(settings)
    if args.command == "migrate":
        applied = run(commands.migrate(settings))
        out(args.json, {"applied": applied}, "\n".join(applied) or "up to date")
    elif args.command == "users":
        password = commands.read_password(args.password_stdin)
        user = run(
            commands.create_user(
                settings, args.username, args.email, password, args.first_name, args.last_name
            )
        )
        out(args.json, user, f"created user {user['id']} {user['username']}")
    elif args.command == "customer-users":
        password = commands.read_password(args.password_stdin)
        customer = run(
            commands.create_customer_user(
                settings, args.email, password, args.first_name, args.last_name
            )
        )
        out(args.json, customer, f"created customer user {customer['id']} {customer['email']}")
    elif args.command == "cleanup":
        result = run(commands.cleanup(settings))
        out(args.json, result, f"deleted {result['deleted_visitors']} expired visitors")
    elif args.command == "clients":
        grants = tuple(g.strip() for g in args.grants.split(",") if g.strip())
        client = run(
            commands.create_client(
                settings,
                args.name,
                args.audience,
                grants,
                args.public,
                args.owner_user,
                args.owner_customer_user,
            )
        )
        out(args.json, client, "\n".join(f"{k}: {v}" for k, v in client.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
