"""Optional (--profile): py-spy samples every service worker while a row runs, and the
stacks are folded into the functions that take the time. Sampling stops the workers many
times a second, so a profiled run's numbers are lower than a plain run's."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    return shutil.which("py-spy")


def start(pids: list[int], seconds: int, folder: Path, label: str) -> list[subprocess.Popen[bytes]]:
    exe = py_spy()
    if exe is None:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(  # noqa: S603 - py-spy on our own workers
            [exe, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250",
             "--format", "raw", "--output", str(folder / f"{label}-{pid}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for pid in pids
    ]


def finish(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.wait(60)


def _short(frame: str) -> str:
    """`name (path/site-packages/pkg/mod.py:12)` -> `name (pkg/mod.py)`."""
    match = FRAME.match(frame)
    if match is None:
        return frame
    file = match["file"]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{match['func']} ({file})"


def fold(files: list[Path], top: int = 15) -> dict[str, list[tuple[str, float]]]:
    """The functions with the most samples on top of the stack (self) and anywhere in it
    (inclusive), as percentages of all samples."""
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
            total += count
            own[frames[-1]] += count
            for frame in set(frames):
                inclusive[frame] += count
    if not total:
        return {"self": [], "inclusive": []}
    pct = 100 / total
    return {
        "self": [(f, round(n * pct, 1)) for f, n in own.most_common(top)],
        "inclusive": [(f, round(n * pct, 1)) for f, n in inclusive.most_common(top * 2)],
    }
