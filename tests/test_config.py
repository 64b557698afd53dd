"""config.yml: documented defaults, env overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import ConfigError, Settings, from_mapping, load

ROOT = Path(__file__).parent.parent


def test_shipped_config_yml_states_the_defaults() -> None:
    assert load(ROOT / "config.yml", env={}) == Settings()


def test_defaults_are_owasp_argon2id_and_oro_lifetimes() -> None:
    s = Settings()
    assert (s.password_hashing.memory_cost, s.password_hashing.time_cost) == (19456, 2)
    assert s.password_hashing.parallelism == 1
    assert s.tokens.access_token_lifetime == 3600
    assert s.tokens.refresh_token_lifetime == 2_592_000


def test_environment_overrides_urls() -> None:
    env = {
        "SERVICE_DATABASE_URL": "postgresql://u:p@db:5432/oauth",
        "SERVICE_REDIS_URL": "redis://cache:6379/0",
    }
    s = from_mapping({"database": {"url": "embedded"}}, env)
    assert s.database.url == "postgresql://u:p@db:5432/oauth"
    assert s.redis.url == "redis://cache:6379/0"


def test_the_metrics_token_comes_from_the_environment() -> None:
    s = from_mapping({}, {"SERVICE_METRICS_TOKEN": "scrape-me-0123456789"})
    assert s.metrics.token == "scrape-me-0123456789"
    assert "scrape-me" not in repr(s)


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"tokens": {"access_token_lifetime": -1}}, "tokens.access_token_lifetime"),
        ({"tokens": {"access_token_lifetime": "1h"}}, "tokens.access_token_lifetime"),
        ({"tokens": {"acess_token_lifetime": 10}}, "tokens.acess_token_lifetime"),
        ({"tokens": {"algorithm": "HS256"}}, "tokens.algorithm"),
        ({"server": {"port": True}}, "server.port"),
        ({"database": {"url": "mysql://x"}}, "database.url"),
        ({"database": {"pool_min_size": 5, "pool_max_size": 2}}, "database.pool_min_size"),
        ({"cors": {"origins": "https://a"}}, "cors.origins"),
        ({"api": {"backoffice_prefix": "api/"}}, "api.backoffice_prefix"),
        ({"password_hashing": {"memory_cost": 4}}, "password_hashing.memory_cost"),
        ({"nonsense": {}}, "nonsense"),
        ({"redis": "redis://x"}, "redis"),
        ({"protection": {"ipv6_prefix": 0}}, "protection.ipv6_prefix"),
        ({"protection": {"ipv6_prefix": 129}}, "protection.ipv6_prefix"),
        ({"protection": {"guest_logins_per_minute": -1}}, "protection.guest_logins_per_minute"),
        ({"metrics": {"port": 8080}}, "metrics.port"),
        ({"metrics": {"port": 70000}}, "metrics.port"),
        ({"metrics": {"token": "two words\n"}}, "metrics.token"),
    ],
)
def test_bad_config_names_the_key(raw: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        from_mapping(raw, {})


def test_unreadable_or_invalid_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(tmp_path / "missing.yml", env={})
    bad = tmp_path / "bad.yml"
    bad.write_text("server: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(bad, env={})
