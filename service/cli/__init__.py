"""Command line: python -m service [--config config.yml] [--json] COMMAND ...

One module per noun. A command reads its options, opens the stores it needs for its one run
and calls service.admin, which does the work; --json may come anywhere."""

from __future__ import annotations

import click

from service import logs
from service.cli import clients, customer_users, keys, maintenance, serve, tokens, users
from service.cli.context import Cli, json_anywhere


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", help="path of config.yml  [default: ./config.yml if present, else defaults]"
)
@click.option(
    "--json", is_flag=True, expose_value=False, callback=json_anywhere, help="print results as JSON"
)
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """Command line of the token service: python -m service [--config config.yml] [--json]
    COMMAND ..."""
    logs.setup()
    ctx.ensure_object(Cli).config = config


for group in (
    serve.serve,
    serve.dev,
    maintenance.migrate,
    maintenance.cleanup,
    keys.keys,
    clients.clients,
    users.users,
    customer_users.customer_users,
    tokens.tokens,
):
    main.add_command(group)
