"""Typed, frozen settings loaded once from config.yml, with environment overrides.

The schema is msgspec Structs: types and ranges are declared beside each key and checked
when config.yml and the environment are converted; what spans several keys is checked
after (`_validate`). Every key can be overridden by SERVICE_<SECTION>_<KEY>."""

from __future__ import annotations

import ipaddress
import os
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
import yaml
from msgspec import Meta, Struct, field

from service.oauth.model import Algorithm

EMBEDDED = "embedded"
ENV_PREFIX = "SERVICE_"
# Names older than the rule, kept for deployments that set them; the rule's name wins.
ENV_ALIASES = {
    "SERVICE_ISSUER": ("tokens", "issuer"),
    "SERVICE_KEYS_DIR": ("tokens", "keys_dir"),
    "SERVICE_TRUSTED_PROXIES": ("protection", "trusted_proxies"),
}
# Connections per node of the Redis Cluster client, which fails a command rather than wait
# for one; requests in flight per worker stay below it by this much (health checks).
CLUSTER_CONNECTIONS = 1024
CLUSTER_HEADROOM = CLUSTER_CONNECTIONS - 24

Positive = Annotated[int, Meta(gt=0)]
NotNegative = Annotated[int, Meta(ge=0)]
ZeroIsOff = Annotated[int, Meta(ge=0)]
Seconds = Annotated[float, Meta(gt=0)]
Port = Annotated[int, Meta(ge=1, le=65535)]
NonEmpty = Annotated[str, Meta(min_length=1)]
HeaderName = Annotated[str, Meta(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")]  # an RFC 9110 token


class ConfigError(Exception):
    """A missing or bad key; the message names it."""


class _Section(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A section of config.yml: an unknown key in it is an error, not ignored."""


class ServerSettings(_Section, frozen=True):
    host: NonEmpty = "127.0.0.1"
    port: Port = 8080
    workers: NotNegative = 0
    max_body_bytes: Positive = 65536
    var_dir: NonEmpty = "var"
    max_requests_in_flight: Positive = 256
    max_requests_in_flight_per_address: Positive = 64
    queue_timeout: Annotated[float, Meta(ge=0)] = 2.0
    graceful_timeout: Positive = 25  # seconds SIGTERM leaves the requests in flight
    max_requests: NotNegative = 0  # a worker is replaced after this many; 0 = never


class DatabaseSettings(_Section, frozen=True):
    url: str = EMBEDDED
    pool_min_size: Positive = 1
    pool_max_size: Positive = 10
    timeout: Seconds = 5.0
    pgbouncer: bool = False


class RedisSettings(_Section, frozen=True):
    url: str = EMBEDDED
    timeout: Seconds = 2.0
    key_prefix: str = "oauth:"
    mode: Literal["single", "sentinel", "cluster"] = "single"
    sentinels: tuple[str, ...] = ()
    sentinel_master: str = "mymaster"
    revocation_wait_ms: NotNegative = 200
    max_connections: Positive = 64
    pool_timeout: Seconds = 1.0


class TokenSettings(_Section, frozen=True):
    access_token_lifetime: Positive = 3600
    refresh_token_lifetime: Positive = 2_592_000
    guest_refresh_token_lifetime: Positive = 604_800
    # The loader derives it from the listener when config.yml and the environment leave it
    # empty (`derived_issuer`); this default is what it derives from the default listener.
    issuer: str = "http://localhost:8080"
    keys_dir: NonEmpty = "keys"
    algorithm: Algorithm = "RS256"
    leeway: NotNegative = 5
    key_activation_delay: NotNegative = 300
    keys_reload_interval: NotNegative = 60
    auth_code_lifetime: Positive = 600
    refresh_reuse_interval: NotNegative = 10

    @property
    def longest_lifetime(self) -> int:
        """How long an index entry or a revocation marker must outlive its newest token."""
        refresh = max(self.refresh_token_lifetime, self.guest_refresh_token_lifetime)
        return max(self.access_token_lifetime, refresh) + self.leeway

    @property
    def visitor_lifetime(self) -> int:
        """How long a visitor row must outlive its newest token."""
        return max(self.access_token_lifetime, self.guest_refresh_token_lifetime) + self.leeway


class PasswordHashingSettings(_Section, frozen=True):
    memory_cost: Positive = 19456
    time_cost: Positive = 2
    parallelism: Positive = 1
    threads: NotNegative = 0


class CorsSettings(_Section, frozen=True):
    origins: tuple[str, ...] = ()
    allow_headers: tuple[HeaderName, ...] = ()  # beside Authorization and Content-Type


class ApiSettings(_Section, frozen=True):
    backoffice_prefix: str = "/api"
    storefront_prefix: str = "/storefront/api"


class AuthorizeSettings(_Section, frozen=True):
    backoffice_prefix: str = "/admin"
    session_lifetime: Positive = 3600


class ProtectionSettings(_Section, frozen=True):
    failure_window: Positive = 900
    max_account_failures: ZeroIsOff = 5
    lockout_time: Positive = 900
    max_address_failures: ZeroIsOff = 100
    requests_per_minute: ZeroIsOff = 600
    guest_logins_per_minute: ZeroIsOff = 60
    ipv6_prefix: Annotated[int, Meta(ge=1, le=128)] = 64
    trusted_proxies: tuple[str, ...] = ()


class MetricsSettings(_Section, frozen=True):
    host: str = ""  # "" = server.host
    port: Annotated[int, Meta(ge=0, le=65535)] = 0  # 0 = /metrics on the main listener
    token: str = ""  # a secret: never in a repr or a log

    def __repr__(self) -> str:
        token = "<set>" if self.token else "''"
        return f"MetricsSettings(host={self.host!r}, port={self.port}, token={token})"


class AdminSettings(_Section, frozen=True):
    # The admin API's own listener, never the public one; on an address other than
    # loopback it takes only admin clients' access tokens.
    host: NonEmpty = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535)] = 8081  # 0 = no admin API


class MaintenanceSettings(_Section, frozen=True):
    cleanup_interval: ZeroIsOff = 3600


class LoggingSettings(_Section, frozen=True):
    level: Literal["debug", "info", "warning", "error"] = "info"
    access: bool = True  # a line per request (at info); the audit trail is apart


class Settings(_Section, frozen=True):
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    tokens: TokenSettings = field(default_factory=TokenSettings)
    password_hashing: PasswordHashingSettings = field(default_factory=PasswordHashingSettings)
    cors: CorsSettings = field(default_factory=CorsSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    authorize: AuthorizeSettings = field(default_factory=AuthorizeSettings)
    maintenance: MaintenanceSettings = field(default_factory=MaintenanceSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    admin: AdminSettings = field(default_factory=AdminSettings)
    protection: ProtectionSettings = field(default_factory=ProtectionSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)


def env_names() -> dict[str, tuple[str, str]]:
    """SERVICE_<SECTION>_<KEY> -> (section, key), for every key of config.yml."""
    names = {}
    for section in msgspec.structs.fields(Settings):
        for key in msgspec.structs.fields(section.type):
            names[f"{ENV_PREFIX}{section.name}_{key.name}".upper()] = (section.name, key.name)
    return names


def env_variables() -> dict[str, tuple[str, str]]:
    """Every variable read: the rule's names and the older ones."""
    return {**ENV_ALIASES, **env_names()}


def unknown_env(env: typing.Mapping[str, str]) -> list[str]:
    """Set SERVICE_ variables that name no setting (a misspelt key is otherwise silently
    ignored): the names, sorted, for a warning. Not refused: a platform may set its own
    (Kubernetes names a Service's address <NAME>_SERVICE_HOST, SERVICE_PORT and the like)."""
    known = env_variables()
    return sorted(
        v for v, value in env.items() if v.startswith(ENV_PREFIX) and value and v not in known
    )


def _key_type(section: str, key: str) -> Any:
    sections = {f.name: f.type for f in msgspec.structs.fields(Settings)}
    return {f.name: f.type for f in msgspec.structs.fields(sections[section])}[key]


def _from_env(env: typing.Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """The environment's overrides as config.yml's mapping, and the variable behind each key.
    An empty variable counts as unset (compose's ${VAR:-} gives empty ones). A list is
    comma-separated; other values are converted from text by the key's type later."""
    raw: dict[str, dict[str, Any]] = {}
    sources: dict[str, str] = {}
    for var, (section, key) in env_variables().items():
        value = env.get(var, "")
        if not value:
            continue
        if typing.get_origin(_key_type(section, key)) is tuple:
            raw.setdefault(section, {})[key] = [v.strip() for v in value.split(",") if v.strip()]
        else:
            raw.setdefault(section, {})[key] = value
        sources[f"{section}.{key}"] = var
    return raw, sources


def _merge(*layers: typing.Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for layer in layers:
        for name, section in layer.items():
            if isinstance(section, dict) and isinstance(merged.get(name, {}), dict):
                merged[name] = {**merged.get(name, {}), **section}
            else:
                merged[name] = section
    return merged


def _lookup(raw: Any, path: str) -> tuple[bool, Any]:
    for part in path.split("."):
        if not isinstance(raw, dict) or part not in raw:
            return False, None
        raw = raw[part]
    return True, raw


def _describe(key: str, problem: str, value: Any, source: str | None) -> ConfigError:
    """One line that starts with the key: "server.port: expected int <= 65535, got 70000"."""
    problem = problem.replace("`", "")
    section, _, name = key.partition(".")
    if problem.startswith("Invalid enum value"):
        choices = typing.get_args(_key_type(section, name))
        problem = f"expected one of {', '.join(map(str, choices))}"
    problem = problem[0].lower() + problem[1:]
    if ", got" in problem:
        problem += f" ({value!r})"
    else:
        problem += f", got {value!r}"
    return ConfigError(f"{key}: {problem}" + (f" (from {source})" if source else ""))


def _explain(exc: msgspec.ValidationError, raw: Any, sources: dict[str, str]) -> ConfigError:
    """msgspec's message ("Expected `int` <= 65535 - at `$.server.port`") as ours."""
    text, _, where = str(exc).partition(" - at `$")
    path = where.rstrip("`").lstrip(".")
    unknown = re.fullmatch(r"Object contains unknown field `(.+)`", text)
    if unknown:
        if not path:
            return ConfigError(f"{unknown[1]}: unknown section")
        return ConfigError(f"{path}.{unknown[1]}: unknown key")
    found, value = _lookup(raw, path)
    if not found or path.count(".") != 1:  # an item of a list: name the list's key
        text = text.replace("`", "")
        return ConfigError(f"{path or 'config'}: {text[0].lower()}{text[1:]}")
    return _describe(path, text, value, sources.get(path))


def _typed_env(env_raw: dict[str, dict[str, Any]], sources: dict[str, str]) -> dict[str, Any]:
    """The environment's text converted to each key's type ("8080" -> 8080, "true" -> True),
    so that config.yml's own values stay strictly typed ("8080" there is an error)."""
    typed: dict[str, dict[str, Any]] = {}
    for section, values in env_raw.items():
        for key, value in values.items():
            try:
                converted = msgspec.convert(value, _key_type(section, key), strict=False)
            except msgspec.ValidationError as exc:
                name = f"{section}.{key}"
                raise _describe(name, str(exc), value, sources[name]) from None
            typed.setdefault(section, {})[key] = converted
    return typed


def derived_issuer(server: ServerSettings) -> str:
    """http://<listener>: what a client on this machine reaches; localhost for a loopback or
    every-address listener (a browser or openid-client there asks for localhost)."""
    host = server.host
    if host in ("0.0.0.0", "::", "127.0.0.1", "::1", "localhost"):  # noqa: S104 - a name
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{server.port}"


def issuer_mismatch(settings: Settings) -> str | None:
    """Why the issuer cannot name this listener, or None. Only a loopback issuer is judged:
    a public name may sit in front of the listener (a balancer, a proxy on another port)."""
    parts = urlsplit(settings.tokens.issuer)
    host = (parts.hostname or "").lower()
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    listener = settings.server.host
    if port != settings.server.port:
        return f"its port {port} is not server.port {settings.server.port}"
    try:
        reachable = ipaddress.ip_address(listener)
        if not (reachable.is_loopback or reachable.is_unspecified):
            return f"server.host {listener} does not listen on {host}"
    except ValueError:
        pass  # a name: it may resolve to a loopback address
    return None


def _check_url(key: str, url: str, schemes: tuple[str, ...]) -> None:
    if url != EMBEDDED and not url.startswith(schemes):
        raise ConfigError(f"{key}: expected {EMBEDDED!r} or a URL starting with {schemes[0]}")


def _check_issuer(issuer: str) -> None:
    parts = urlsplit(issuer)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"tokens.issuer: expected an http(s) URL, got {issuer!r}")
    if parts.query or parts.fragment or "#" in issuer:
        # RFC 8414 §2: "a URL that uses the https scheme and has no query or fragment".
        raise ConfigError(f"tokens.issuer: no query or fragment allowed, got {issuer!r}")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise ConfigError(f"tokens.issuer: bad port in {issuer!r}") from None


def _check_origin(origin: str) -> None:
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
        raise ConfigError(
            f"cors.origins: {origin!r} is not an origin (scheme://host[:port], no path, "
            "as browsers send it in Origin)"
        )


def _validate_redis_topology(r: RedisSettings) -> None:
    if r.mode == "single":
        return
    if r.url == EMBEDDED or r.url.startswith("unix://"):
        raise ConfigError(f"redis.url: mode {r.mode} needs a redis:// or rediss:// URL")
    database = r.url.split("://", 1)[1].partition("/")[2].partition("?")[0]
    if r.mode == "cluster" and database not in ("", "0"):
        raise ConfigError("redis.url: a Redis Cluster has only database 0")
    if r.mode == "sentinel":
        if not r.sentinels:
            raise ConfigError("redis.sentinels: mode sentinel needs at least one host:port")
        for address in r.sentinels:
            host, _, port = address.rpartition(":")
            if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
                raise ConfigError(f"redis.sentinels: {address!r} is not host:port")
        if not r.sentinel_master:
            raise ConfigError("redis.sentinel_master: must not be empty in mode sentinel")


def _validate(s: Settings) -> None:
    """What spans several keys, or needs more than a type and a range."""
    for proxy in s.protection.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(
                f"protection.trusted_proxies: {proxy!r} is not an address or CIDR"
            ) from None
    if s.metrics.port and s.metrics.port == s.server.port:
        raise ConfigError("metrics.port: must differ from server.port (0: on the same listener)")
    if s.metrics.token != s.metrics.token.strip() or any(c < " " for c in s.metrics.token):
        raise ConfigError("metrics.token: no spaces around it and no control characters")
    if s.admin.port and s.admin.port in (s.server.port, s.metrics.port):
        raise ConfigError("admin.port: must differ from server.port and metrics.port")
    if s.server.max_requests_in_flight_per_address > s.server.max_requests_in_flight:
        raise ConfigError(
            "server.max_requests_in_flight_per_address: larger than server.max_requests_in_flight"
        )
    if s.redis.mode == "cluster" and s.server.max_requests_in_flight > CLUSTER_HEADROOM:
        # The Cluster client cannot wait for a connection: keep what one worker can ask of a
        # node at once below its per-node pool (CLUSTER_CONNECTIONS).
        raise ConfigError(
            f"server.max_requests_in_flight: at most {CLUSTER_HEADROOM} with redis.mode cluster"
        )
    if s.database.pool_min_size > s.database.pool_max_size:
        raise ConfigError("database.pool_min_size: larger than database.pool_max_size")
    if s.password_hashing.memory_cost < 8 * s.password_hashing.parallelism:
        raise ConfigError("password_hashing.memory_cost: argon2 needs at least 8 KiB per lane")
    _check_issuer(s.tokens.issuer)
    for origin in s.cors.origins:
        _check_origin(origin)
    _check_url("database.url", s.database.url, ("postgres://", "postgresql://"))
    _check_url("redis.url", s.redis.url, ("redis://", "rediss://", "unix://"))
    _validate_redis_topology(s.redis)
    for key, prefix in (
        ("api.backoffice_prefix", s.api.backoffice_prefix),
        ("api.storefront_prefix", s.api.storefront_prefix),
    ):
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ConfigError(f"{key}: must start with '/' and not end with one")
    prefix = s.authorize.backoffice_prefix
    # Empty would put the back-office pages on the storefront's path.
    if not prefix.startswith("/") or prefix.endswith("/"):
        raise ConfigError("authorize.backoffice_prefix: must start with '/' and not end with one")


def from_mapping(
    raw: Any,
    env: typing.Mapping[str, str] | None = None,
    overrides: typing.Mapping[str, typing.Mapping[str, Any]] | None = None,
) -> Settings:
    """Settings from config.yml's mapping, then the environment, then `overrides` (the
    command line's flags) on top. tokens.issuer left empty is derived from the listener."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("config: expected a mapping at the top level")
    env_raw, sources = _from_env(env or {})
    layers = [raw, _typed_env(env_raw, sources), {k: dict(v) for k, v in (overrides or {}).items()}]
    for layer in layers:
        for name, section in layer.items():
            if section is not None and not isinstance(section, dict):
                raise ConfigError(f"{name}: expected a mapping")
    merged = _merge(*({k: v for k, v in layer.items() if v is not None} for layer in layers))
    tokens = merged.get("tokens", {})
    derive = not tokens.get("issuer")
    if derive:
        merged["tokens"] = {**tokens, "issuer": "http://localhost"}  # replaced below
    try:
        settings = msgspec.convert(merged, Settings)
    except msgspec.ValidationError as exc:
        raise _explain(exc, merged, sources) from None
    if derive:
        settings = replace(settings, tokens={"issuer": derived_issuer(settings.server)})
    _validate(settings)
    return settings


def load(
    path: str | Path,
    env: typing.Mapping[str, str] | None = None,
    overrides: typing.Mapping[str, typing.Mapping[str, Any]] | None = None,
    required: bool = True,
) -> Settings:
    """Settings from the file at `path`; if it does not exist and is not `required`, from
    the defaults (and the environment)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(f"cannot read {path}: No such file or directory") from None
        text = ""
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return from_mapping(raw, os.environ if env is None else env, overrides)


def replace(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """A copy with some keys of some sections changed (tests and the dev runner use it)."""
    changed = {
        name: msgspec.structs.replace(getattr(settings, name), **values)
        for name, values in sections.items()
    }
    return msgspec.structs.replace(settings, **changed)


__all__ = [
    "EMBEDDED",
    "ConfigError",
    "Settings",
    "derived_issuer",
    "env_names",
    "env_variables",
    "from_mapping",
    "issuer_mismatch",
    "load",
    "replace",
]
