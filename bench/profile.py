"""Optional (--profile): py-spy samples every service worker while a row runs, and the
stacks are folded into the functions that take the time. Sampling stops the workers many
times a second, so a profiled run's numbers are lower than a plain run's."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    """The venv's own (`.venv/bin/pip install py-spy`), else one on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


def start(pids: list[int], seconds: int, folder: Path, label: str) -> list[subprocess.Popen[bytes]]:
    exe = py_spy()
    if exe is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    spies = []
    for pid in pids:
        argv = [exe, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250"]
        argv += ["--format", "raw", "--output", str(folder / f"{label}-{pid}.txt")]
        spies.append(
            subprocess.Popen(  # noqa: S603 - py-spy on our own workers
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        )
    return spies


def finish(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.wait(60)


ROOT = str(Path(__file__).resolve().parents[1]) + "/"
ENTRY = ("service/__main__.py", "service/server.py")  # on every stack: says nothing
# A thread pool worker with nothing above it waits for work; py-spy does not always see
# that as idle.
IDLE = {"_worker (concurrent/futures/thread.py)"}


def _short(frame: str) -> str:
    """`name (.../site-packages/pkg/mod.py:12)` -> `name (pkg/mod.py)`."""
    match = FRAME.match(frame)
    if match is None:
        return frame
    file = match["file"]
    for marker in ("site-packages/", ROOT, "lib/python3.11/", "lib/python3.12/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match['func']} ({file})"


def fold(files: list[Path], top: int = 15) -> dict[str, list[tuple[str, float]]]:
    """The functions with the most samples on top of the stack (self: where the CPU is),
    and the service's own functions by samples anywhere in the stack (inclusive: which
    step of a request costs what), as percentages of all samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for path in files:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_short(f) for f in stack.split(";")]
            if frames[-1] in IDLE:
                continue
            total += count
            own[frames[-1]] += count
            for frame in set(frames):
                if "(service/" in frame and not frame.endswith(tuple(f"{e})" for e in ENTRY)):
                    inclusive[frame] += count
    if not total:
        return {"self": [], "inclusive": []}
    pct = 100 / total
    return {
        "self": [(f, round(n * pct, 1)) for f, n in own.most_common(top)],
        "inclusive": [(f, round(n * pct, 1)) for f, n in inclusive.most_common(top)],
    }
