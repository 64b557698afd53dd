"""What every command shares: the settings, --json, the stores it opens for its one run,
the password prompt, and how a refusal is told (`error: ...` on stderr, exit status 2)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import getpass
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

import asyncpg
import click

from service import logs
from service.admin.errors import AdminError
from service.admin.paging import MAX_PAGE
from service.admin.stores import Stores
from service.cli import failures
from service.config import ConfigError, Settings, load, replace
from service.dev.embedded import started
from service.oauth.keys import KeyFileError
from service.oauth.passwords import Passwords
from service.store import pg
from service.store.errors import StoreError, StoreUnavailable
from service.store.topology import close, create_redis

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")


class CommandError(click.ClickException):
    """Shown as it is, with exit status 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@dataclasses.dataclass
class Cli:
    config: str | None = None  # None: ./config.yml if there is one, else the defaults
    as_json: bool = False
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """config.yml, read once, on first use (so `--help` needs none)."""
        if self._settings is None:
            self.load()
        assert self._settings is not None
        return self._settings

    def load(self, **overrides: dict[str, Any]) -> Settings:
        """Read the config, with `overrides` (a command's options for config.yml's keys) on
        top, checked and derived from (tokens.issuer) like the file's own values."""
        path, required = self.config or "config.yml", self.config is not None
        self._settings = load(path, overrides=overrides, required=required)
        logs.setup(self._settings.logging.level)
        return self._settings

    @functools.cached_property
    def served(self) -> Settings:
        """The settings, with the embedded servers started where the config asks for them."""
        return started(self.settings)

    def report(self, result: Any, text: str | None = None) -> None:
        """A result (a dataclass or a dict) as JSON with --json, else `text` or a
        `name: value` line per field."""
        is_result = dataclasses.is_dataclass(result) and not isinstance(result, type)
        data = dataclasses.asdict(result) if is_result else result
        if text is None:
            text = "\n".join(f"{k}: {v}" for k, v in data.items())
        click.echo(json.dumps(data) if self.as_json else text)


pass_cli = click.make_pass_decorator(Cli)


def table(rows: list[Any], columns: tuple[str, ...]) -> str:
    """Results one a line, their `columns` tab-separated, under a header."""
    lines = ["\t".join(columns)]
    for row in rows:
        values = (getattr(row, c) for c in columns)
        lines.append("\t".join(",".join(v) if isinstance(v, list) else str(v) for v in values))
    return "\n".join(lines)


def paged(fn: click.decorators.FC) -> click.decorators.FC:
    """--page and --size, for the lists the admin layer pages."""
    fn = click.option("--size", type=click.IntRange(1, MAX_PAGE), default=20, show_default=True)(fn)
    return click.option("--page", type=click.IntRange(1), default=1, show_default=True)(fn)


def json_anywhere(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Cli).as_json = True


def command(fn: Callable[P, T]) -> Callable[P, T]:
    """Every command: takes --json after its name too, and tells what it refuses (bad
    config, a store's error, an admin refusal) as one `error:` line, no traceback."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except AdminError as exc:
            raise CommandError(_spelled(exc, click.get_current_context())) from None
        except StoreUnavailable:
            raise CommandError(failures.DURING) from None
        except asyncpg.PostgresError as exc:  # the store translates only what it expects
            raise CommandError(failures.postgres_query(exc)) from None
        except (ConfigError, StoreError, KeyFileError, RuntimeError) as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:
            # Still one line, no traceback (the log has it at debug level).
            log.debug("command failed", exc_info=True)
            raise CommandError(failures.unexpected(exc)) from None

    option = click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        callback=json_anywhere,
        help="print the result as JSON",
    )
    return option(run)


def _spelled(exc: AdminError, ctx: click.Context) -> str:
    """The error with the inputs at fault named as this command's options."""
    options = {p.name: p.opts[0] for p in ctx.command.params if isinstance(p, click.Option)}
    if not exc.fields:
        return exc.message
    return f"{' and '.join(options.get(f, f) for f in exc.fields)}: {exc.message}"


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def read_password(from_stdin: bool) -> str:
    """The first line of stdin, or (on a terminal without --password-stdin) asked twice."""
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat: ") != password:
        raise CommandError("passwords differ")
    return password


@contextlib.asynccontextmanager
async def connection(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    try:
        conn = await asyncpg.connect(
            settings.database.url,
            timeout=settings.database.timeout,
            **pg.connect_options(settings.database),
        )
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        raise CommandError(failures.postgres(exc, settings)) from None
    try:
        yield conn
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def postgres(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    """A small pool for one command. One connection first: the pool's own errors do not
    tell a stopped server from a missing database or a wrong password."""
    async with connection(settings):
        pass
    try:
        pool = await pg.create_pool(replace(settings, database={"pool_min_size": 1}).database)
    except StoreError:
        raise CommandError(failures.postgres(TimeoutError(), settings)) from None
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def stores(settings: Settings) -> AsyncIterator[Stores]:
    """Postgres and Redis, for the commands that revoke or unlock."""
    async with postgres(settings) as pool:
        try:
            redis = await create_redis(settings.redis)
        except StoreError:
            raise CommandError(failures.redis(settings)) from None
        try:
            yield Stores.configured(pool, redis, settings)
        finally:
            await close(redis)


@contextlib.contextmanager
def hasher(settings: Settings) -> Iterator[Passwords]:
    passwords = Passwords(settings.password_hashing)
    try:
        yield passwords
    finally:
        passwords.close()
