"""`customer-users ...`: storefront customer users."""

from __future__ import annotations

import click

from service.admin import accounts
from service.cli.context import (
    Cli,
    command,
    hasher,
    pass_cli,
    postgres,
    read_password,
    run,
    stores,
)
from service.cli.users import (
    change_options,
    deleted,
    listed,
    page_options,
    password_stdin,
    shown,
    unlocked,
    updated,
)
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


@customer_users.command("list", help="the customer users by id, a page at a time")
@page_options
@command
@pass_cli
def list_(cli: Cli, page: int, size: int, search: str | None) -> None:
    listed(cli, Audience.STOREFRONT, page, size, search)


@customer_users.command(help="one customer user")
@email
@command
@pass_cli
def show(cli: Cli, email: str) -> None:
    shown(cli, Audience.STOREFRONT, email)


@customer_users.command(help="change names or enabled (disabling revokes the tokens)")
@email
@change_options
@command
@pass_cli
def update(
    cli: Cli, email: str, first_name: str | None, last_name: str | None, enabled: bool | None
) -> None:
    # The email is the tokens' subject: it is not changed in place.
    updated(
        cli, Audience.STOREFRONT, email, first_name=first_name, last_name=last_name, enabled=enabled
    )


@customer_users.command(help="refuse the customer user and revoke its tokens")
@email
@command
@pass_cli
def disable(cli: Cli, email: str) -> None:
    cli.report(run(_enabled(cli, email, False)))


@customer_users.command(help="accept the customer user again")
@email
@command
@pass_cli
def enable(cli: Cli, email: str) -> None:
    cli.report(run(_enabled(cli, email, True)))


async def _enabled(cli: Cli, email: str, enabled: bool) -> accounts.AccountChanged:
    async with stores(cli.served) as s:
        return await accounts.update_account(s, Audience.STOREFRONT, email, {"enabled": enabled})


@customer_users.command("set-password", help="change a password (stdin) and revoke the tokens")
@email
@password_stdin
@command
@pass_cli
def set_password(cli: Cli, email: str, password_stdin: bool) -> None:
    password = read_password(password_stdin)
    settings = cli.served

    async def change() -> accounts.AccountChanged:
        with hasher(settings) as passwords:
            async with stores(settings) as s:
                return await accounts.set_password(
                    s, passwords, Audience.STOREFRONT, email, password
                )

    cli.report(run(change()))


@customer_users.command(help="revoke the customer user's tokens and delete it")
@email
@command
@pass_cli
def delete(cli: Cli, email: str) -> None:
    deleted(cli, Audience.STOREFRONT, email)
