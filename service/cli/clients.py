"""`clients ...`: OAuth clients."""

from __future__ import annotations

import click

from service.admin import clients as admin
from service.cli.context import Cli, command, pass_cli, postgres, run, stores
from service.oauth.model import Audience, GrantType

client_id = click.option("--client-id", required=True)


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
) -> None:
    listed = tuple(g.strip() for g in grants.split(",") if g.strip())

    async def create() -> admin.CreatedClient:
        async with postgres(cli.served) as pool:
            return await admin.create_client(
                pool,
                name,
                audience,
                listed,
                public,
                owner_user,
                owner_customer_user,
                can_introspect,
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


async def _set_active(cli: Cli, client_id: str, active: bool) -> admin.ClientActive:
    async with stores(cli.served) as s:
        return await admin.set_client_active(s, client_id, active)
