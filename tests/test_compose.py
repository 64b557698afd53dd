"""docker-compose.yml and the Dockerfile agree with config.yml and the command line."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

from service.cli import main
from service.config import env_variables, from_mapping

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_ENV = ("SERVICE_DATABASE_URL", "SERVICE_REDIS_URL", "SERVICE_KEYS_DIR")


def load_yaml(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_yaml("docker-compose.yml")


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = compose["services"]
    return found


def test_docker_compose_config_accepts_the_file() -> None:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.skip("docker-compose is not on PATH (apt-get install docker-compose)")
    result = subprocess.run(
        [exe, "-f", "docker-compose.yml", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _ports(spec: Any) -> tuple[int, int]:
    """(published, target) of a short ("[ip:]8080:8080") or long port entry."""
    if isinstance(spec, dict):
        return int(spec["published"]), int(spec["target"])
    *_, published, target = str(spec).split(":")
    return int(published), int(target.split("/")[0])


def test_only_the_balancer_publishes_the_configured_port(services: dict[str, Any]) -> None:
    port = load_yaml("config.yml")["server"]["port"]
    assert [_ports(p) for p in services["balancer"]["ports"]] == [(port, port)]
    assert [name for name, s in services.items() if s.get("ports")] == ["balancer"]


def test_service_runs_replicas_behind_a_health_checked_balancer(
    services: dict[str, Any],
) -> None:
    port = load_yaml("config.yml")["server"]["port"]
    service, balancer = services["service"], services["balancer"]
    assert service["deploy"]["replicas"] >= 2
    assert f"http://127.0.0.1:{port}/health/ready" in " ".join(service["healthcheck"]["test"])
    assert balancer["depends_on"]["service"] == {"condition": "service_healthy"}
    mounted = {v.split(":")[0]: v.split(":")[1] for v in balancer["volumes"]}
    assert mounted["./deploy/haproxy.cfg"] == "/usr/local/etc/haproxy/haproxy.cfg"


def test_haproxy_config_targets_the_service_replicas() -> None:
    port = load_yaml("config.yml")["server"]["port"]
    config = (ROOT / "deploy" / "haproxy.cfg").read_text(encoding="utf-8")
    lines = {line.strip() for line in config.splitlines()}
    assert f"bind :{port}" in lines
    assert "option httpchk GET /health/ready" in lines
    assert "option redispatch 1" in lines
    assert any(line.startswith("retries ") for line in lines)
    # Docker's DNS names every replica of the compose service "service".
    assert re.search(rf"^\s*server-template \S+ \d+ service:{port} ", config, re.M)


def test_haproxy_accepts_its_config() -> None:
    exe = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(exe).exists():
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    result = subprocess.run(
        [exe, "-c", "-f", str(ROOT / "deploy" / "haproxy.cfg")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def parsed(args: list[str]) -> dict[str, Any]:
    """How the command line parses `args`, running nothing: the command's path under
    "command", and the value of every option of each level."""
    ctx = main.make_context("python -m service", list(args))
    found: dict[str, Any] = {"command": [], **ctx.params}
    command: click.Command = main
    # What a group leaves for its subcommand (click keeps the name apart from the rest).
    rest = [*ctx._protected_args, *ctx.args]
    while isinstance(command, click.Group) and rest:
        name, sub, rest = command.resolve_command(ctx, rest)
        assert name is not None and sub is not None
        ctx = sub.make_context(name, rest, parent=ctx)
        found["command"].append(name)
        found.update(ctx.params)
        command, rest = sub, [*ctx._protected_args, *ctx.args]
    return found


def test_service_command_parses(services: dict[str, Any]) -> None:
    args = parsed(services["service"]["command"])
    assert (args["command"], args["host"], args["config"]) == (
        ["serve"],
        "0.0.0.0",  # noqa: S104
        "/app/config.yml",
    )
    assert args["port"] is None  # config.yml's server.port, which the balancer targets


def test_environment_names_are_config_overrides(services: dict[str, Any]) -> None:
    for name in ("init", "service"):
        env = services[name]["environment"]
        assert set(COMPOSE_ENV) <= set(env), name
        unknown = {k for k in env if k.startswith("SERVICE_")} - set(env_variables())
        assert not unknown, f"{name}: not a variable service.config reads: {unknown}"
    assert set(COMPOSE_ENV) <= set(env_variables())


def test_environment_names_config_keys_and_services(services: dict[str, Any]) -> None:
    """Each override names a key config.yml documents; the URLs name compose services."""
    config = load_yaml("config.yml")
    env = services["service"]["environment"]
    for name in env:
        section, key = env_variables()[name]
        assert key in config[section], f"{name}: config.yml has no {section}.{key}"
    for name in ("SERVICE_DATABASE_URL", "SERVICE_REDIS_URL"):
        assert urlsplit(env[name]).hostname in services, name
    settings = from_mapping(config, {k: str(v) for k, v in env.items() if "${" not in str(v)})
    assert settings.protection.trusted_proxies


def test_redis_appends_only(services: dict[str, Any]) -> None:
    command = services["redis"]["command"]
    args = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    assert "--appendonly" in args
    assert args[args.index("--appendonly") + 1] == "yes"


def test_keys_are_written_by_init_and_read_only_in_service(services: dict[str, Any]) -> None:
    assert "keys:/keys" in services["init"]["volumes"]
    assert "keys:/keys:ro" in services["service"]["volumes"]
    assert services["service"]["environment"]["SERVICE_KEYS_DIR"] == "/keys"
    assert services["service"]["depends_on"]["init"] == {
        "condition": "service_completed_successfully"
    }
    for store in ("postgres", "redis"):
        assert services["init"]["depends_on"][store] == {"condition": "service_healthy"}


def test_init_script_commands_parse(services: dict[str, Any]) -> None:
    script = " ".join(services["init"]["command"])
    calls = re.findall(r"python -m service ([^;]+)", script)
    assert len(calls) == 2
    commands = [parsed(shlex.split(call)) for call in calls]
    assert [c["command"] for c in commands] == [["migrate"], ["keys", "generate"]]


def _instruction(dockerfile: str, name: str) -> list[str]:
    match = re.search(rf"^{name} (\[.*\])$", dockerfile, re.M)
    assert match, f"Dockerfile: no {name} in exec (JSON) form"
    args: list[str] = json.loads(match.group(1))
    return args


def test_dockerfile_command_parses() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert _instruction(dockerfile, "ENTRYPOINT") == ["python", "-m", "service"]
    args = parsed(_instruction(dockerfile, "CMD"))
    assert (args["command"], args["host"], args["config"]) == (
        ["serve"],
        "0.0.0.0",  # noqa: S104
        "/app/config.yml",
    )
