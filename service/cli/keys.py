"""`keys ...`: the signing keys in tokens.keys_dir (no database needed)."""

from __future__ import annotations

import click

from service.admin import keys as admin
from service.cli.context import Cli, command, pass_cli
from service.oauth.model import ALGORITHMS

algorithm = click.option(
    "--algorithm",
    type=click.Choice(ALGORITHMS),
    help="default tokens.algorithm",
)


@click.group(help="signing keys")
def keys() -> None:
    pass


def _generated(cli: Cli, choice: str | None) -> None:
    key = admin.generate_key(cli.settings.tokens, choice)
    delay = key.activation_delay
    note = f"; it signs in {delay} s, once every instance has loaded it" if delay else ""
    cli.report(key, f"generated key {key.kid}{note}")


@keys.command(help="add a signing key")
@algorithm
@command
@pass_cli
def generate(cli: Cli, algorithm: str | None) -> None:
    _generated(cli, algorithm)


@keys.command(help="add the next signing key")
@algorithm
@command
@pass_cli
def rotate(cli: Cli, algorithm: str | None) -> None:
    _generated(cli, algorithm)


@keys.command(help="delete a key; its tokens are refused")
@click.argument("kid")
@command
@pass_cli
def retire(cli: Cli, kid: str) -> None:
    path = admin.retire_key(cli.settings.tokens, kid)
    cli.report({"retired": kid}, f"retired key {kid} ({path.name} deleted)")


@keys.command("list", help="the keys and which one signs")
@command
@pass_cli
def list_(cli: Cli) -> None:
    listed = admin.list_keys(cli.settings.tokens)
    text = "\n".join(f"{k.kid} {k.alg}{' (signs)' if k.signing else ''}" for k in listed)
    cli.report({"keys": [k.__dict__ for k in listed]}, text)
