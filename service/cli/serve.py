"""`serve` and `dev`."""

from __future__ import annotations

import logging
import os
from typing import Any

import click

from service import server
from service.cli import failures
from service.cli.context import Cli, CommandError, command, pass_cli
from service.config import Settings, issuer_mismatch, unknown_env
from service.dev import demo
from service.dev.embedded import started

log = logging.getLogger("service")


@click.command(help="serve HTTP")
@click.option("--host")
@click.option("--port", type=int)
@click.option("--workers", type=int, help="processes (default server.workers)")
@command
@pass_cli
def serve(cli: Cli, host: str | None, port: int | None, workers: int | None) -> None:
    given = {"host": host, "port": port, "workers": workers}
    overrides: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    settings = cli.load(server=overrides)
    _preflight(settings)
    server.serve(started(settings))


@click.command(help="embedded servers + demo data + serve (make run)")
@command
@pass_cli
def dev(cli: Cli) -> None:
    _preflight(cli.settings)
    demo.run(cli.settings)


def _preflight(settings: Settings) -> None:
    """Before anything starts: a port that another process holds is one `error:` line
    (not a traceback from each worker), and an issuer that cannot be this listener's
    address one warning (discovery would send clients elsewhere), as is a SERVICE_
    variable that names no setting."""
    listeners = [(settings.server.host, settings.server.port, "server.port")]
    if settings.metrics.port:
        host = settings.metrics.host or settings.server.host
        listeners.append((host, settings.metrics.port, "metrics.port"))
    if settings.admin.port:
        listeners.append((settings.admin.host, settings.admin.port, "admin.port"))
    for host, port, key in listeners:
        if problem := failures.listener(host, port, key):
            raise CommandError(problem)
    if why := issuer_mismatch(settings):
        log.warning(
            "tokens.issuer %s cannot be the address of this listener (%s:%d): %s; discovery "
            "and the iss claim name it (leave tokens.issuer empty to follow the listener)",
            settings.tokens.issuer,
            settings.server.host,
            settings.server.port,
            why,
        )
    if unknown := unknown_env(os.environ):
        log.warning(
            "environment variables that name no setting, ignored: %s (the rule is "
            "SERVICE_<SECTION>_<KEY>, e.g. SERVICE_SERVER_PORT for server.port)",
            ", ".join(unknown),
        )
