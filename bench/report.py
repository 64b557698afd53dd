"""The one table (Markdown, so it pastes into a closing note) and bench-results.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.wrk import Result


@dataclass
class Row:
    name: str
    value: str  # req/s, or the measurement for the memory rows
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int | None = None
    ratio: float | None = None  # to this row's ceiling
    target: str = ""
    met: bool | None = None  # None: no target, or nothing measured
    failed: str = ""  # why the row could not be measured; makes the bench exit non-zero
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_result(
        cls, name: str, result: Result, ceiling: float | None, target: str, met: bool | None
    ) -> Row:
        return cls(
            name=name,
            value=f"{result.rps:,.0f}",
            p50_ms=result.latency_ms["p50"],
            p99_ms=result.latency_ms["p99"],
            errors=result.errors,
            ratio=result.rps / ceiling if ceiling else None,
            target=target,
            met=met,
            failed=f"{result.errors} errors {result.error_detail}" if result.errors else "",
            data=result.as_dict(),
        )

    def cores(self, used: dict[str, float]) -> None:
        """Note the cores each party used during the row: on shared cores, the service's
        rate is what the others leave it."""
        self.data["cores"] = used
        self.note = "cores: " + ", ".join(f"{k} {v:.2f}" for k, v in used.items() if v >= 0.01)

    @classmethod
    def not_run(cls, name: str, why: str, target: str = "", failed: bool = False) -> Row:
        return cls(name=name, value="n/a", target=target, note=why, failed=why if failed else "")


HEADER = ("endpoint", "req/s", "p50 ms", "p99 ms", "errors", "ratio", "target", "met")


def _cells(row: Row) -> tuple[str, ...]:
    def num(value: float | None, fmt: str) -> str:
        return "" if value is None else format(value, fmt)

    met = {True: "yes", False: "NO", None: ""}[row.met]
    if row.failed:
        met = "FAILED"
    return (
        row.name,
        row.value,
        num(row.p50_ms, ".2f"),
        num(row.p99_ms, ".2f"),
        "" if row.errors is None else str(row.errors),
        num(row.ratio, ".2f"),
        row.target,
        met,
    )


def table(rows: list[Row]) -> str:
    cells = [HEADER, *(_cells(r) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    right = {1, 2, 3, 4, 5}  # numbers line up on the right

    def line(values: tuple[str, ...]) -> str:
        padded = (
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    dashes = ("-" * (w + 1) + ":" if i in right else "-" * (w + 2) for i, w in enumerate(widths))
    rule = "|" + "|".join(dashes) + "|"
    return "\n".join([line(HEADER), rule, *(line(c) for c in cells[1:])])


def notes(rows: list[Row]) -> str:
    return "\n".join(f"- {r.name}: {r.failed or r.note}" for r in rows if r.failed or r.note)


def write_json(path: Path, meta: dict[str, Any], rows: list[Row], extra: dict[str, Any]) -> None:
    document = {"meta": meta, "rows": [asdict(r) for r in rows], **extra}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
