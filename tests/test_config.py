"""config.yml: documented defaults, env overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.config import (
    ConfigError,
    Settings,
    env_names,
    from_mapping,
    issuer_mismatch,
    load,
    replace,
    unknown_env,
)

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
        ({"server": {"port": 70000}}, "server.port"),
        ({"server": {"port": 0}}, "server.port"),
        ({"server": {"port": "8080"}}, "server.port"),
        ({"server": {"workers": -1}}, "server.workers"),
        ({"database": {"timeout": 0}}, "database.timeout"),
        ({"database": {"pgbouncer": "yes"}}, "database.pgbouncer"),
        ({"redis": {"mode": "ring"}}, "redis.mode"),
        ({"tokens": {"issuer": "not a url"}}, "tokens.issuer"),
        ({"tokens": {"issuer": "https://auth.example/?tenant=1"}}, "tokens.issuer"),
        ({"tokens": {"keys_dir": ""}}, "tokens.keys_dir"),
        ({"cors": {"origins": ["https://shop.example/"]}}, "cors.origins"),
        ({"cors": {"origins": ["https://shop.example", 3]}}, "cors.origins"),
        ({"password_hashing": {"threads": -1}}, "password_hashing.threads"),
        ({"logging": {"level": "loud"}}, "logging.level"),
        ({"logging": {"colour": True}}, "logging.colour"),
        ({"tokens": {"refresh_reuse_interval": -1}}, "tokens.refresh_reuse_interval"),
        ({"cors": {"allow_headers": ["X-Foo", "Bad Header"]}}, "cors.allow_headers"),
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


def test_the_issue_s_examples_say_what_is_wrong() -> None:
    with pytest.raises(ConfigError) as port:
        from_mapping({"server": {"port": 70000}}, {})
    assert str(port.value) == "server.port: expected int <= 65535, got 70000"
    with pytest.raises(ConfigError) as algorithm:
        from_mapping({"tokens": {"algorithm": "HS256"}}, {})
    assert str(algorithm.value) == (
        "tokens.algorithm: expected one of RS256, ES256, EdDSA, got 'HS256'"
    )


def test_every_key_has_one_environment_name_by_the_rule() -> None:
    names = env_names()
    sections = Settings.__struct_fields__
    expected = sum(len(getattr(Settings(), s).__struct_fields__) for s in sections)
    assert len(names) == expected  # no two keys share a name
    assert names["SERVICE_DATABASE_URL"] == ("database", "url")
    assert names["SERVICE_REDIS_URL"] == ("redis", "url")
    assert names["SERVICE_METRICS_TOKEN"] == ("metrics", "token")
    assert names["SERVICE_PASSWORD_HASHING_TIME_COST"] == ("password_hashing", "time_cost")
    assert names["SERVICE_LOGGING_LEVEL"] == ("logging", "level")


def test_set_variables_that_name_no_setting_are_found() -> None:
    env = {
        "SERVICE_SERVER_PROT": "9000",  # misspelt
        "SERVICE_SERVER_PORT": "9000",
        "SERVICE_ISSUER": "https://auth.example",  # an older name, still read
        "SERVICE_TOKENS_LIFETIME": "",  # empty counts as unset
        "MY_SERVICE_HOST": "x",
        "SERVICE_DATABSE_URL": "postgresql://x",
    }
    assert unknown_env(env) == ["SERVICE_DATABSE_URL", "SERVICE_SERVER_PROT"]


def test_environment_values_take_each_key_s_type() -> None:
    env = {
        "SERVICE_SERVER_PORT": "9000",
        "SERVICE_SERVER_QUEUE_TIMEOUT": "0.5",
        "SERVICE_DATABASE_PGBOUNCER": "true",
        "SERVICE_CORS_ORIGINS": "https://a.example, https://b.example",
        "SERVICE_PASSWORD_HASHING_TIME_COST": "3",
        "SERVICE_LOGGING_LEVEL": "debug",
        "SERVICE_API_STOREFRONT_PREFIX": "",  # empty: unset
    }
    s = from_mapping({"server": {"port": 8000}, "database": {"pgbouncer": False}}, env)
    assert s.server.port == 9000
    assert s.server.queue_timeout == 0.5
    assert s.database.pgbouncer is True
    assert s.cors.origins == ("https://a.example", "https://b.example")
    assert s.password_hashing.time_cost == 3
    assert s.logging.level == "debug"
    assert s.api.storefront_prefix == "/storefront/api"


def test_the_older_variable_names_still_work_and_the_rule_wins() -> None:
    env = {
        "SERVICE_ISSUER": "https://auth.example",
        "SERVICE_KEYS_DIR": "/keys",
        "SERVICE_TRUSTED_PROXIES": "10.0.0.0/8,192.168.0.0/16",
    }
    s = from_mapping({}, env)
    assert s.tokens.issuer == "https://auth.example"
    assert s.tokens.keys_dir == "/keys"
    assert s.protection.trusted_proxies == ("10.0.0.0/8", "192.168.0.0/16")
    s = from_mapping({}, {**env, "SERVICE_TOKENS_ISSUER": "https://sso.example"})
    assert s.tokens.issuer == "https://sso.example"


def test_a_bad_environment_value_names_the_key_and_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        from_mapping({}, {"SERVICE_SERVER_PORT": "eighty"})
    assert str(caught.value).startswith("server.port: ")
    assert "SERVICE_SERVER_PORT" in str(caught.value)
    with pytest.raises(ConfigError, match=r"server\.port: .*SERVICE_SERVER_PORT"):
        from_mapping({}, {"SERVICE_SERVER_PORT": "70000"})


def test_without_a_config_file_every_key_has_its_default(tmp_path: Path) -> None:
    assert load(tmp_path / "config.yml", env={}, required=False) == Settings()
    s = load(tmp_path / "config.yml", env={"SERVICE_SERVER_PORT": "9001"}, required=False)
    assert s.server.port == 9001


def test_the_issuer_follows_the_listener_unless_it_is_set() -> None:
    assert from_mapping({}, {}).tokens.issuer == "http://localhost:8080"
    assert from_mapping({"server": {"port": 9000}}, {}).tokens.issuer == "http://localhost:9000"
    assert from_mapping({}, {}, {"server": {"port": 9100}}).tokens.issuer == (
        "http://localhost:9100"
    )
    listener = {"host": "10.1.2.3", "port": 9000}
    assert from_mapping({"server": listener}, {}).tokens.issuer == "http://10.1.2.3:9000"
    set_ = {"server": {"port": 9000}, "tokens": {"issuer": "https://auth.example"}}
    assert from_mapping(set_, {}).tokens.issuer == "https://auth.example"


def test_a_localhost_issuer_on_another_port_is_a_mismatch() -> None:
    s = Settings()
    assert issuer_mismatch(s) is None
    assert "9000" in (issuer_mismatch(replace(s, server={"port": 9000})) or "")
    public = replace(s, server={"port": 9000}, tokens={"issuer": "https://auth.example"})
    assert issuer_mismatch(public) is None  # a balancer may sit in front
    elsewhere = replace(s, server={"host": "10.1.2.3"})
    assert "10.1.2.3" in (issuer_mismatch(elsewhere) or "")


def test_settings_stay_frozen() -> None:
    s = Settings()
    with pytest.raises(AttributeError):
        s.server.port = 1  # type: ignore[misc]
    assert replace(s, server={"port": 9000}).server.port == 9000
    assert s.server.port == 8080
