"""`migrate` and `cleanup`."""

from __future__ import annotations

import click

from service.admin import maintenance
from service.cli.context import Cli, command, connection, pass_cli, postgres, run


@click.command(help="apply the SQL migrations")
@command
@pass_cli
def migrate(cli: Cli) -> None:
    async def migrate() -> list[str]:
        async with connection(cli.served) as conn:
            return await maintenance.migrate(conn)

    applied = run(migrate())
    cli.report({"applied": applied}, "\n".join(applied) or "up to date")


@click.command(help="delete customer visitors whose tokens have all expired")
@command
@pass_cli
def cleanup(cli: Cli) -> None:
    async def cleanup() -> maintenance.Cleaned:
        async with postgres(cli.served) as pool:
            return await maintenance.cleanup(pool)

    cli.report(run(cleanup()))
