"""`serve` and `dev`."""

from __future__ import annotations

from typing import Any

import click

from service import server
from service.cli.context import Cli, command, pass_cli
from service.dev import demo
from service.dev.embedded import started


@click.command(help="serve HTTP")
@click.option("--host")
@click.option("--port", type=int)
@click.option("--workers", type=int, help="processes (default server.workers)")
@command
@pass_cli
def serve(cli: Cli, host: str | None, port: int | None, workers: int | None) -> None:
    given = {"host": host, "port": port, "workers": workers}
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    server.serve(started(cli.load(server=overrides)))


@click.command(help="embedded servers + demo data + serve (make run)")
@command
@pass_cli
def dev(cli: Cli) -> None:
    demo.run(cli.settings)
