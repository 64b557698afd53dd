"""Served processes: start one, wait until all its workers listen, find the workers, stop
it. Linux only, like wrk: readiness and memory come from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench import cpu

LISTEN = "0A"  # the TCP_LISTEN state in /proc/net/tcp


class ProcessError(Exception):
    """A served process did not start; the message carries its log's tail."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listeners(port: int) -> int:
    """Sockets listening on `port`: one per worker of bench.bare (each binds with
    SO_REUSEPORT); one for the service, whose gunicorn arbiter shares its socket."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == LISTEN and int(fields[1].rsplit(":", 1)[1], 16) == port:
                count += 1
    return count


def children(pid: int) -> list[int]:
    return sorted(child for child, (parent, _, _) in cpu.processes().items() if parent == pid)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise ProcessError(f"no VmRSS for pid {pid}")


class Served:
    """A server command whose N workers share `port`."""

    def __init__(
        self,
        argv: list[str],
        port: int,
        workers: int,
        log: Path,
        env: dict[str, str],
        sockets: int | None = None,
    ):
        self.argv, self.port, self.workers, self.log, self.env = argv, port, workers, log, env
        # Listening sockets once every worker serves: one each by default.
        self.sockets = workers if sockets is None else sockets
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                self.argv, stdout=out, stderr=subprocess.STDOUT, env=self.env
            )
        deadline = time.monotonic() + timeout
        while listeners(self.port) < self.sockets or len(self.worker_pids()) < self.workers:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ProcessError(f"{' '.join(self.argv[1:4])} did not start:\n{self.tail()}")
            time.sleep(0.05)

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc else 0

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid) if self.proc else []

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        """SIGTERM to the parent, which stops and joins its workers; if it hangs, SIGKILL its
        workers (looked up while they are still its children) and then the parent."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                for pid in self.worker_pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                self.proc.kill()
                self.proc.wait()
        self.proc = None
