"""make bench [QUICK=1] [ALG=ES256] [PROFILE=api,refresh]: the token service under wrk,
next to its two ceilings and the targets of issue 7.

In order: the hash-bound ceiling (argon2id verifies in this process, before anything else
runs), the bare-aiohttp ceiling, a throwaway database and Redis key prefix, seed data
through the service's CLI, the service with 2 workers, one probe request per workload,
each row under wrk, and memory last. Prints one table, writes bench-results.json, cleans
up, and exits 1 if a row could not be measured cleanly (errors, a failed probe, refresh
tokens running out) - not for a missed target: that is a finding, not a failure."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import infra, probes, procs, profile, report, wrk
from bench.run import FULL, QUICK, Bench

BUSY = 0.05  # above this share of the cores, other work skews the rows
ROWS = ("password", "api", "paced", "guest", "refresh", "code", "client_credentials")
ROWS += ("introspection", "flood")
PROFILABLE = (
    "bare",
    "password",
    "api",
    "guest",
    "refresh",
    "code",
    "client_credentials",
    "introspection",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="1 s per row, few connections (CI)")
    p.add_argument("--seconds", type=int, help="override the seconds per row")
    p.add_argument("--config", type=Path, default=Path("config.yml"), help="base config.yml")
    p.add_argument("--algorithm", choices=["RS256", "ES256", "EdDSA"], help="signing key type")
    p.add_argument("--output", type=Path, default=Path("bench-results.json"))
    p.add_argument("--profile", default="", help=f"rows to sample with py-spy: {PROFILABLE}")
    p.add_argument("--rows", default="", help=f"only these rows (and the ceilings): {ROWS}")
    return p.parse_args(argv)


def print_profiles(found: dict[str, Any]) -> None:
    for label, folded in found.get("profiles", {}).items():
        print(f"\npy-spy, {label} row (% of samples; stacks in {found['profile_dir']}):")
        for kind in ("self", "inclusive"):
            print(f"  {kind}:")
            for frame, pct in folded[kind]:
                print(f"    {pct:5.1f}%  {frame}")


def warn_if_shared(foreign: dict[str, float]) -> None:
    """Say how much of the machine other processes took: each row reads low by about that."""
    total = foreign.get("total", 0.0)
    busiest = [f"{name} {share:.0%}" for name, share in foreign.items() if name != "total"]
    print(f"other processes used {total:.0%} of the cores meanwhile", *busiest, sep=" / ")
    if total > BUSY:
        print("warning: other work competed for the cores: every row reads low", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.seconds:
        plan = replace(plan, seconds=args.seconds)
    if not wrk.available():
        if not args.quick:
            print("bench: wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
            return 2
        print("bench: wrk is not installed: QUICK mode skips every wrk row", file=sys.stderr)
    labels = {p for p in args.profile.split(",") if p}
    if labels - set(PROFILABLE) or (labels and profile.py_spy() is None):
        print(f"bench: --profile takes {PROFILABLE} and needs py-spy", file=sys.stderr)
        return 2

    rows = {r for r in args.rows.split(",") if r}
    if rows - set(ROWS):
        print(f"bench: --rows takes {ROWS}", file=sys.stderr)
        return 2

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        bench = Bench(plan, args.config, args.algorithm, Path(tmp))
        if labels:
            bench.profile(labels)
        if rows:
            bench.only(rows)
        try:
            bench.run()
        except (infra.SetupError, probes.ProbeError, procs.ProcessError, wrk.WrkError) as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 2
    elapsed = time.monotonic() - began

    found = bench.profiles()
    print(report.table(bench.rows))
    print(report.notes(bench.rows))
    print_profiles(found)
    meta = bench.meta | {"mode": "quick" if args.quick else "full", "elapsed_s": round(elapsed)}
    report.write_json(args.output, meta, bench.rows, found)
    print(f"\n{meta['backends']}; {elapsed:.0f} s; results in {args.output}")
    warn_if_shared(meta.get("foreign_cpu", {}))
    return 1 if any(r.failed for r in bench.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
