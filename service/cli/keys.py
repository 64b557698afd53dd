"""`keys ...`: the signing keys in tokens.keys_dir (no database needed)."""

from __future__ import annotations

import time

import click

from service.admin import keys as admin
from service.cli.context import Cli, CommandError, command, pass_cli
from service.oauth.keys import OnlySigningKey
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
    if key.signs_in == 0:
        note = "it signs now"
    else:
        at = time.strftime("%H:%M:%S UTC", time.gmtime(key.signs_at))
        note = (
            f"it verifies now and signs in {key.signs_in} s (at {at}), once every instance "
            "has loaded it (tokens.key_activation_delay); until then the current key signs"
        )
    cli.report(key, f"generated key {key.kid}: {note}")


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


# A kid is base64url: one in 64 starts with "-", which click would take for an option.
@keys.command(
    help="delete a key; its tokens are refused", context_settings={"ignore_unknown_options": True}
)
@click.argument("kid")
@click.option(
    "--force",
    is_flag=True,
    help="retire it even if it is the only key that may sign (new tokens then fail or are "
    "signed by a key not every instance has loaded)",
)
@command
@pass_cli
def retire(cli: Cli, kid: str, force: bool) -> None:
    try:
        path = admin.retire_key(cli.settings.tokens, kid, force=force)
    except OnlySigningKey as exc:
        raise CommandError(f"{exc} (`keys list`; --force retires it anyway)") from None
    cli.report({"retired": kid}, f"retired key {kid} ({path.name} deleted)")


@keys.command("list", help="the keys and which one signs")
@command
@pass_cli
def list_(cli: Cli) -> None:
    listed = admin.list_keys(cli.settings.tokens)
    text = "\n".join(f"{k.kid} {k.alg}{' (signs)' if k.signing else ''}" for k in listed)
    cli.report({"keys": [k.__dict__ for k in listed]}, text)
