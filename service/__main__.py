"""Command line: python -m service [--config config.yml] [--json] COMMAND ..."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service import admin, commands, logs
from service.commands import CommandError, out, run
from service.config import ConfigError, Settings, load, replace
from service.oauth import keys
from service.oauth.keys import KeyFileError
from service.server import dev, serve


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
    sub.add_parser("cleanup", help="delete customer visitors whose tokens have all expired")

    k = sub.add_parser("keys", help="signing keys").add_subparsers(dest="action", required=True)
    for name, text in (("generate", "add a signing key"), ("rotate", "add the next signing key")):
        k.add_parser(name, help=text).add_argument(
            "--algorithm", choices=["RS256", "ES256", "EdDSA"]
        )
    k.add_parser("retire", help="delete a key; its tokens are refused").add_argument("kid")
    k.add_parser("list", help="the keys and which one signs")

    c = sub.add_parser("clients", help="OAuth clients").add_subparsers(dest="action", required=True)
    cc = c.add_parser("create", help="create a client; prints its secret once")
    cc.add_argument("--name", required=True)
    cc.add_argument("--audience", choices=["backoffice", "storefront"], default="backoffice")
    cc.add_argument("--grants", default="password,refresh_token", help="comma-separated")
    cc.add_argument("--public", action="store_true", help="no secret (not for servers)")
    cc.add_argument("--owner-user", help="back-office username the client acts as")
    cc.add_argument("--owner-customer-user", help="customer user email the client acts as")
    cc.add_argument("--can-introspect", action="store_true", help="may introspect any token")
    for name, text in (
        ("deactivate", "refuse the client and revoke its tokens"),
        ("activate", "accept the client again"),
    ):
        c.add_parser(name, help=text).add_argument("--client-id", required=True)

    u = sub.add_parser("users", help="back-office users").add_subparsers(
        dest="action", required=True
    )
    uc = u.add_parser("create", help="create a user; the password is read from stdin")
    uc.add_argument("--username", required=True)
    uc.add_argument("--email", required=True)
    uc.add_argument("--first-name", default="")
    uc.add_argument("--last-name", default="")
    uc.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    up = u.add_parser("set-password", help="change a password (stdin) and revoke the tokens")
    up.add_argument("--username", required=True)
    up.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    for name, text in (
        ("disable", "refuse the user and revoke its tokens"),
        ("enable", "accept the user again"),
        ("unlock", "lift a lockout after failed logins"),
    ):
        u.add_parser(name, help=text).add_argument("--username", required=True)

    cu = sub.add_parser("customer-users", help="storefront customer users")
    cus = cu.add_subparsers(dest="action", required=True)
    cus.add_parser("unlock", help="lift a lockout after failed logins").add_argument(
        "--email", required=True
    )
    cuc = cus.add_parser("create", help="create a customer user; the password is read from stdin")
    cuc.add_argument("--email", required=True, help="the login, matched case-insensitively")
    cuc.add_argument("--first-name", default="")
    cuc.add_argument("--last-name", default="")
    cuc.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    t = sub.add_parser("tokens", help="issued tokens").add_subparsers(dest="action", required=True)
    tr = t.add_parser("revoke", help="revoke every token of a user, customer user or client")
    who = tr.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="back-office username or email")
    who.add_argument("--customer-user", help="customer user email")
    who.add_argument("--client", help="client_id")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.setup()
    try:
        settings = load(args.config)
        return dispatch(args, settings)
    except (ConfigError, CommandError, KeyFileError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _keys(args: Any, settings: Settings) -> None:
    folder = settings.tokens.keys_dir
    if args.action in ("generate", "rotate"):
        kid = commands.generate_key(settings, args.algorithm)
        delay = settings.tokens.key_activation_delay
        note = f"; it signs in {delay} s, once every instance has loaded it" if delay else ""
        out(args.json, {"kid": kid, "activation_delay": delay}, f"generated key {kid}{note}")
    elif args.action == "retire":
        path = keys.retire(folder, args.kid)
        out(args.json, {"retired": args.kid}, f"retired key {args.kid} ({path.name} deleted)")
    else:
        ring = keys.KeyRing.load(folder, settings.tokens.key_activation_delay)
        signing = ring.signing.kid
        listed = [
            {"kid": k.kid, "alg": keys.algorithm(k), "signing": k.kid == signing} for k in ring.keys
        ]
        out(
            args.json,
            {"keys": listed},
            "\n".join(f"{k['kid']} {k['alg']}{' (signs)' if k['signing'] else ''}" for k in listed),
        )


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
        _keys(args, settings)
        return 0
    settings = commands.with_embedded(settings)
    command = (args.command, getattr(args, "action", None))
    result: dict[str, Any]
    if command[0] == "migrate":
        applied = run(commands.migrate(settings))
        out(args.json, {"applied": applied}, "\n".join(applied) or "up to date")
        return 0
    if command[0] == "cleanup":
        result = run(commands.cleanup(settings))
    elif command == ("users", "create"):
        password = commands.read_password(args.password_stdin)
        result = run(
            commands.create_user(
                settings, args.username, args.email, password, args.first_name, args.last_name
            )
        )
    elif command == ("users", "set-password"):
        password = commands.read_password(args.password_stdin)
        result = run(admin.set_user_password(settings, args.username, password))
    elif command == ("users", "unlock"):
        result = run(admin.unlock(settings, "backoffice", args.username))
    elif command[0] == "users":
        result = run(admin.set_user_enabled(settings, args.username, args.action == "enable"))
    elif command == ("customer-users", "unlock"):
        result = run(admin.unlock(settings, "storefront", args.email))
    elif command[0] == "customer-users":
        password = commands.read_password(args.password_stdin)
        result = run(
            commands.create_customer_user(
                settings, args.email, password, args.first_name, args.last_name
            )
        )
    elif command == ("clients", "create"):
        grants = tuple(g.strip() for g in args.grants.split(",") if g.strip())
        result = run(
            commands.create_client(
                settings,
                args.name,
                args.audience,
                grants,
                args.public,
                args.owner_user,
                args.owner_customer_user,
                args.can_introspect,
            )
        )
    elif command[0] == "clients":
        result = run(admin.set_client_active(settings, args.client_id, args.action == "activate"))
    else:
        result = run(admin.revoke(settings, args.user, args.customer_user, args.client))
    out(args.json, result, "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
