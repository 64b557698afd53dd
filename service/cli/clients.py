"""`clients ...`: OAuth clients."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import click

from service.admin import clients as admin_clients
from service.cli.context import Cli, command, paged, pass_cli, postgres, run, stores, table
from service.oauth.model import Audience, GrantType

client_id = click.option("--client-id", required=True)
F = TypeVar("F", bound=Callable[..., Any])


class Lifetime(click.ParamType[int | str]):
    """Seconds, or `config` (config.yml's)."""

    name = "seconds|config"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is None or isinstance(value, int) or value == "config":
            return value
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return int(value)
        self.fail(f"{value!r} is neither seconds nor 'config'", param, ctx)


def lifetime(name: str) -> Callable[[F], F]:
    return click.option(f"--{name}", type=Lifetime(), help="seconds, or 'config' (config.yml's)")


@click.group(help="OAuth clients")
def clients() -> None:
    pass


@clients.command(help="create a client; prints its secret once")
@click.option("--name", required=True)
@click.option(
    "--audience",
    type=click.Choice([str(a) for a in Audience]),
    default="backoffice",
    show_default=True,
)
@click.option(
    "--grants",
    default="password,refresh_token",
    show_default=True,
    help=f"comma-separated, of {', '.join(GrantType)}",
)
@click.option("--public", is_flag=True, help="no secret (not for servers)")
@click.option("--owner-user", help="back-office username the client acts as")
@click.option("--owner-customer-user", help="customer user email the client acts as")
@click.option("--can-introspect", is_flag=True, help="may introspect any token")
@click.option("--access-token-lifetime", type=int, help="seconds (default: config.yml's)")
@click.option("--refresh-token-lifetime", type=int, help="seconds (default: config.yml's)")
@click.option("--admin", is_flag=True, help="its client_credentials tokens may call the admin API")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="where authorization codes may be sent (exact string; repeatable)",
)
@click.option("--skip-consent", is_flag=True, help="no consent page (Oro's skip authorization)")
@click.option("--allow-plain-pkce", is_flag=True, help="accept code_challenge_method=plain")
@click.option(
    "--no-refresh",
    is_flag=True,
    help="no refresh tokens (as in Oro, a password client may refresh by default)",
)
@click.option("--scopes", help="space-separated scopes it may ask for (default: any)")
@command
@pass_cli
def create(
    cli: Cli,
    name: str,
    audience: str,
    grants: str,
    public: bool,
    owner_user: str | None,
    owner_customer_user: str | None,
    can_introspect: bool,
    access_token_lifetime: int | None,
    refresh_token_lifetime: int | None,
    admin: bool,
    redirect_uris: tuple[str, ...],
    skip_consent: bool,
    allow_plain_pkce: bool,
    no_refresh: bool,
    scopes: str | None,
) -> None:
    settings = cli.served

    async def create() -> admin_clients.CreatedClient:
        async with postgres(settings) as pool:
            return await admin_clients.create_client(
                pool,
                name,
                audience,
                _listed(grants),
                public,
                owner_user,
                owner_customer_user,
                can_introspect,
                access_token_lifetime=access_token_lifetime,
                refresh_token_lifetime=refresh_token_lifetime,
                admin=admin,
                tokens=settings.tokens,
                code=admin_clients.CodeOptions(redirect_uris, skip_consent, allow_plain_pkce),
                refresh=not no_refresh,
                scopes=scopes,
            )

    cli.report(run(create()))


@clients.command(help="refuse the client and revoke its tokens")
@client_id
@command
@pass_cli
def deactivate(cli: Cli, client_id: str) -> None:
    cli.report(run(_set_active(cli, client_id, False)))


@clients.command(help="accept the client again")
@client_id
@command
@pass_cli
def activate(cli: Cli, client_id: str) -> None:
    cli.report(run(_set_active(cli, client_id, True)))


async def _set_active(cli: Cli, client_id: str, active: bool) -> admin_clients.ClientActive:
    async with stores(cli.served) as s:
        return await admin_clients.set_client_active(s, client_id, active)


def _listed(grants: str) -> tuple[str, ...]:
    return tuple(g.strip() for g in grants.split(",") if g.strip())


@clients.command("list", help="the clients, oldest first, a page at a time")
@click.option("--audience", type=click.Choice([str(a) for a in Audience]))
@click.option("--active/--inactive", default=None, help="only active (inactive) ones")
@paged
@command
@pass_cli
def list_(cli: Cli, audience: str | None, active: bool | None, page: int, size: int) -> None:
    async def find() -> admin_clients.ClientPage:
        async with postgres(cli.served) as pool:
            offset = (page - 1) * size
            return await admin_clients.list_clients(pool, audience, active, offset, size)

    found = run(find())
    columns = ("client_id", "name", "audience", "grants", "active")
    data = {"clients": [dataclasses.asdict(c) for c in found.clients], "total": found.total}
    cli.report(data, table(found.clients, columns) + f"\n({found.total} in all)")


@clients.command(help="one client (never its secret)")
@client_id
@command
@pass_cli
def show(cli: Cli, client_id: str) -> None:
    async def show() -> admin_clients.ClientView:
        async with postgres(cli.served) as pool:
            return await admin_clients.show_client(pool, client_id)

    cli.report(run(show()))


@clients.command(help="change a client in place (deactivating revokes its tokens)")
@client_id
@click.option("--name")
@click.option("--grants", help=f"comma-separated, of {', '.join(GrantType)}")
@click.option("--active/--inactive", default=None)
@lifetime("access-token-lifetime")
@lifetime("refresh-token-lifetime")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="where authorization codes may be sent (repeatable; replaces the list)",
)
@click.option("--skip-consent/--no-skip-consent", default=None, help="no consent page")
@click.option(
    "--allow-plain-pkce/--no-allow-plain-pkce",
    default=None,
    help="accept code_challenge_method=plain",
)
@click.option("--scopes", help="space-separated scopes it may ask for (as on create)")
@click.option("--any-scope", is_flag=True, help="it may ask for any scope again")
@command
@pass_cli
def update(
    cli: Cli,
    client_id: str,
    name: str | None,
    grants: str | None,
    active: bool | None,
    access_token_lifetime: int | str | None,
    refresh_token_lifetime: int | str | None,
    redirect_uris: tuple[str, ...],
    skip_consent: bool | None,
    allow_plain_pkce: bool | None,
    scopes: str | None,
    any_scope: bool,
) -> None:
    if scopes is not None and any_scope:
        raise click.UsageError("--scopes or --any-scope, not both")
    options = {
        "name": name,
        "grants": grants,
        "active": active,
        "access_token_lifetime": access_token_lifetime,
        "refresh_token_lifetime": refresh_token_lifetime,
        "redirect_uris": redirect_uris or None,
        "skip_consent": skip_consent,
        "allow_plain_pkce": allow_plain_pkce,
        "scopes": scopes,
    }
    changes: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    if any_scope:
        changes["scopes"] = None
    if "grants" in changes:
        changes["grants"] = _listed(changes["grants"])
    for name in ("access_token_lifetime", "refresh_token_lifetime"):
        if changes.get(name) == "config":
            changes[name] = None

    async def update() -> admin_clients.ClientView:
        async with stores(cli.served) as s:
            return await admin_clients.update_client(s, client_id, changes)

    cli.report(run(update()))


@clients.command("rotate-secret", help="a new secret (printed once); the old one stops at once")
@client_id
@command
@pass_cli
def rotate_secret(cli: Cli, client_id: str) -> None:
    async def rotate() -> admin_clients.RotatedSecret:
        async with stores(cli.served) as s:
            return await admin_clients.rotate_secret(s, client_id)

    cli.report(run(rotate()))


@clients.command(help="revoke the client's tokens and delete it")
@client_id
@command
@pass_cli
def delete(cli: Cli, client_id: str) -> None:
    async def delete() -> admin_clients.DeletedClient:
        async with stores(cli.served) as s:
            return await admin_clients.delete_client(s, client_id)

    cli.report(run(delete()))
