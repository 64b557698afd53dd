"""Where the CPU went: the service's workers, Postgres, Redis, wrk, and anything else on
the machine, from /proc (Linux only, like wrk). On two shared cores, a row's rate is
bounded by all of them together, so a row that misses its target is explained by them."""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
SERVERS = ("postgres", "redis-server")  # busy with our load (or, rarely, someone else's)


def processes() -> dict[int, tuple[int, str, int]]:
    """pid -> (parent pid, command name, CPU ticks used so far)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        found[int(entry.name)] = (int(fields[1]), name, int(fields[11]) + int(fields[12]))
    return found


class ForeignLoad(threading.Thread):
    """Samples, once a second, the CPU used by processes that are neither this bench's
    descendants nor the database servers: someone else's work, which every row would pay
    for. Processes that live less than a second are missed, so it errs low."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self._halt = threading.Event()
        self._seen: dict[int, int] = {}  # pid -> ticks when first seen
        self._used: dict[int, int] = {}  # pid -> ticks used since
        self._names: dict[int, str] = {}
        self._began = time.monotonic()

    def _sample(self) -> None:
        table = processes()
        for pid, (_, name, ticks) in table.items():
            if name in SERVERS or _descends(pid, os.getpid(), table):
                continue
            self._seen.setdefault(pid, ticks)
            self._used[pid] = ticks - self._seen[pid]
            self._names[pid] = name

    def run(self) -> None:
        while not self._halt.wait(1.0):
            self._sample()

    def stop(self) -> dict[str, float]:
        """The foreign CPU, as fractions of all cores over the sampled time: in total and
        by command name (the busiest five)."""
        self._halt.set()
        self.join()
        capacity = (time.monotonic() - self._began) * TICKS * (os.cpu_count() or 1)
        by_name: dict[str, int] = {}
        for pid, ticks in self._used.items():
            by_name[self._names[pid]] = by_name.get(self._names[pid], 0) + ticks
        busiest = sorted(by_name.items(), key=lambda item: -item[1])[:5]
        shares = {"total": sum(by_name.values())} | {name: ticks for name, ticks in busiest}
        return {
            name: round(ticks / capacity, 3)
            for name, ticks in shares.items()
            if name == "total" or ticks / capacity >= 0.005
        }


def _descends(pid: int, ancestor: int, table: dict[int, tuple[int, str, int]]) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        pid = table[pid][0] if pid in table else 0
    return False


def _waited_children_ticks() -> int:
    """CPU of the children this process has waited for: wrk, once a row is over."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return round((usage.ru_utime + usage.ru_stime) * TICKS)


@dataclass
class Split:
    """A snapshot to measure from; `cores()` gives the CPU used since, in cores."""

    service: int  # pid of the served parent: its descendants are the service
    table: dict[int, tuple[int, str, int]]
    waited: int
    began: float

    @classmethod
    def start(cls, service: int) -> Split:
        return cls(service, processes(), _waited_children_ticks(), time.monotonic())

    def cores(self) -> dict[str, float]:
        after = processes()
        groups = {"service": 0, "postgres": 0, "redis": 0, "wrk": 0, "other": 0}
        # wrk has exited and been waited for by now: its CPU is in our children's rusage.
        groups["wrk"] = _waited_children_ticks() - self.waited
        for pid, (_, name, ticks) in after.items():
            used = ticks - self.table[pid][2] if pid in self.table else ticks
            if _descends(pid, self.service, after):
                groups["service"] += used
            elif name == "postgres":
                groups["postgres"] += used
            elif name == "redis-server":
                groups["redis"] += used
            elif pid != os.getpid():
                groups["other"] += used
        seconds = time.monotonic() - self.began
        return {k: round(v / TICKS / seconds, 2) for k, v in groups.items()}
