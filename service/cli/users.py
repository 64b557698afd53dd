"""`users ...`: back-office users; the commands customer-users shares with them."""

from __future__ import annotations

import dataclasses

import click

from service.admin import accounts
from service.cli.context import (
    Cli,
    CommandError,
    command,
    hasher,
    paged,
    pass_cli,
    postgres,
    read_password,
    run,
    stores,
    table,
)
from service.oauth.model import Audience

password_stdin = click.option("--password-stdin", is_flag=True, help="read the password from stdin")
username = click.option("--username", required=True, help="the user's username")


@click.group(help="back-office users")
def users() -> None:
    pass


@users.command(help="create a user; the password is read from stdin")
@username
@click.option("--email", required=True)
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@password_stdin
@command
@pass_cli
def create(
    cli: Cli, username: str, email: str, first_name: str, last_name: str, password_stdin: bool
) -> None:
    password = read_password(password_stdin)
    settings = cli.served

    async def create() -> accounts.CreatedUser:
        with hasher(settings) as passwords:
            async with postgres(settings) as pool:
                return await accounts.create_user(
                    pool, passwords, username, email, password, first_name, last_name
                )

    cli.report(run(create()))


@users.command("set-password", help="change a password (stdin) and revoke the tokens")
@username
@password_stdin
@command
@pass_cli
def set_password(cli: Cli, username: str, password_stdin: bool) -> None:
    password = read_password(password_stdin)
    settings = cli.served

    async def change() -> accounts.PasswordSet:
        with hasher(settings) as passwords:
            async with stores(settings) as s:
                return await accounts.set_user_password(s, passwords, username, password)

    cli.report(run(change()))


@users.command(help="refuse the user and revoke its tokens")
@username
@command
@pass_cli
def disable(cli: Cli, username: str) -> None:
    cli.report(run(_set_enabled(cli, username, False)))


@users.command(help="accept the user again")
@username
@command
@pass_cli
def enable(cli: Cli, username: str) -> None:
    cli.report(run(_set_enabled(cli, username, True)))


async def _set_enabled(cli: Cli, username: str, enabled: bool) -> accounts.UserEnabled:
    async with stores(cli.served) as s:
        return await accounts.set_user_enabled(s, username, enabled)


def change_options(fn: click.decorators.FC) -> click.decorators.FC:
    fn = click.option("--enabled/--disabled", default=None, help="disabling revokes the tokens")(fn)
    fn = click.option("--last-name")(fn)
    return click.option("--first-name")(fn)


def updated(cli: Cli, audience: Audience, login: str, **options: str | bool | None) -> None:
    """Change what the options give (None: left as it is), as the admin API's PATCH does."""
    changes = {k: v for k, v in options.items() if v is not None}
    if not changes:
        raise CommandError("nothing to change: give at least one option")

    async def update() -> accounts.AccountChanged:
        async with stores(cli.served) as s:
            return await accounts.update_account(s, audience, login, changes)

    cli.report(run(update()))


@users.command(help="change names, the email, or enabled (disabling revokes the tokens)")
@username
@click.option("--email", help="the new email")
@change_options
@command
@pass_cli
def update(
    cli: Cli,
    username: str,
    email: str | None,
    first_name: str | None,
    last_name: str | None,
    enabled: bool | None,
) -> None:
    updated(
        cli,
        Audience.BACKOFFICE,
        username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        enabled=enabled,
    )


@users.command(help="lift a lockout after failed logins")
@username
@command
@pass_cli
def unlock(cli: Cli, username: str) -> None:
    cli.report(run(unlocked(cli, Audience.BACKOFFICE, username)))


async def unlocked(cli: Cli, audience: Audience, login: str) -> accounts.Unlocked:
    async with stores(cli.served) as s:
        return await accounts.unlock(s, audience, login)


def listed(cli: Cli, audience: Audience, page: int, size: int, search: str | None) -> None:
    async def find() -> accounts.AccountPage:
        async with postgres(cli.served) as pool:
            return await accounts.list_accounts(pool, audience, (page - 1) * size, size, search)

    found = run(find())
    columns = (
        ("id", "username", "email", "enabled")
        if audience is Audience.BACKOFFICE
        else ("id", "email", "enabled")
    )
    data = {"accounts": [dataclasses.asdict(a) for a in found.accounts], "total": found.total}
    cli.report(data, table(found.accounts, columns) + f"\n({found.total} in all)")


def shown(cli: Cli, audience: Audience, login: str) -> None:
    async def show() -> accounts.AccountView:
        async with postgres(cli.served) as pool:
            return await accounts.show_account(pool, audience, login)

    cli.report(run(show()))


def deleted(cli: Cli, audience: Audience, login: str) -> None:
    async def delete() -> accounts.AccountChanged:
        async with stores(cli.served) as s:
            return await accounts.delete_account(s, audience, login)

    cli.report(run(delete()))


def page_options(fn: click.decorators.FC) -> click.decorators.FC:
    fn = click.option("--search", help="part of the username or email, any case")(fn)
    return paged(fn)


@users.command("list", help="the users by id, a page at a time")
@page_options
@command
@pass_cli
def list_(cli: Cli, page: int, size: int, search: str | None) -> None:
    listed(cli, Audience.BACKOFFICE, page, size, search)


@users.command(help="one user, by username or email")
@username
@command
@pass_cli
def show(cli: Cli, username: str) -> None:
    shown(cli, Audience.BACKOFFICE, username)


@users.command(help="revoke the user's tokens and delete it (and the clients acting as it)")
@username
@command
@pass_cli
def delete(cli: Cli, username: str) -> None:
    deleted(cli, Audience.BACKOFFICE, username)
