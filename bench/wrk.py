"""Running wrk with the bench's Lua scripts and reading the JSON line their done() prints."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

LUA = Path(__file__).with_name("lua")
MARKER = "BENCH_JSON "
POOLED = "{value}"  # in a body for lua/pool.lua: where each value of the pool goes


class WrkError(Exception):
    """wrk failed or printed no result line."""


def available() -> bool:
    return shutil.which("wrk") is not None


@dataclass(frozen=True)
class Load:
    """One wrk run: a script under lua/ and its key=value arguments."""

    url: str
    script: str
    connections: int
    seconds: int
    args: dict[str, str] = field(default_factory=dict)
    headers: tuple[str, ...] = ()

    @property
    def threads(self) -> int:
        # Two at most: the machine has two cores, and the server needs them too.
        return min(2, self.connections)

    def argv(self) -> list[str]:
        words = [f"{k}={v}" for k, v in self.args.items()]
        words += [f"header={h}" for h in self.headers]
        return [
            "wrk",
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{self.seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(LUA / self.script),
            self.url,
            "--",
            *words,
        ]


@dataclass(frozen=True)
class Result:
    requests: int
    seconds: float
    errors: int
    error_detail: dict[str, int]
    latency_ms: dict[str, float]
    threads: dict[str, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "errors": self.errors,
            "error_detail": self.error_detail,
            "latency_ms": self.latency_ms,
            "threads": self.threads,
        }


def start(load: Load) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - wrk with arguments built here
        load.argv(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen[str]) -> Result:
    stdout, stderr = proc.communicate()
    line = next((x for x in stdout.splitlines() if x.startswith(MARKER)), None)
    if proc.returncode != 0 or line is None:
        raise WrkError(f"wrk exited {proc.returncode}: {(stderr or stdout).strip()[-2000:]}")
    data = json.loads(line.removeprefix(MARKER))
    detail = {k: int(v) for k, v in data["errors"].items()}
    threads = {k: int(v) for k, v in data["threads"].items()}
    # wrk counts answers > 399 as status errors; where a script saw every answer (harvest
    # mode) its count of unexpected ones is used instead, so a 1xx/3xx would count too (or,
    # minting codes, a 2xx).
    status = max(detail["status"], threads["unexpected"])
    errors = status + sum(v for k, v in detail.items() if k != "status")
    latency = {k: round(float(v) / 1000, 3) for k, v in data["latency_us"].items()}
    return Result(
        requests=int(data["requests"]),
        seconds=int(data["duration_us"]) / 1e6,
        errors=errors,
        error_detail=detail,
        latency_ms=latency,
        threads=threads,
    )


def run(load: Load) -> Result:
    return finish(start(load))
