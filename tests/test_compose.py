"""docker-compose.yml and the Dockerfile agree with config.yml and the command line."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.__main__ import parser
from service.config import ENV_OVERRIDES

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


def test_service_publishes_the_configured_port(services: dict[str, Any]) -> None:
    port = load_yaml("config.yml")["server"]["port"]
    assert [_ports(p) for p in services["service"]["ports"]] == [(port, port)]


def test_environment_names_are_config_overrides(services: dict[str, Any]) -> None:
    for name in ("init", "service"):
        env = services[name]["environment"]
        assert set(COMPOSE_ENV) <= set(env), name
        unknown = {k for k in env if k.startswith("SERVICE_")} - set(ENV_OVERRIDES)
        assert not unknown, f"{name}: not in service.config.ENV_OVERRIDES: {unknown}"
    assert set(COMPOSE_ENV) <= set(ENV_OVERRIDES)


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
    commands = [parser().parse_args(shlex.split(call)) for call in calls]
    assert [c.command for c in commands] == ["migrate", "keys"]


def _instruction(dockerfile: str, name: str) -> list[str]:
    match = re.search(rf"^{name} (\[.*\])$", dockerfile, re.M)
    assert match, f"Dockerfile: no {name} in exec (JSON) form"
    args: list[str] = json.loads(match.group(1))
    return args


def test_dockerfile_command_parses() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert _instruction(dockerfile, "ENTRYPOINT") == ["python", "-m", "service"]
    args = parser().parse_args(_instruction(dockerfile, "CMD"))
    assert (args.command, args.host, args.config) == ("serve", "0.0.0.0", "/app/config.yml")  # noqa: S104
