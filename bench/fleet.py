"""A fleet under load: sharded bot processes over PostgreSQL, against one process on SQLite.

One command runs two variants on the same load, one after the other:

- **fleet**: `--processes` bot processes over one PostgreSQL (`tests/pg_server.py`
  starts it), `--shards` shards split evenly between them (`STORYBOARD_SHARD_COUNT`
  and `STORYBOARD_SHARD_IDS`, as a deployment sets them);
- **baseline**: one bot process on an SQLite file, unsharded: Storyboard as it ran
  before issue 16 (one process, one gateway connection, one file).

Each bot is `bench.bot_proc` (the product as `storyboard-bot run` starts it). The fake
Discord (`bench.fleet_discord`) runs in this process with `--guilds` guilds, each with a
text channel and a member; the fake provider (`bench.fleet_provider`) in another, on
the wall clock, accepting `--keys` keys: guilds i .. i + shards - 1 share a key, so
every key is used by every process, and `[provider] max_requests_per_second`
(`--rps`) is that key's ceiling for the whole fleet. Before the bots start,
`--preload` open jobs are written straight into the jobs table (COPY on PostgreSQL,
one executemany on SQLite), each with a card and a thread at the fake Discord and a
running task at the fake provider; they complete at random moments over the next
`--job-seconds` (by default preload / rate, the steady state in which as many jobs
finish each second as are submitted). Then for `--seconds`, `--rate` members a second,
spread over the guilds, each open `/storyboard` (one shot) and submit its modal a
second later; the bots keep tracking for `--drain` seconds more.

Figures per variant: acknowledgement of the submits (INTERACTION_CREATE frame written
to the defer arriving; Discord's limit is 3 s) and of the modal openings; the member's
answer (the followup); provider requests per key per second against the ceiling, as the
provider received them; the lag from a job's completion at the provider to its video
in the thread, for jobs completing during the submit window; deliveries and duplicate
posts; CPU and RSS per process (bots, the fake Discord, the fake provider, PostgreSQL);
PostgreSQL's transactions per second (pg_stat_database). The default is the target of
issue 16 (10,000 guilds, 8 shards, 4 processes, 50,000 open jobs, 100 submits/s for
60 s); on a small machine start smaller:

    .venv/bin/python -m bench.fleet --guilds 1000 --preload 5000 --rate 10 --seconds 30
    .venv/bin/python -m bench.fleet
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import SecretStr

from bench.bot_proc import auth_digest
from bench.fleet_discord import FleetDiscord, FleetGuild, add_card_and_thread, add_fleet_guilds
from bench.procs import (
    BotProcess,
    Child,
    LoopLag,
    machine,
    percentile,
    proc_cpu_seconds,
    proc_status,
    write_toml,
)
from bench.tracker_load_bot import most_in_one_second
from bot.profiles import RELAY
from bot.store import Store
from bot.store.postgres import PostgresDatabase
from bot.storyboard import Shot, Storyboard, StoryboardSettings, validate_storyboard
from bot.videos_api.keys import key_fingerprint
from tests.fake_discord.interactions import DEFAULT_SIZE_LIMIT, InteractionHandle
from tests.fake_provider.jobs import make_job_id
from tests.pg_server import PgServer, start_server

MB = 1024 * 1024
DISCORD_DEADLINE = 3.0
# A member opens the form this long before submitting it (the modal must be open first).
LEAD_SECONDS = 1.0
OPEN_WAIT_SECONDS = 60.0
READY_WITHIN = 300.0
# Of a job's time at the provider, queued for at most this (a quarter of short ones); the
# rest it runs.
QUEUE_SECONDS = 5.0
KEY_PREFIX = "sk-bench-fleet-"
VARIANTS = ("fleet", "baseline")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The submits' guilds: guild (k * stride) % guilds, a stride coprime with the count.
STRIDES = (7919, 7907, 7901, 7883, 7879)
TASK_SERIAL_BASE = 10_000_000
# Every preloaded job holds the same storyboard: two shots, 10 s on the relay profile.
BOARD = validate_storyboard(
    Storyboard(
        shots=(Shot(scene="A door opens.", duration=5), Shot(scene="A cat walks in.", duration=5)),
        settings=StoryboardSettings(model="sora-2", seconds=10),
    ),
    RELAY,
    models=["sora-2"],
)
JOB_COLUMNS = (
    "id",
    "request_key",
    "guild_id",
    "channel_id",
    "user_id",
    "locale",
    "public_locale",
    "storyboard",
    "filesize_limit",
    "state",
    "task_id",
    "provider_status",
    "progress",
    "card_channel_id",
    "card_message_id",
    "thread_id",
    "card_shown",
    "created_at",
    "updated_at",
    "submitted_at",
    "seconds",
    "kind",
    "key_fingerprint",
    "model",
)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def key_of(index: int) -> str:
    return f"{KEY_PREFIX}{index:03d}"


# -- preloaded jobs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Preloaded:
    task_id: str
    key_index: int
    finish_offset: float  # seconds after "go" the provider completes it
    row: tuple[Any, ...]


def make_preload(
    fd: FleetDiscord, guilds: Sequence[FleetGuild], count: int, job_seconds: float, seed: int
) -> list[Preloaded]:
    """`count` open jobs, spread over the guilds: a card and thread each at the fake
    Discord, the row the bot would have written once its create was answered."""
    rng = random.Random(seed)
    now = time.time()
    board = BOARD.model_dump_json()
    fingerprints = {g.key_index: key_fingerprint(SecretStr(key_of(g.key_index))) for g in guilds}
    jobs: list[Preloaded] = []
    for n in range(count):
        where = guilds[n % len(guilds)]
        job_id = n + 1
        card = add_card_and_thread(fd, where, f"Storyboard #{job_id}")
        task_id = make_job_id("relay", now, TASK_SERIAL_BASE + n, None)
        finish = rng.uniform(0.0, job_seconds)
        began = now - (job_seconds - finish)  # as if submitted that long ago
        row = (
            job_id,
            f"bench:preload:{job_id}",
            where.guild.id,
            where.text.id,
            where.member.id,
            "en-US",
            "en-US",
            board,
            DEFAULT_SIZE_LIMIT,
            "active",
            task_id,
            "queued",
            0,
            where.text.id,
            card,
            card,
            "queued",
            began,
            began,
            began,
            BOARD.settings.seconds,
            "video",
            fingerprints[where.key_index],
            BOARD.settings.model,
        )
        jobs.append(Preloaded(task_id, where.key_index, finish, row))
    return jobs


async def preload_postgres(url: str, jobs: Sequence[Preloaded]) -> None:
    db = await PostgresDatabase.open(url)  # the schema, as the bots will find it
    try:
        async with db.pool.acquire() as conn:
            await conn.copy_records_to_table(
                "jobs", records=[j.row for j in jobs], columns=list(JOB_COLUMNS)
            )
            if jobs:
                await conn.execute(
                    "SELECT setval(pg_get_serial_sequence('jobs', 'id'), $1)", len(jobs)
                )
    finally:
        await db.close()


async def preload_sqlite(path: Path, jobs: Sequence[Preloaded]) -> None:
    await (await Store.open(path)).close()  # the schema, as the bot will find it
    marks = ", ".join("?" * len(JOB_COLUMNS))
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.executemany(
            f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) VALUES ({marks})", [j.row for j in jobs]
        )


# -- processes and their costs --------------------------------------------------------------


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of the whole machine so far, from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as fh:
        fields = [int(v) for v in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def postgres_pids(server: PgServer | None) -> list[int]:
    """The server's postmaster and every process it forked (backends, walwriter, ...)."""
    if server is None or server.directory is None:
        return []
    try:
        postmaster = int(server.data_dir.joinpath("postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    pids = [postmaster]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
            pids.append(int(entry.name))
    return pids


def cpu_of(pids: Sequence[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += proc_cpu_seconds(pid)
    return total


def cpu_wait_of(pids: Sequence[int]) -> float:
    """Seconds the processes' main threads (the bots' event loops; PostgreSQL's processes
    have one thread) have spent runnable but waiting for a CPU so far: the scheduler's run
    delay, /proc/<pid>/schedstat. High when the machine, not the process, held it up."""
    total = 0
    for pid in pids:
        with (
            contextlib.suppress(OSError, ValueError, IndexError),
            open(f"/proc/{pid}/schedstat", encoding="ascii") as fh,
        ):
            total += int(fh.read().split()[1])
    return total / 1e9


def pss_of(pids: Sequence[int]) -> int:
    """The processes' proportional set size, bytes: shared pages (PostgreSQL's shared
    buffers, in every backend's RSS) counted once in all."""
    total = 0
    for pid in pids:
        with (
            contextlib.suppress(OSError),
            open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh,
        ):
            for line in fh:
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


@dataclass
class Sample:
    """Everything read at one moment: per-process CPU so far, the machine, PostgreSQL."""

    perf: float
    cpu: dict[str, float]
    cpu_wait: dict[str, float]
    machine: tuple[int, int]
    xacts: tuple[int, int] | None  # PostgreSQL (commits, rollbacks) of the bench's database


async def pg_xacts(url: str | None) -> tuple[int, int] | None:
    if url is None:
        return None
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT xact_commit, xact_rollback FROM pg_stat_database"
            " WHERE datname = current_database()"
        )
    finally:
        await conn.close()
    assert row is not None
    return int(row[0]), int(row[1])


# What the bots logged: `bot.logs`' text format, "<date> <time> LEVEL logger: message".
LOG_LINE = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL)\s+(\S+): (.*)$")


def log_problems(paths: Sequence[Path], top: int = 10) -> dict[str, int]:
    """The bots' warnings and errors, alike ones (numbers aside) counted together."""
    found: Counter[str] = Counter()
    for path in paths:
        with contextlib.suppress(OSError), path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                match = LOG_LINE.match(line)
                if match:
                    level, logger, message = match.groups()
                    # Ids, task ids, key digests and counts aside: alike lines together.
                    alike = re.sub(r"[^\s(),=:]*[0-9][^\s(),=:]*", "N", message)[:110]
                    found[f"{level} {logger}: {alike}"] += 1
    return dict(found.most_common(top))


# -- the members ------------------------------------------------------------------------------


@dataclass
class MemberRun:
    """One member: opens /storyboard, then submits the modal at `due`."""

    k: int
    due: float  # perf_counter
    opened: InteractionHandle | None = None
    submitted: InteractionHandle | None = None
    error: str | None = None


def coprime_stride(n: int) -> int:
    return next((s for s in STRIDES if math.gcd(s, n) == 1), 1)


async def member(fd: FleetDiscord, where: FleetGuild, run: MemberRun) -> None:
    try:
        ix = await fd.run_slash_command(
            guild=where.guild,
            channel=where.text,
            user=where.member,
            name="storyboard",
            options={"shots": 1},
        )
        run.opened = ix
        await ix.wait_callback(timeout=OPEN_WAIT_SECONDS)
        if ix.modal is None:
            run.error = f"no modal: {ix.callback}"
            return
        await asyncio.sleep(max(0.0, run.due - time.perf_counter()))
        run.submitted = await fd.submit_modal(
            ix, {"shot_1": f"Shot {run.k}: a kite rises over a grey sea."}
        )
    except (TimeoutError, ValueError, RuntimeError) as exc:
        run.error = repr(exc)


async def drive(
    fd: FleetDiscord, guilds: Sequence[FleetGuild], rate: float, count: int, start: float
) -> tuple[list[MemberRun], set[asyncio.Task[None]]]:
    """Member k opens at start + k / rate - LEAD_SECONDS and submits at start + k / rate."""
    stride = coprime_stride(len(guilds))
    runs: list[MemberRun] = []
    tasks: set[asyncio.Task[None]] = set()
    for k in range(count):
        run = MemberRun(k, start + k / rate)
        await asyncio.sleep(max(0.0, run.due - LEAD_SECONDS - time.perf_counter()))
        runs.append(run)
        task = asyncio.create_task(member(fd, guilds[(k * stride) % len(guilds)], run))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    return runs, tasks


# -- one variant --------------------------------------------------------------------------------


@dataclass
class Variant:
    name: str
    processes: int  # bot processes
    shard_count: int | None  # None: unsharded
    postgres: bool

    def shard_ids(self, process: int) -> list[int]:
        assert self.shard_count is not None
        per = self.shard_count // self.processes
        return list(range(process * per, (process + 1) * per))

    def describe(self) -> str:
        if self.shard_count is None:
            return f"{self.processes} process, unsharded, SQLite"
        return (
            f"{self.processes} processes x {self.shard_count // self.processes} shards, PostgreSQL"
        )


@dataclass
class Outcome:
    """What one variant measured (`report` turns it into the printed figures)."""

    variant: str
    setup: dict[str, float] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)


def sent_log(workdir: Path, variant: Variant, process: int) -> Path:
    """Where bot `process` writes when it sent each provider request (`--request-log`)."""
    return workdir / f"{variant.name}-bot{process}.sent.json"


def sent_peaks(
    paths: Sequence[Path], keys: int, since: float, until: float
) -> dict[str, dict[str, int]]:
    """Per key, the requests the bots sent in [since, until] (monotonic) and the most of
    them within any one second, all processes together."""
    index = {auth_digest(f"Bearer {key_of(i)}"): i for i in range(keys)}
    sent: dict[int, list[float]] = {i: [] for i in range(keys)}
    for path in paths:
        with contextlib.suppress(OSError):
            for digest, times in json.loads(path.read_text(encoding="utf-8")).items():
                if digest in index:
                    sent[index[digest]] += [t for t in times if since <= t <= until]
    return {
        str(i): {"total": len(times), "peak_1s": most_in_one_second(sorted(times))}
        for i, times in sent.items()
    }


def bot_config(
    path: Path,
    args: argparse.Namespace,
    fd: FleetDiscord,
    provider_url: str,
    guilds: Sequence[FleetGuild],
    storage: dict[str, str],
) -> None:
    write_toml(
        path,
        {
            "discord": {"token": fd.bot_token},
            "provider": {
                "base_url": provider_url,
                "timeout_seconds": 30,
                "max_requests_per_second": args.rps,
            },
            "defaults": {"model": "sora-2", "seconds": 10, "default_shots": 1},
            "tracking": {
                "poll_min_seconds": args.poll_min,
                "poll_max_seconds": args.poll_max,
                "max_job_minutes": 60,
            },
            "storage": storage,
            "guilds": {str(g.guild.id): {"api_key": key_of(g.key_index)} for g in guilds},
        },
    )


async def wait_ready(
    fd: FleetDiscord, variant: Variant, guilds: Sequence[FleetGuild], bots: Sequence[BotProcess]
) -> None:
    """Every shard connected, the commands synced, and each shard's process answering
    a /storyboard in one of its guilds."""
    deadline = time.monotonic() + READY_WITHIN
    if variant.shard_count is not None:
        for shard in range(variant.shard_count):
            await fd.gateway.wait_shard((shard, variant.shard_count), READY_WITHIN)
    for _ in range(int(READY_WITHIN * 10)):
        if any(c["name"] == "storyboard" for c in fd.world.commands.get(None, [])):
            break
        if time.monotonic() > deadline:
            raise RuntimeError("the commands were never synced:\n" + bots[0].log_tail())
        await asyncio.sleep(0.1)
    probes = guilds[: variant.shard_count or 1]
    opened = [
        await fd.run_slash_command(
            guild=g.guild, channel=g.text, user=g.member, name="storyboard", options={"shots": 1}
        )
        for g in probes
    ]
    left = max(1.0, deadline - time.monotonic())
    await asyncio.gather(*(ix.wait_callback(timeout=left) for ix in opened))


def ms(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p99": None, "max": None}
    return {
        "p50": statistics.median(values) * 1000,
        "p99": percentile(list(values), 0.99) * 1000,
        "max": max(values) * 1000,
    }


def censored_quantile(values: Sequence[float], missing: int, share: float) -> float | None:
    """The `share` quantile of `values` plus `missing` values known only to be larger
    (jobs not delivered by the end); None when it falls among those."""
    ordered = sorted(values)
    total = len(ordered) + missing
    if total == 0:
        return None
    index = min(total - 1, round(share * (total - 1)))
    return ordered[index] if index < len(ordered) else None


async def run_variant(
    variant: Variant, args: argparse.Namespace, workdir: Path, server: PgServer | None
) -> Outcome:
    out = Outcome(variant.name)
    began = time.monotonic()
    keys = [key_of(i) for i in range(args.keys)]
    queued = min(QUEUE_SECONDS, args.job_seconds / 4)
    provider = Child(
        "bench.fleet_provider",
        "--keys",
        ",".join(keys),
        "--queue-seconds",
        str(queued),
        "--run-seconds",
        str(args.job_seconds - queued),
        line_limit=256 * MB,
    )
    async with provider, FleetDiscord() as fd:
        provider_url = str((await provider.read(60))["base_url"])
        fd.world.max_concurrency = 16  # a large bot's: every shard may IDENTIFY at once
        guilds = add_fleet_guilds(fd, args.guilds, args.shards, args.keys)
        preload = make_preload(fd, guilds, args.preload, args.job_seconds, args.seed)
        seeded = await provider.ask(
            {
                "cmd": "seed",
                "jobs": [[j.task_id, j.key_index, round(j.finish_offset, 3)] for j in preload],
            },
            within=300,
        )
        assert seeded["seeded"] == len(preload)
        url: str | None = None
        if variant.postgres:
            assert server is not None
            url = server.fresh_database_url(f"bench_fleet_{variant.name}")
            await preload_postgres(url, preload)
            storage = {"url": url}
        else:
            db = workdir / f"{variant.name}.sqlite3"
            for leftover in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
                leftover.unlink(missing_ok=True)  # a kept directory's earlier run
            await preload_sqlite(db, preload)
            storage = {"path": str(db)}
        preloaded = len(preload)
        del preload  # the rows: the bots read them from the store from now on
        out.setup["preload_s"] = time.monotonic() - began

        config = workdir / f"{variant.name}.toml"
        bot_config(config, args, fd, provider_url, guilds, storage)
        bots: list[BotProcess] = []
        for p in range(variant.processes):
            (workdir / f"{variant.name}-bot{p}.log").unlink(missing_ok=True)
            env: dict[str, str] = {}
            if variant.shard_count is not None:
                env = {
                    "STORYBOARD_SHARD_COUNT": str(variant.shard_count),
                    "STORYBOARD_SHARD_IDS": ",".join(map(str, variant.shard_ids(p))),
                }
            bots.append(
                BotProcess(
                    fd,
                    config,
                    workdir / f"{variant.name}-bot{p}.log",
                    env=env,
                    extra_args=["--request-log", str(sent_log(workdir, variant, p))],
                )
            )
        # The fake's heap (guilds, cards, threads) is made: the collector need not walk it
        # again, which paused the fake's event loop mid-run.
        gc.collect()
        gc.freeze()
        started = time.monotonic()
        try:
            await asyncio.gather(*(b.__aenter__() for b in bots))
            await wait_ready(fd, variant, guilds, bots)
            out.setup["start_s"] = time.monotonic() - started
            say(f"  {variant.name}: ready in {out.setup['start_s']:.1f} s; warming up")
            await asyncio.sleep(args.warmup)
            out.figures = await measure(fd, variant, args, guilds, bots, provider, url, server)
        finally:
            await asyncio.gather(*(b.__aexit__(None, None, None) for b in bots))
            gc.unfreeze()
        await jobs_after(out, fd, variant, workdir, url, preloaded)
        out.figures["log_problems"] = log_problems(
            [workdir / f"{variant.name}-bot{p}.log" for p in range(variant.processes)]
        )
        out.figures["sent"] = sent_peaks(
            [sent_log(workdir, variant, p) for p in range(variant.processes)],
            args.keys,
            out.figures["mono0"],
            out.figures["mono1"],
        )
        await provider.ask({"cmd": "quit"})
    if url is not None and server is not None:
        server.drop_database(url)
    return out


async def sample(
    fd_pid: int, bots: Sequence[BotProcess], provider: Child, pg: list[int], url: str | None
) -> Sample:
    assert provider.proc is not None
    pids = {f"bot{i}": [b.pid] for i, b in enumerate(bots)}
    pids |= {"discord": [fd_pid], "provider": [provider.proc.pid], "postgres": pg}
    cpu = {name: cpu_of(group) for name, group in pids.items()}
    waits = {name: cpu_wait_of(group) for name, group in pids.items()}
    return Sample(time.perf_counter(), cpu, waits, machine_jiffies(), await pg_xacts(url))


async def measure(
    fd: FleetDiscord,
    variant: Variant,
    args: argparse.Namespace,
    guilds: Sequence[FleetGuild],
    bots: Sequence[BotProcess],
    provider: Child,
    url: str | None,
    server: PgServer | None,
) -> dict[str, Any]:
    count = round(args.rate * args.seconds)
    pg = postgres_pids(server) if url is not None else []
    lag = LoopLag(limit_seconds=args.seconds + args.drain + 120)
    world = fd.fleet_world
    go = (await provider.ask({"cmd": "go"}))["at"]
    start = time.perf_counter() + LEAD_SECONDS
    wall0, mono0 = go + LEAD_SECONDS, time.monotonic() + LEAD_SECONDS
    say(f"  {variant.name}: {count:,} submits at {args.rate:g}/s over {args.seconds:g} s")
    lag.start()
    driver = asyncio.create_task(drive(fd, guilds, args.rate, count, start))
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    first = await sample(os.getpid(), bots, provider, pg, url)
    await asyncio.sleep(max(0.0, start + args.seconds - time.perf_counter()))
    last = await sample(os.getpid(), bots, provider, pg, url)
    rss = {f"bot{i}": b.status() for i, b in enumerate(bots)}
    window_lags = list(lag.lags)
    runs, pending = await driver
    if pending:
        await asyncio.wait(pending, timeout=OPEN_WAIT_SECONDS + DISCORD_DEADLINE)
    # Tracking goes on: jobs that completed in the window are delivered late, not never.
    wanted = args.preload + count
    drain_until = time.perf_counter() + args.drain
    while time.perf_counter() < drain_until:
        if args.until_delivered and len({d.job_id for d in world.deliveries}) >= wanted:
            break
        await asyncio.sleep(0.2)
    await lag.stop()
    mono1 = time.monotonic()
    counted = await provider.ask({"cmd": "count", "since": mono0, "until": mono1}, within=120)
    finished = await provider.ask(
        {"cmd": "finished", "since": wall0, "until": wall0 + args.seconds}, within=120
    )
    window = last.perf - first.perf
    cpu = {name: (last.cpu[name] - first.cpu[name]) / window for name in last.cpu}
    cpu_wait = {name: (last.cpu_wait[name] - first.cpu_wait[name]) / window for name in last.cpu}
    busy = (last.machine[0] - first.machine[0]) / CLOCK_TICKS / window
    xacts = None
    if first.xacts is not None and last.xacts is not None:
        xacts = {
            "commit_per_s": (last.xacts[0] - first.xacts[0]) / window,
            "rollback_per_s": (last.xacts[1] - first.xacts[1]) / window,
        }
    return {
        "variant": variant.describe(),
        "window_s": window,
        "tracked_s": mono1 - mono0,
        "submits": count,
        "members": members_figures(fd, runs, counted["creates"]),
        "provider": counted,
        "ceiling": args.rps,
        "finished_in_window": finished,
        "cpu": cpu,
        "cpu_wait": cpu_wait,
        "machine_busy": busy,
        "rss": {name: s.get("VmRSS", 0) for name, s in rss.items()}
        | {"discord": proc_status(os.getpid()).get("VmRSS", 0)},
        "hwm": {name: s.get("VmHWM", 0) for name, s in rss.items()},
        "pg_pss": pss_of(pg),
        "xacts": xacts,
        "discord_lag_ms": {
            "p99": percentile(window_lags, 0.99) * 1000 if window_lags else None,
            "max": max(window_lags, default=0.0) * 1000,
        },
        "wall0": wall0,
        "mono0": mono0,
        "mono1": mono1,
    }


def members_figures(
    fd: FleetDiscord, runs: Sequence[MemberRun], creates: dict[str, float]
) -> dict[str, Any]:
    opens = [r.opened.state for r in runs if r.opened is not None]
    subs = [r.submitted.state for r in runs if r.submitted is not None]
    open_ack = [s.acked_at - s.sent_at for s in opens if s.acked_at is not None]
    sub_ack = [s.acked_at - s.sent_at for s in subs if s.acked_at is not None]
    answered = [fd.answered_at[s.token] - s.sent_at for s in subs if s.token in fd.answered_at]
    # perf_counter and monotonic are one clock on Linux; the offset keeps this honest anyway.
    offset = time.monotonic() - time.perf_counter()
    to_provider = [
        creates[str(r.opened.id)] - offset - r.submitted.state.sent_at
        for r in runs
        if r.opened is not None and r.submitted is not None and str(r.opened.id) in creates
    ]
    sent = sorted(s.sent_at for s in subs)
    late = [s.sent_at - r.due for r in runs if r.submitted is not None for s in [r.submitted.state]]
    return {
        "opened": len(opens),
        "open_ack_ms": ms(open_ack),
        "open_over_3s": sum(v > DISCORD_DEADLINE for v in open_ack),
        "open_unanswered": len(opens) - len(open_ack),
        "submitted": len(subs),
        "submit_ack_ms": ms(sub_ack),
        "submit_over_3s": sum(v > DISCORD_DEADLINE for v in sub_ack),
        "submit_unacked": len(subs) - len(sub_ack),
        "answer_ms": ms(answered),
        "to_provider_ms": ms(to_provider),
        "reached_provider": len(to_provider),
        "unanswered": len(subs) - len(answered),
        "sent_rate": (len(sent) - 1) / (sent[-1] - sent[0]) if len(sent) > 1 else 0.0,
        "sent_late_ms": ms(late),
        "errors": Counter(r.error.split("(")[0] for r in runs if r.error),
    }


async def jobs_after(
    out: Outcome,
    fd: FleetDiscord,
    variant: Variant,
    workdir: Path,
    url: str | None,
    preloaded: int,
) -> None:
    """Once the bots stopped (a delivery under way at the end is finished by the stop):
    every post at the fake Discord, and the store's word on every job."""
    world = fd.fleet_world
    out.figures["deliveries"] = [[d.job_id, d.outcome, d.at] for d in world.deliveries]
    out.figures["discord_routes"] = dict(fd.routes)
    out.figures["discord_refused"] = dict(fd.refused)
    query = "SELECT id, task_id, state, delivered_at FROM jobs"
    if url is not None:
        conn = await asyncpg.connect(url)
        try:
            rows = [tuple(r) for r in await conn.fetch(query)]
        finally:
            await conn.close()
    else:
        with contextlib.closing(sqlite3.connect(workdir / f"{variant.name}.sqlite3")) as db:
            rows = db.execute(query).fetchall()
    out.figures["jobs"] = [list(r) for r in rows]
    out.figures["preloaded"] = preloaded


# -- the report --------------------------------------------------------------------------------


def summarize(outcome: Outcome) -> dict[str, Any]:
    f = outcome.figures
    jobs = {int(r[0]): r for r in f["jobs"]}
    by_task = {r[1]: int(r[0]) for r in f["jobs"] if r[1] is not None}
    posts = Counter(int(d[0]) for d in f["deliveries"])
    first_post: dict[int, float] = {}
    for job_id, _outcome, at in f["deliveries"]:
        first_post.setdefault(int(job_id), float(at))
    lags: list[float] = []
    missing = 0
    for task, completed in f["finished_in_window"].items():
        job_id = by_task.get(task)
        if job_id is not None and job_id in first_post:
            lags.append(first_post[job_id] - float(completed))
        else:
            missing += 1
    marked = {j for j, r in jobs.items() if r[3] is not None}
    states = Counter(str(r[2]) for r in jobs.values())
    keys = f["provider"]["keys"]
    tracked = f["tracked_s"]
    per_key = [v["total"] / tracked for k, v in keys.items() if k != "-1"]
    peaks = [v["peak_1s"] for k, v in keys.items() if k != "-1"]
    sent = [v["peak_1s"] for v in f["sent"].values()]
    return {
        "variant": outcome.variant,
        "describe": f["variant"],
        "setup": outcome.setup,
        "members": f["members"],
        "provider_total_per_s": f["provider"]["total"] / tracked,
        "provider_routes": f["provider"]["routes"],
        "refused_creates": f["provider"]["refused_creates"],
        "key_mean_per_s": statistics.mean(per_key) if per_key else 0.0,
        "key_peak_1s": max(peaks, default=0),
        "keys_over_ceiling": sum(p > f["ceiling"] for p in peaks),
        "sent_key_peak_1s": max(sent, default=0),
        "keys_over_ceiling_sent": sum(p > f["ceiling"] for p in sent),
        "ceiling": f["ceiling"],
        "completed_in_window": len(f["finished_in_window"]),
        "delivered_of_those": len(lags),
        "lag_p50_s": censored_quantile(lags, missing, 0.5),
        "lag_p95_s": censored_quantile(lags, missing, 0.95),
        "jobs": len(jobs),
        "states": dict(states),
        "jobs_posted": len(posts),
        "posts": sum(posts.values()),
        "duplicate_posts": sum(c - 1 for c in posts.values() if c > 1),
        "posted_not_marked": len(set(posts) - marked),
        "marked_not_posted": len(marked - set(posts)),
        "posted_unknown_job": len(set(posts) - set(jobs)),
        "preloaded": f["preloaded"],
        "cpu": f["cpu"],
        "cpu_wait": f["cpu_wait"],
        "machine_busy": f["machine_busy"],
        "rss": f["rss"],
        "hwm": f["hwm"],
        "pg_pss": f["pg_pss"],
        "xacts": f["xacts"],
        "discord_lag_ms": f["discord_lag_ms"],
        "discord_refused": f["discord_refused"],
        "log_problems": f["log_problems"],
        "window_s": f["window_s"],
        "tracked_s": tracked,
    }


def fmt(value: float | None, digits: int = 0, unit: str = "") -> str:
    return "-" if value is None else f"{value:,.{digits}f}{unit}"


def lag(value: float | None, summary: dict[str, Any]) -> str:
    """A lag quantile; one that falls among the jobs not delivered by the end is only
    known to be longer than the time they were tracked after the window."""
    if value is not None:
        return f"{value:.1f}"
    return f"> {summary['tracked_s'] - summary['window_s']:.0f}"


def row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def print_report(summaries: Sequence[dict[str, Any]], args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    print(
        f"\nfleet under load ({machine()}): {args.guilds:,} guilds, {args.preload:,} open jobs"
        f" preloaded (done over {args.job_seconds:g} s), {args.rate:g} submits/s for"
        f" {args.seconds:g} s + {args.drain:g} s of tracking; {args.keys} keys at"
        f" {args.rps:g} requests/s each\n"
    )
    print(
        "| variant | submit ack p50 / p99 / max ms | over 3 s | opens over 3 s "
        "| create at provider p50 / p99 ms | answer p50 / p99 ms | submits/s sent | errors |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for s in summaries:
        m = s["members"]
        a, o, r, c = m["submit_ack_ms"], m["open_ack_ms"], m["answer_ms"], m["to_provider_ms"]
        print(
            row(
                s["describe"],
                f"{fmt(a['p50'])} / {fmt(a['p99'])} / {fmt(a['max'])}",
                f"{m['submit_over_3s'] + m['submit_unacked']} of {m['submitted']:,}",
                f"{m['open_over_3s'] + m['open_unanswered']} (p99 {fmt(o['p99'])})",
                f"{fmt(c['p50'])} / {fmt(c['p99'])} ({m['submitted'] - m['reached_provider']} not)",
                f"{fmt(r['p50'])} / {fmt(r['p99'])} ({m['unanswered']} unanswered)",
                f"{m['sent_rate']:.1f}",
                ", ".join(f"{k} {v}" for k, v in m["errors"].items()) or "none",
            )
        )
    print(
        "\n| variant | provider requests/s (retrieve, create, content) | per key, mean /s "
        "| most in any 1 s, sent by the bots / received (ceiling) | keys over, sent / received "
        "| an open job looked at every |"
    )
    print("|---|---|---|---|---|---|")
    for s in summaries:
        routes = s["provider_routes"]
        t = s["tracked_s"]
        looks = routes.get("retrieve", 0) / t
        print(
            row(
                s["describe"],
                f"{s['provider_total_per_s']:.1f} ({looks:.1f},"
                f" {routes.get('create', 0) / t:.1f}, {routes.get('content', 0) / t:.1f})",
                f"{s['key_mean_per_s']:.2f}",
                f"{s['sent_key_peak_1s']} / {s['key_peak_1s']} ({s['ceiling']:g})",
                f"{s['keys_over_ceiling_sent']} / {s['keys_over_ceiling']}",
                f"~{s['preloaded'] / looks:,.0f} s" if looks else "-",
            )
        )
    print(
        "\n| variant | completed in the window -> delivered by the end | lag p50 / p95 s "
        "| posts / jobs posted | duplicate posts | jobs at the end |"
    )
    print("|---|---|---|---|---|---|")
    for s in summaries:
        print(
            row(
                s["describe"],
                f"{s['completed_in_window']:,} -> {s['delivered_of_those']:,}",
                f"{lag(s['lag_p50_s'], s)} / {lag(s['lag_p95_s'], s)}",
                f"{s['posts']:,} / {s['jobs_posted']:,}",
                str(s["duplicate_posts"]),
                ", ".join(f"{k} {v:,}" for k, v in sorted(s["states"].items())),
            )
        )
    print(
        "\n| variant | CPU % of a core (% waiting for one): bots | fake Discord | provider "
        f"| PostgreSQL | machine busy (of {cores * 100} %) | of which others' |"
    )
    print("|---|---|---|---|---|---|---|")
    for s in summaries:
        cpu, wait = s["cpu"], s["cpu_wait"]
        bots = sorted(k for k in cpu if k.startswith("bot"))

        def use(name: str, cpu: dict[str, float] = cpu, wait: dict[str, float] = wait) -> str:
            return f"{cpu[name] * 100:.0f} ({wait[name] * 100:.0f})"

        print(
            row(
                s["describe"],
                " + ".join(use(b) for b in bots),
                use("discord"),
                use("provider"),
                use("postgres") if s["xacts"] else "-",
                f"{s['machine_busy'] * 100:.0f}",
                f"{(s['machine_busy'] - sum(cpu.values())) * 100:.0f}",
            )
        )
    print(
        "\n| variant | RSS MB: bots (peak) | PostgreSQL PSS MB | PG commits/s (rollbacks) "
        "| fake Discord loop lag p99 / max ms |"
    )
    print("|---|---|---|---|---|")
    for s in summaries:
        bots = sorted(k for k in s["rss"] if k.startswith("bot"))
        xacts = s["xacts"]
        print(
            row(
                s["describe"],
                " + ".join(f"{s['rss'][b] / MB:.0f} ({s['hwm'][b] / MB:.0f})" for b in bots),
                f"{s['pg_pss'] / MB:.0f}" if xacts else "-",
                f"{xacts['commit_per_s']:,.0f} ({xacts['rollback_per_s']:,.0f})" if xacts else "-",
                f"{fmt(s['discord_lag_ms']['p99'])} / {fmt(s['discord_lag_ms']['max'])}",
            )
        )
    for s in summaries:
        say(
            f"{s['variant']}: setup {s['setup']}; Discord refused {s['discord_refused'] or 'nothing'};"
            f" provider routes {s['provider_routes']}; creates refused {s['refused_creates']};"
            f" posted but not marked delivered {s['posted_not_marked']}, marked but not posted"
            f" {s['marked_not_posted']}, posts for unknown jobs {s['posted_unknown_job']}"
        )
        for line, times in s["log_problems"].items():
            say(f"  {times:>6,} x {line}")


def memory_dir() -> str | None:
    """/dev/shm when writable: SQLite where PostgreSQL is (tests/pg_server.py: in memory,
    no fsync), so neither store waits on a disk the other does not."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


async def main(args: argparse.Namespace) -> list[dict[str, Any]]:
    chosen = [
        Variant("fleet", args.processes, args.shards, postgres=True),
        Variant("baseline", 1, None, postgres=False),
    ]
    chosen = [v for v in chosen if v.name in args.variants]
    server = start_server() if any(v.postgres for v in chosen) else None
    summaries: list[dict[str, Any]] = []
    try:
        with contextlib.ExitStack() as stack:
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                workdir = args.keep
            else:
                tmp = tempfile.TemporaryDirectory(prefix="bench-fleet-", dir=memory_dir())
                workdir = Path(stack.enter_context(tmp))
            for variant in chosen:
                say(f"{variant.name}: {variant.describe()}")
                outcome = await run_variant(variant, args, workdir, server)
                summaries.append(summarize(outcome))
    finally:
        if server is not None:
            server.stop()
    print_report(summaries, args)
    if args.json is not None:
        args.json.write_text(json.dumps(summaries, indent=1, default=str), encoding="utf-8")
    return summaries


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--guilds", type=int, default=10_000)
    parser.add_argument("--shards", type=int, default=8, help="shards of the fleet variant")
    parser.add_argument("--processes", type=int, default=4, help="bot processes of the fleet")
    parser.add_argument("--preload", type=int, default=50_000, help="open jobs at the start")
    parser.add_argument("--rate", type=float, default=100.0, help="modal submits per second")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long members submit")
    parser.add_argument("--keys", type=int, default=20, help="provider keys the guilds share")
    parser.add_argument(
        "--rps", type=float, default=10.0, help="each key's ceiling, max_requests_per_second"
    )
    parser.add_argument(
        "--job-seconds",
        type=float,
        default=None,
        help="a job's time at the provider (default: preload / rate, the steady state)",
    )
    parser.add_argument(
        "--drain", type=float, default=30.0, help="tracking goes on this long after submits"
    )
    parser.add_argument(
        "--until-delivered",
        action="store_true",
        help="end the drain early once every job was delivered",
    )
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds between ready and go")
    parser.add_argument("--poll-min", type=float, default=5.0, help="[tracking] poll_min_seconds")
    parser.add_argument("--poll-max", type=float, default=60.0, help="[tracking] poll_max_seconds")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="work in this directory and keep it (configs, bot logs, the SQLite file)",
    )
    args = parser.parse_args(argv)
    if args.job_seconds is None:
        args.job_seconds = max(10.0, args.preload / args.rate)
    if args.job_seconds <= 0:
        parser.error("--job-seconds must be positive")
    if args.shards % args.processes:
        parser.error("--shards must split evenly over --processes")
    if not 0 < args.rps <= 100:
        parser.error("--rps is the config's max_requests_per_second: above 0, at most 100")
    if min(args.guilds, args.keys, args.rate, args.seconds) <= 0 or args.preload < 0:
        parser.error("--guilds, --keys, --rate and --seconds must be positive")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
