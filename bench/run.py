"""One bench run: what runs in which order, and which table row each measurement makes."""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec

from bench import ceilings, codes, cpu, infra, memory, probes, procs, profile, victim, wrk
from bench.probes import ENDPOINT
from bench.report import Row
from service.config import Settings

JSON_BODY = "Content-Type: application/json"
FORM_BODY = "Content-Type: application/x-www-form-urlencoded"
WORKERS = 2
# Refresh tokens are single use, so the pool must outlast the row: this many times what the
# guest grant (which mints them, at a similar cost per request) managed per second.
REFRESH_HEADROOM = 2.0
MIN_POOL = 500
NO_WRK = "skipped: wrk is not installed"
FLOOD_CONNECTIONS = 400  # issue 11: one address this wide made a third of others' calls fail

Judge = Callable[[wrk.Result], bool | None]


@dataclass(frozen=True)
class Plan:
    seconds: int  # per row
    password_connections: int  # enough to keep every hashing thread busy, no more
    connections: int  # every other row; issue 7 sets 32 for the API
    paced_connections: int  # the API load that runs beside the password grants
    paced_pause_ms: int
    verify_samples: int
    warmup_seconds: int


FULL = Plan(10, 16, 32, 8, 10, 40, 3)
QUICK = Plan(1, 4, 8, 2, 10, 5, 0)


class Bench:
    def __init__(self, plan: Plan, config: Path, algorithm: str | None, tmp: Path) -> None:
        self.plan, self.config, self.algorithm, self.tmp = plan, config, algorithm, tmp
        self.stack = contextlib.ExitStack()  # undoes every setup step, last first
        self.have_wrk = wrk.available()
        self.rows: list[Row] = []
        self.meta: dict[str, Any] = {}
        self.profiled: set[str] = set()
        self.profile_dir: Path | None = None
        self.workers: list[int] = []
        self.service_pid = 0  # whose descendants count as "service" in a row's CPU split
        self.bare_rate: float | None = None
        self.refresh_rate: float | None = None  # the code exchange's target
        self.rows_wanted: set[str] | None = None  # --rows: these workloads only
        self.live_tokens = 0  # issued and not revoked: what Redis must hold at the end

    def only(self, labels: set[str]) -> None:
        # The refresh row spends the guest row's refresh tokens.
        self.rows_wanted = labels | ({"guest"} if "refresh" in labels else set())

    def wanted(self, label: str) -> bool:
        """Ceilings come with their rows: bare with every row, api_io with api."""
        labels = self.rows_wanted
        return labels is None or label == "bare" or label.removesuffix("_io") in labels

    def profile(self, labels: set[str]) -> None:
        self.profiled = labels
        self.profile_dir = Path(tempfile.mkdtemp(prefix="bench-profile-"))

    # -- the run ---------------------------------------------------------------------

    def run(self) -> None:
        # Other work on the machine skews every row: measure how much there was.
        foreign = cpu.ForeignLoad()
        foreign.start()
        try:
            self._run()
        finally:
            self.meta["foreign_cpu"] = foreign.stop()

    def _run(self) -> None:
        with self.stack:
            backends = infra.pick_backends()
            database = self.stack.enter_context(infra.throwaway_database(backends.postgres))
            prefix = f"bench:{secrets.token_hex(4)}:"
            self.stack.callback(infra.delete_keys, backends.redis, prefix)
            port = procs.free_port()
            self.base = f"http://127.0.0.1:{port}"
            config = self.tmp / "config.yml"
            settings = infra.write_config(
                self.config,
                config,
                port=port,
                database=database,
                redis_url=backends.redis,
                prefix=prefix,
                tmp=self.tmp,
            )
            self.meta |= self.describe(settings, backends.origin)

            self.hash_ceiling(settings)
            self.bare_ceiling()
            seed = infra.prepare(infra.Cli(config), self.algorithm, codes.REDIRECT_URI)
            serve = ["serve", "--workers", str(WORKERS), "--port", str(port)]
            service = procs.Served(
                [sys.executable, "-m", "service", "--config", str(config), *serve],
                port,
                WORKERS,
                self.tmp / "service.log",
                infra.clean_env(),
                sockets=1,  # gunicorn's, shared by the workers
            )
            service.start()
            self.stack.callback(service.stop)
            self.service_pid = service.pid
            self.workers = service.worker_pids()
            found = probes.probe(self.base, seed, settings.api.backoffice_prefix)
            self.live_tokens += found.tokens_issued
            self.workloads(seed, found, settings)
            # Last, and with the service still up: what the run made the workers allocate.
            self.memory(backends.redis, prefix)

    def describe(self, settings: Settings, origin: str) -> dict[str, Any]:
        try:
            commit = subprocess.run(
                ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH
                capture_output=True,
                text=True,
                check=False,
            ).stdout.strip()
        except OSError:
            commit = ""
        return {
            "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "commit": commit,
            "plan": self.plan.__dict__,
            "backends": origin,
            "algorithm": self.algorithm or settings.tokens.algorithm,
            "password_hashing": msgspec.structs.asdict(settings.password_hashing),
            "workers": WORKERS,
        }

    # -- wrk rows --------------------------------------------------------------------

    def load(self, script: str = "request.lua", **fields: Any) -> wrk.Load:
        defaults: dict[str, Any] = {
            "connections": self.plan.connections,
            "seconds": self.plan.seconds,
        }
        return wrk.Load(url=self.base, script=script, **(defaults | fields))

    def post(self, body: dict[str, str], **fields: Any) -> wrk.Load:
        """A token request, in JSON as Oro's documentation shows it."""
        args = {"method": "POST", "path": ENDPOINT, "body": json.dumps(body)}
        return self.load(args=args | fields.pop("args", {}), headers=(JSON_BODY,), **fields)

    def drive(self, label: str, load: wrk.Load) -> tuple[wrk.Result, dict[str, float]]:
        """Run wrk; return its result and the cores each party used meanwhile. With
        --profile, py-spy samples every worker too."""
        spies = []
        if label in self.profiled and self.profile_dir:
            spies = profile.start(self.workers, load.seconds, self.profile_dir, label)
        split = cpu.Split.start(self.service_pid)
        try:
            result = wrk.run(load)
            return result, split.cores()
        finally:
            profile.finish(spies)

    def measured(
        self,
        label: str,
        name: str,
        load: wrk.Load,
        ceiling: float | None,
        target: str = "",
        judge: Judge = lambda r: None,
        tokens_each: int = 0,
    ) -> wrk.Result | None:
        """One table row from one wrk run; `judge` says whether it met the target, and each
        successful answer leaves `tokens_each` more live tokens in Redis."""
        if not self.wanted(label):
            return None
        if not self.have_wrk:
            self.rows.append(Row.not_run(name, NO_WRK, target))
            return None
        try:
            result, cores = self.drive(label, load)
        except wrk.WrkError as exc:
            self.rows.append(Row.not_run(name, str(exc), target, failed=True))
            return None
        row = Row.from_result(name, result, ceiling, target, judge(result))
        row.cores(cores)
        self.rows.append(row)
        self.issued(result, tokens_each)
        return result

    def issued(self, result: wrk.Result, tokens_each: int) -> None:
        # Answers still in flight when wrk stops are not counted: at most one per connection.
        self.live_tokens += tokens_each * (result.requests - result.errors)

    def hash_ceiling(self, settings: Settings) -> None:
        self.hash = ceilings.hash_ceiling(settings.password_hashing, self.plan.verify_samples)
        # Issue 16's ceiling: what the cores verify when all of them hash at once (each
        # verify takes longer then than alone: they share the memory bus and caches).
        note = (
            f"{self.hash.cores} threads hashing at once; one at a time t_verify "
            f"{self.hash.median_ms:.1f} ms (median of {self.hash.samples}), x "
            f"{self.hash.cores} cores = {self.hash.rate:,.0f}/s"
        )
        self.rows.append(
            Row(
                name=f"ceiling: argon2id verify, {self.hash.cores} cores at once",
                value=f"{self.hash.together:,.0f}",
                p50_ms=round(self.hash.median_ms, 2),
                p99_ms=round(self.hash.p99_ms, 2),
                ratio=1.0,
                note=note,
                data=self.hash.__dict__ | {"rate": self.hash.rate},
            )
        )

    def bare_ceiling(self) -> None:
        name = f"ceiling: bare aiohttp+uvloop, {WORKERS} workers"
        if not self.have_wrk:
            self.rows.append(Row.not_run(name, NO_WRK))
            return
        port = procs.free_port()
        bare = procs.Served(
            [sys.executable, "-m", "bench.bare", "--port", str(port), "--workers", str(WORKERS)],
            port,
            WORKERS,
            self.tmp / "bare.log",
            infra.clean_env(),
        )
        bare.start()
        self.service_pid = bare.pid
        try:
            load = replace(self.load(args={"path": "/"}), url=f"http://127.0.0.1:{port}")
            result = self.measured("bare", name, load, None)
        finally:
            bare.stop()
            self.service_pid = 0
        if result is not None:
            self.bare_rate = result.rps
            self.rows[-1].ratio = 1.0

    def workloads(self, seed: infra.Seed, found: probes.Probes, settings: Settings) -> None:
        plan, hash_rate, bare = self.plan, self.hash.together, self.bare_rate
        api_prefix = settings.api.backoffice_prefix
        backoffice = seed.backoffice
        login = probes.grant_body(
            backoffice, "password", username=seed.username, password=seed.password
        )
        password = self.post(login, connections=plan.password_connections)
        bearer = f"Authorization: Bearer {found.access_token}"
        api = self.load(
            args={"path": f"{api_prefix}/users/{seed.user_id}"},
            headers=(bearer, f"Accept: {probes.JSONAPI}"),
        )
        if plan.warmup_seconds and self.have_wrk:
            # Grows each worker's Postgres pool and fills its statement caches first.
            wrk.run(replace(api, seconds=plan.warmup_seconds))
        introspect = self.load(
            args={
                "method": "POST",
                "path": probes.INTROSPECT_PATH,
                "body": f"token={found.access_token}",
            },
            headers=(FORM_BODY, f"Authorization: {probes.basic(backoffice)}"),
        )
        api_io, introspect_io = self.io_ceilings(backoffice, api, introspect, api_prefix)

        logins = self.measured(
            "password",
            "password grant",
            password,
            hash_rate,
            "≥ 0.92 x its ceiling",
            lambda r: r.rps >= 0.92 * hash_rate,
            tokens_each=2,
        )
        if logins is not None:
            share = logins.rps / self.hash.rate
            self.rows[-1].note += f"; {share:.2f} of cores / t_verify (issue 7's ceiling)"
        self.measured(
            "api",
            f"GET {api_prefix}/users/{{id}} ({plan.connections} conn)",
            api,
            api_io,
            "≥ 0.85 x its I/O ceiling, p99 ≤ 10 ms",
            lambda r: api_io is not None and r.rps >= 0.85 * api_io and r.latency_ms["p99"] <= 10,
        )
        if self.wanted("paced"):
            self.api_under_password_load(password, api)
        harvest = {"harvest": str(self.tmp / "guest-")}
        guest = self.measured(
            "guest",
            "guest grant (visitor row each)",
            self.post(probes.guest_body(seed.storefront), args=harvest),
            bare,
            "≥ 1,500/s",
            lambda r: r.rps >= 1500,
            tokens_each=2,
        )
        if self.wanted("refresh"):
            self.refresh(seed.storefront, guest)
        if self.wanted("code"):
            self.code_exchange(seed, f"{settings.authorize.backoffice_prefix}{codes.AUTHORIZE}")
        self.optional(
            "client_credentials",
            "client_credentials grant",
            found.client_credentials,
            self.post(probes.grant_body(backoffice, "client_credentials")),
            "≥ 0.05 x the bare ceiling",
            lambda r: bare is not None and r.rps >= 0.05 * bare,
            tokens_each=1,
        )
        self.optional(
            "introspection",
            "introspection (RFC 7662)",
            found.introspection,
            introspect,
            "≥ 0.85 x its I/O ceiling",
            lambda r: introspect_io is not None and r.rps >= 0.85 * introspect_io,
            ceiling=introspect_io,
        )
        # Last of the loads: requests the flood leaves queued drain within seconds after it.
        victim_login = probes.grant_body(
            backoffice, "password", username=seed.victim[0], password=seed.victim[1]
        )
        if self.wanted("flood"):
            self.login_flood(login, victim_login, api.args["path"])

    def io_ceilings(
        self, client: infra.Client, api: wrk.Load, introspect: wrk.Load, api_prefix: str
    ) -> tuple[float | None, float | None]:
        """The same-I/O ceilings (bench.bare --config): a bare handler doing the API call's
        and introspection's work without the service's web layer, on a port of its own
        while the service idles."""
        wanted = [
            ("api", "ceiling: bare handler, the API call's I/O", api),
            ("introspection", "ceiling: bare handler, introspection's I/O", introspect),
        ]
        wanted = [w for w in wanted if self.wanted(w[0])]
        if not wanted or not self.have_wrk:
            return None, None
        port = procs.free_port()
        argv = [sys.executable, "-m", "bench.bare", "--port", str(port)]
        argv += ["--workers", str(WORKERS), "--config", str(self.tmp / "config.yml")]
        bare = procs.Served(
            [*argv, "--client", client.client_id],
            port,
            WORKERS,
            self.tmp / "bare-io.log",
            infra.clean_env(),
        )
        bare.start()
        service_pid, self.service_pid = self.service_pid, bare.pid
        url = f"http://127.0.0.1:{port}"
        rates: dict[str, float | None] = {"api": None, "introspection": None}
        try:
            for label, name, load in wanted:
                path = load.args["path"].replace(api_prefix, "/api", 1)
                path = path.replace(probes.INTROSPECT_PATH, "/introspect")
                load = replace(load, url=url, args=load.args | {"path": path})
                if self.plan.warmup_seconds:
                    wrk.run(replace(load, seconds=self.plan.warmup_seconds))
                result = self.measured(f"{label}_io", name, load, None)
                if result is not None:
                    rates[label] = result.rps
                    self.rows[-1].ratio = 1.0
        finally:
            bare.stop()
            self.service_pid = service_pid
        return rates["api"], rates["introspection"]

    def api_under_password_load(self, password: wrk.Load, api: wrk.Load) -> None:
        """API latency while password grants keep every core hashing. The API load is paced
        (a pause between requests on each connection): a flat-out API load would itself take
        the CPU and measure contention; this measures whether hashing stalls the loop."""
        name, target = "API p99 during password grants", "p99 ≤ 25 ms"
        if not self.have_wrk:
            self.rows.append(Row.not_run(name, NO_WRK, target))
            return
        pause = self.plan.paced_pause_ms
        paced = replace(
            api, connections=self.plan.paced_connections, args=api.args | {"delay": str(pause)}
        )
        split = cpu.Split.start(self.service_pid)
        hashing = wrk.start(password)
        try:
            result = wrk.run(paced)
        finally:
            beside = wrk.finish(hashing)
        self.issued(beside, 2)
        row = Row.from_result(name, result, None, target, result.latency_ms["p99"] <= 25)
        row.cores(split.cores())
        row.note += (
            f"; {paced.connections} conn, {pause} ms pause; password grants meanwhile "
            f"{beside.rps:,.0f}/s = {beside.rps / self.hash.together:.2f} of the ceiling"
        )
        row.data["password_grants"] = beside.as_dict()
        if beside.errors:
            row.failed = f"password grants beside it: {beside.errors} errors"
        self.rows.append(row)

    def login_flood(
        self, login: dict[str, str], victim_login: dict[str, str], api_path: str
    ) -> None:
        """Password grants on FLOOD_CONNECTIONS connections from one address (wrk, from
        127.0.0.1) and, in the same run, a victim on another address (bench.victim), another
        user, calling the API and logging in. The row is the victim's: its success rate and
        latency."""
        name = f"login flood ({FLOOD_CONNECTIONS} conn, 1 address): the victim"
        target = "victim ≥ 99 % ok"
        if not self.have_wrk:
            self.rows.append(Row.not_run(name, NO_WRK, target))
            return
        # The flood runs from before the victim starts until after it ends.
        flood = self.post(login, connections=FLOOD_CONNECTIONS, seconds=self.plan.seconds + 1)
        split = cpu.Split.start(self.service_pid)
        flooding = wrk.start(flood)
        try:
            hit = victim.run(self.base, self.plan.seconds, 0.5, api_path, victim_login)
        except victim.VictimError as exc:
            self.rows.append(Row.not_run(name, str(exc), target, failed=True))
            return
        finally:
            flooded = wrk.finish(flooding)
        self.issued(flooded, 2)
        self.live_tokens += 2 * (hit.logins_ok + 1)  # and its first login
        row = Row(
            name=name,
            value=f"{hit.requests / hit.seconds:,.0f}",
            p50_ms=victim.percentile(hit.latencies_ms, "p50"),
            p99_ms=victim.percentile(hit.latencies_ms, "p99"),
            errors=hit.requests - hit.ok,
            target=target,
            met=hit.success >= 0.99,
            data={"victim": hit.as_dict(), "flood": flooded.as_dict()},
        )
        row.cores(split.cores())
        statuses = ", ".join(f"{k}: {v:,}" for k, v in sorted(hit.statuses.items()))
        row.note += (
            f"; victim from {victim.ADDRESS}: {hit.ok:,} of {hit.requests:,} ok "
            f"({hit.success:.2%}; {statuses}), its logins p99 "
            f"{victim.percentile(hit.login_latencies_ms, 'p99'):.0f} ms; flood "
            f"{flooded.rps:,.0f}/s answered, {flooded.errors:,} not 2xx {flooded.error_detail}"
        )
        if not hit.requests:
            row.failed = "the victim made no request"
        self.rows.append(row)

    def refresh(self, storefront: infra.Client, guest: wrk.Result | None) -> None:
        """Refresh grants with the guest row's refresh tokens: back-office ones would cost a
        password grant (an argon2 verify) each to mint."""
        name, target = "refresh grant (visitor families)", "≥ 0.034 x the bare ceiling"
        if not self.have_wrk:
            self.rows.append(Row.not_run(name, NO_WRK, target))
            return
        if guest is None or guest.rps == 0:
            self.rows.append(Row.not_run(name, "no guest tokens to refresh", target, True))
            return
        body = probes.grant_body(storefront, "refresh_token", refresh_token=wrk.POOLED)
        args = {"path": ENDPOINT, "body": json.dumps(body), "pool": str(self.tmp / "refresh-")}
        load = self.load("pool.lua", args=args, headers=(JSON_BODY,))
        pool = self.refresh_pool(guest, storefront, load.threads)
        # tokens_each=0: a rotation deletes the old pair as it records the new one.
        result = self.measured(
            "refresh",
            name,
            load,
            self.bare_rate,
            target,
            lambda r: self.bare_rate is not None and r.rps >= 0.034 * self.bare_rate,
        )
        if result is not None and self.bare_rate:
            self.refresh_rate = result.rps
        if result is not None:
            row = self.rows[-1]
            row.note += f"; pool of {pool:,} refresh tokens, {result.threads['used']:,} used"
            if result.threads["exhausted"]:
                row.failed = f"the pool of {pool:,} refresh tokens ran out"

    def refresh_pool(self, guest: wrk.Result, storefront: infra.Client, threads: int) -> int:
        """The guest row's refresh tokens, topped up by more (unmeasured) guest grants if
        short, dealt into one file per wrk thread."""

        tokens = self.harvested("guest-")
        needed = max(MIN_POOL, int(REFRESH_HEADROOM * guest.rps * self.plan.seconds))
        if len(tokens) < needed:
            seconds = math.ceil((needed - len(tokens)) / guest.rps)
            more = {"harvest": str(self.tmp / "more-")}
            self.issued(
                wrk.run(self.post(probes.guest_body(storefront), seconds=seconds, args=more)), 2
            )
            tokens += self.harvested("more-")
        return self.deal(tokens, "refresh-", threads)

    def harvested(self, prefix: str) -> list[str]:
        """What a wrk run with harvest=<tmp>/<prefix> wrote, every thread's file."""
        files = sorted(self.tmp.glob(f"{prefix}*.txt"))
        return [value for f in files for value in f.read_text().split()]

    def deal(self, values: list[str], prefix: str, threads: int) -> int:
        """One file per wrk thread for bench/lua/pool.lua, no value in two."""
        for i in range(threads):
            (self.tmp / f"{prefix}{i}.txt").write_text("\n".join(values[i::threads]) + "\n")
        return len(values)

    def code_exchange(self, seed: infra.Seed, authorize: str) -> None:
        """Token requests exchanging authorization codes, each once. The codes come first,
        unmeasured here: GET authorize with a live session (a back-office login through
        the pages) for the row's length, harvested from the redirects by wrk."""
        name = "authorization code exchange"
        if not self.have_wrk:
            self.rows.append(Row.not_run(name, NO_WRK))
            return
        client = seed.code_client
        if client is None:
            self.rows.append(Row.not_run(name, "not offered by the service yet"))
            return
        try:
            session = codes.log_in(self.base, authorize, client, seed.username, seed.password)
        except probes.ProbeError as exc:
            self.rows.append(Row.not_run(name, str(exc), failed=True))
            return
        self.live_tokens += 2  # the probe's exchange
        # A second longer than the row: minting is cheaper than an exchange (no signature),
        # so the pool outlasts the row even in QUICK's one-second rows.
        mint = self.load(
            args={"path": session.authorize, "harvest": str(self.tmp / "code-"), "codes": "1"},
            headers=(f"Cookie: {session.cookie}",),
            seconds=self.plan.seconds + 1,
        )
        try:
            minted = wrk.run(mint)
        except wrk.WrkError as exc:
            self.rows.append(Row.not_run(name, f"minting codes: {exc}", failed=True))
            return
        pooled = {"body": session.exchange_body(client), "pool": str(self.tmp / "codes-")}
        load = self.load("pool.lua", args={"path": ENDPOINT} | pooled, headers=(JSON_BODY,))
        pool = self.deal(self.harvested("code-"), "codes-", load.threads)
        refresh = self.refresh_rate
        result = self.measured(
            "code",
            name,
            load,
            self.bare_rate,
            "≥ the refresh row's ratio" if refresh else "",
            lambda r: r.rps >= refresh if refresh else None,
            tokens_each=2,
        )
        if result is None:
            return
        row = self.rows[-1]
        row.note += (
            f"; {pool:,} codes minted first by GET authorize with the session, "
            f"{minted.rps:,.0f}/s, p99 {minted.latency_ms['p99']:.1f} ms; "
            f"{result.threads['used']:,} exchanged"
        )
        row.data["authorize"] = minted.as_dict()
        if minted.errors:
            row.failed = f"minting codes: {minted.errors} errors {minted.error_detail}"
        elif result.threads["exhausted"]:
            row.failed = f"the pool of {pool:,} codes ran out"

    def optional(
        self,
        label: str,
        name: str,
        state: str,
        load: wrk.Load,
        target: str = "",
        judge: Judge = lambda r: None,
        tokens_each: int = 0,
        ceiling: float | None = None,
    ) -> None:
        """A workload the service may not offer yet: n/a then, not an error. Its ratio is to
        `ceiling`, else to the bare aiohttp ceiling."""
        if state == probes.ABSENT:
            self.rows.append(Row.not_run(name, "not offered by the service yet", target))
        elif state != probes.OK:
            self.rows.append(Row.not_run(name, state, target, failed=True))
        else:
            ceiling = ceiling or self.bare_rate
            self.measured(label, name, load, ceiling, target, judge, tokens_each)

    # -- memory ----------------------------------------------------------------------

    def memory(self, redis_url: str, prefix: str) -> None:
        rss = memory.worker_rss_mb(self.workers)
        worst = max(rss.values())
        self.rows.append(
            Row(
                name="RSS per worker after the run",
                value=f"{worst:.0f} MB",
                target="≤ 120 MB",
                met=worst <= 120 if self.have_wrk else None,  # no load, nothing to judge
                note="workers: " + ", ".join(f"{mb:.0f} MB" for mb in rss.values()),
                data={"rss_mb": list(rss.values())},
            )
        )
        usage = memory.redis_usage(redis_url, prefix, self.live_tokens)
        kinds = ", ".join(
            f"{kind}: {n['keys']:,} keys, {n['bytes'] / n['keys']:,.0f} B each"
            for kind, n in usage.by_kind.items()
        )
        self.rows.append(
            Row(
                name="Redis bytes per live token",
                value=f"{usage.bytes_per_token:.0f} B",
                target="≤ 200 B",
                met=usage.bytes_per_token <= 200 if self.have_wrk else None,
                note=f"{usage.token_bytes:,} B / {usage.live_tokens:,} live tokens; {kinds}",
                data=usage.__dict__
                | {"bytes_per_token": usage.bytes_per_token, "token_bytes": usage.token_bytes},
            )
        )

    def profiles(self) -> dict[str, Any]:
        if not self.profile_dir:
            return {}
        folded = {}
        for label in sorted(self.profiled):
            files = sorted(self.profile_dir.glob(f"{label}-*.txt"))
            if files:
                folded[label] = profile.fold(files)
        return {"profile_dir": str(self.profile_dir), "profiles": folded}
