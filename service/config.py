"""Typed, frozen settings loaded once from config.yml, with environment overrides."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from service.oauth.model import ALGORITHMS

ENV_OVERRIDES = {
    "SERVICE_DATABASE_URL": ("database", "url"),
    "SERVICE_REDIS_URL": ("redis", "url"),
    "SERVICE_ISSUER": ("tokens", "issuer"),
    "SERVICE_KEYS_DIR": ("tokens", "keys_dir"),
    "SERVICE_TRUSTED_PROXIES": ("protection", "trusted_proxies"),
    "SERVICE_METRICS_TOKEN": ("metrics", "token"),
}
# Overrides of list-valued keys: comma-separated.
ENV_LISTS = frozenset({"SERVICE_TRUSTED_PROXIES"})
EMBEDDED = "embedded"
# Connections per node of the Redis Cluster client, which fails a command rather than wait
# for one; requests in flight per worker stay below it by this much (health checks).
CLUSTER_CONNECTIONS = 1024
CLUSTER_HEADROOM = CLUSTER_CONNECTIONS - 24


class ConfigError(Exception):
    """A missing or bad key; the message names it."""


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 0
    max_body_bytes: int = 65536
    var_dir: str = "var"
    max_requests_in_flight: int = 256
    max_requests_in_flight_per_address: int = 64
    queue_timeout: float = 2.0


@dataclass(frozen=True)
class DatabaseSettings:
    url: str = EMBEDDED
    pool_min_size: int = 1
    pool_max_size: int = 10
    timeout: float = 5.0
    pgbouncer: bool = False


@dataclass(frozen=True)
class RedisSettings:
    url: str = EMBEDDED
    timeout: float = 2.0
    key_prefix: str = "oauth:"
    mode: str = "single"
    sentinels: tuple[str, ...] = ()
    sentinel_master: str = "mymaster"
    revocation_wait_ms: int = 200
    max_connections: int = 64
    pool_timeout: float = 1.0


@dataclass(frozen=True)
class TokenSettings:
    access_token_lifetime: int = 3600
    refresh_token_lifetime: int = 2_592_000
    guest_refresh_token_lifetime: int = 604_800
    issuer: str = "http://localhost:8080"
    keys_dir: str = "keys"
    algorithm: str = "RS256"
    leeway: int = 5
    key_activation_delay: int = 300
    keys_reload_interval: int = 60

    @property
    def longest_lifetime(self) -> int:
        """How long an index entry or a revocation marker must outlive its newest token."""
        refresh = max(self.refresh_token_lifetime, self.guest_refresh_token_lifetime)
        return max(self.access_token_lifetime, refresh) + self.leeway

    @property
    def visitor_lifetime(self) -> int:
        """How long a visitor row must outlive its newest token."""
        return max(self.access_token_lifetime, self.guest_refresh_token_lifetime) + self.leeway


@dataclass(frozen=True)
class PasswordHashingSettings:
    memory_cost: int = 19456
    time_cost: int = 2
    parallelism: int = 1
    threads: int = 0


@dataclass(frozen=True)
class CorsSettings:
    origins: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApiSettings:
    backoffice_prefix: str = "/api"
    storefront_prefix: str = "/storefront/api"


@dataclass(frozen=True)
class ProtectionSettings:
    failure_window: int = 900
    max_account_failures: int = 5
    lockout_time: int = 900
    max_address_failures: int = 100
    requests_per_minute: int = 600
    guest_logins_per_minute: int = 60
    ipv6_prefix: int = 64
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetricsSettings:
    host: str = ""  # "" = server.host
    port: int = 0  # 0 = /metrics on the main listener
    token: str = field(default="", repr=False)  # a secret: never in a repr or a log


@dataclass(frozen=True)
class MaintenanceSettings:
    cleanup_interval: int = 3600


@dataclass(frozen=True)
class Settings:
    server: ServerSettings = field(default_factory=ServerSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    redis: RedisSettings = field(default_factory=RedisSettings)
    tokens: TokenSettings = field(default_factory=TokenSettings)
    password_hashing: PasswordHashingSettings = field(default_factory=PasswordHashingSettings)
    cors: CorsSettings = field(default_factory=CorsSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    maintenance: MaintenanceSettings = field(default_factory=MaintenanceSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    protection: ProtectionSettings = field(default_factory=ProtectionSettings)


def _coerce(name: str, kind: Any, value: Any) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typing.get_origin(kind) is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name}: expected a list of strings")
        return tuple(value)
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if isinstance(kind, type) and (isinstance(value, bool) is not (kind is bool)):
        raise ConfigError(f"{name}: expected {kind.__name__}, got {value!r}")
    if isinstance(kind, type) and not isinstance(value, kind):
        raise ConfigError(f"{name}: expected {kind.__name__}, got {value!r}")
    return value


def _section(name: str, cls: Any, raw: Any) -> Any:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: expected a mapping")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{name}.{key}: unknown key")
    values = {k: _coerce(f"{name}.{k}", hints[k], v) for k, v in raw.items()}
    return cls(**values)


def _validate_redis_topology(r: RedisSettings) -> None:
    if r.mode not in ("single", "sentinel", "cluster"):
        raise ConfigError(f"redis.mode: expected single, sentinel or cluster, got {r.mode!r}")
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
    positive = {
        "server.port": s.server.port,
        "server.max_body_bytes": s.server.max_body_bytes,
        "server.max_requests_in_flight": s.server.max_requests_in_flight,
        "server.max_requests_in_flight_per_address": s.server.max_requests_in_flight_per_address,
        "redis.max_connections": s.redis.max_connections,
        "redis.pool_timeout": s.redis.pool_timeout,
        "database.pool_min_size": s.database.pool_min_size,
        "database.pool_max_size": s.database.pool_max_size,
        "tokens.access_token_lifetime": s.tokens.access_token_lifetime,
        "tokens.refresh_token_lifetime": s.tokens.refresh_token_lifetime,
        "tokens.guest_refresh_token_lifetime": s.tokens.guest_refresh_token_lifetime,
        "password_hashing.time_cost": s.password_hashing.time_cost,
        "password_hashing.parallelism": s.password_hashing.parallelism,
        "protection.failure_window": s.protection.failure_window,
        "protection.lockout_time": s.protection.lockout_time,
    }
    for key, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{key}: must be positive, got {value}")
    not_negative = {
        "tokens.leeway": s.tokens.leeway,
        "tokens.key_activation_delay": s.tokens.key_activation_delay,
        "tokens.keys_reload_interval": s.tokens.keys_reload_interval,
        "redis.revocation_wait_ms": s.redis.revocation_wait_ms,
        "server.queue_timeout": s.server.queue_timeout,
    }
    for key, value in not_negative.items():
        if value < 0:
            raise ConfigError(f"{key}: must not be negative, got {value}")
    zero_is_off = {
        "protection.max_account_failures": s.protection.max_account_failures,
        "protection.max_address_failures": s.protection.max_address_failures,
        "protection.requests_per_minute": s.protection.requests_per_minute,
        "protection.guest_logins_per_minute": s.protection.guest_logins_per_minute,
        "maintenance.cleanup_interval": s.maintenance.cleanup_interval,
    }
    for key, value in zero_is_off.items():
        if value < 0:
            raise ConfigError(f"{key}: must be 0 (off) or positive, got {value}")
    if not 1 <= s.protection.ipv6_prefix <= 128:
        raise ConfigError(
            f"protection.ipv6_prefix: must be between 1 and 128, got {s.protection.ipv6_prefix}"
        )
    for proxy in s.protection.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(
                f"protection.trusted_proxies: {proxy!r} is not an address or CIDR"
            ) from None
    if not 0 <= s.metrics.port < 65536:
        raise ConfigError(f"metrics.port: expected 0 (main listener) or a port: {s.metrics.port}")
    if s.metrics.port and s.metrics.port == s.server.port:
        raise ConfigError("metrics.port: must differ from server.port (0: on the same listener)")
    if s.metrics.token != s.metrics.token.strip() or any(c < " " for c in s.metrics.token):
        raise ConfigError("metrics.token: no spaces around it and no control characters")
    if s.server.workers < 0:
        raise ConfigError("server.workers: must be 0 (one per CPU) or positive")
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
    if s.tokens.algorithm not in ALGORITHMS:
        raise ConfigError(f"tokens.algorithm: unsupported {s.tokens.algorithm!r}")
    if not s.tokens.issuer:
        raise ConfigError("tokens.issuer: must not be empty")
    for key, url, schemes in (
        ("database.url", s.database.url, ("postgres://", "postgresql://")),
        ("redis.url", s.redis.url, ("redis://", "rediss://", "unix://")),
    ):
        if url != EMBEDDED and not url.startswith(schemes):
            raise ConfigError(f"{key}: expected {EMBEDDED!r} or a URL starting with {schemes[0]}")
    _validate_redis_topology(s.redis)
    for key, prefix in (
        ("api.backoffice_prefix", s.api.backoffice_prefix),
        ("api.storefront_prefix", s.api.storefront_prefix),
    ):
        if not prefix.startswith("/") or prefix.endswith("/"):
            raise ConfigError(f"{key}: must start with '/' and not end with one")


def from_mapping(raw: Any, env: typing.Mapping[str, str] | None = None) -> Settings:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("config: expected a mapping at the top level")
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for var, (section, key) in ENV_OVERRIDES.items():
        value = (env or {}).get(var)
        if value:
            raw.setdefault(section, {})
            if not isinstance(raw[section], dict):
                raise ConfigError(f"{section}: expected a mapping")
            if var in ENV_LISTS:
                raw[section][key] = [v.strip() for v in value.split(",") if v.strip()]
            else:
                raw[section][key] = value
    hints = typing.get_type_hints(Settings)
    known = {f.name for f in dataclasses.fields(Settings)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{key}: unknown section")
    settings = Settings(**{name: _section(name, hints[name], raw.get(name)) for name in known})
    _validate(settings)
    return settings


def load(path: str | Path, env: typing.Mapping[str, str] | None = None) -> Settings:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    return from_mapping(raw, os.environ if env is None else env)


def replace(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """A copy with some keys of some sections changed (tests and the dev runner use it)."""
    changed = {
        name: dataclasses.replace(getattr(settings, name), **values)
        for name, values in sections.items()
    }
    return dataclasses.replace(settings, **changed)


__all__ = ["EMBEDDED", "ConfigError", "Settings", "from_mapping", "load", "replace"]
