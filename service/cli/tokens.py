"""`tokens ...`: issued tokens."""

from __future__ import annotations

import click

from service.admin import tokens as admin
from service.cli.context import Cli, command, pass_cli, run, stores, table
from service.oauth.model import Audience


@click.group(help="issued tokens")
def tokens() -> None:
    pass


@tokens.command(help="revoke every token of a user, customer user or client (give one)")
@click.option("--user", help="back-office username or email")
@click.option("--customer-user", help="customer user email")
@click.option("--client", help="client_id")
@command
@pass_cli
def revoke(cli: Cli, user: str | None, customer_user: str | None, client: str | None) -> None:
    if sum(x is not None for x in (user, customer_user, client)) != 1:
        raise click.UsageError("give exactly one of --user, --customer-user, --client")

    async def revoke() -> admin.RevokedLogins | admin.RevokedBefore:
        async with stores(cli.served) as s:
            if user is not None:
                return await admin.revoke_user(s, user)
            if customer_user is not None:
                return await admin.revoke_customer_user(s, customer_user)
            assert client is not None
            return await admin.revoke_client(s, client)

    cli.report(run(revoke()))


@tokens.command("list", help="the live logins of a user or a customer user (give one)")
@click.option("--user", help="back-office username or email")
@click.option("--customer-user", help="customer user email")
@command
@pass_cli
def list_(cli: Cli, user: str | None, customer_user: str | None) -> None:
    if (user is None) == (customer_user is None):
        raise click.UsageError("give exactly one of --user, --customer-user")

    async def find() -> admin.Logins:
        async with stores(cli.served) as s:
            if user is not None:
                return await admin.list_logins(s, Audience.BACKOFFICE, user)
            assert customer_user is not None
            return await admin.list_logins(s, Audience.STOREFRONT, customer_user)

    found = run(find())
    columns = ("family", "client_id", "logged_in_at", "refreshed_at", "expires_at")
    cli.report(found, f"{found.subject}\n" + table(found.logins, columns))
