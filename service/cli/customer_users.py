"""`customer-users ...`: storefront customer users."""

from __future__ import annotations

import click

from service.admin import accounts
from service.cli.context import Cli, command, hasher, pass_cli, postgres, read_password, run
from service.cli.users import password_stdin, unlocked
from service.oauth.model import Audience

email = click.option("--email", required=True, help="the login, matched case-insensitively")


@click.group("customer-users", help="storefront customer users")
def customer_users() -> None:
    pass


@customer_users.command(help="create a customer user; the password is read from stdin")
@email
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@password_stdin
@command
@pass_cli
def create(cli: Cli, email: str, first_name: str, last_name: str, password_stdin: bool) -> None:
    password = read_password(password_stdin)
    settings = cli.served

    async def create() -> accounts.CreatedCustomerUser:
        with hasher(settings) as passwords:
            async with postgres(settings) as pool:
                return await accounts.create_customer_user(
                    pool, passwords, email, password, first_name, last_name
                )

    cli.report(run(create()))


@customer_users.command(help="lift a lockout after failed logins")
@email
@command
@pass_cli
def unlock(cli: Cli, email: str) -> None:
    cli.report(run(unlocked(cli, Audience.STOREFRONT, email)))
