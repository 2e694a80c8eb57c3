"""The tracker under load: N open jobs against the fake provider.

For each N, N jobs are made in a fresh SQLite store and submitted to the fake
provider through the real `VideoClient.create` (not timed), each with a card,
so the tracker edits it. Then a bot process of its own (`bench.tracker_load_bot`:
the store, the video client, the tracker, nothing from `tests/`) runs the real
`Tracker` for `--seconds`, while the fake provider, in a third process, moves
its clock so every job goes queued -> in_progress -> completed within the
first three quarters of the run. Discord is a counter (`CountingEvents`): its
REST time is not in these figures.

Printed per run: provider requests per second against the per-key ceiling
(`--rps`, the config's `max_requests_per_second`; the ratio must stay <= 1),
the most requests sent (bot side) and received (provider side) within any one
second, looks (polls) and card edits per job, deliveries, and the bot
process's CPU seconds, RSS (idle before the tracker starts, peak sampled, and
ru_maxrss), task count, longest event-loop stall and GC time. The Python heap
peak comes from a second, shorter run (`--heap-seconds`) with tracemalloc on,
which slows the process too much to share a run with the CPU figures.

The baseline, measured in the same run on a copy of the same store: a naive
tracker with one task per job sleeping `poll_min_seconds` between polls through
the same client (so the same pacer) and the same edit rule.

    .venv/bin/python -m bench.tracker_load
    .venv/bin/python -m bench.tracker_load --jobs 100 1000 10000 --seconds 20 --rps 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiohttp

from bench.tracker_load_bot import (
    API_KEY,
    CHANNEL_ID,
    GUILD_ID,
    USER_ID,
    TrackerKind,
    bench_config,
)
from bot.profiles import RELAY
from bot.store import NewJob, Store
from bot.storyboard import Shot, Storyboard, StoryboardSettings, validate_storyboard
from bot.tracker import visible_state
from bot.videos_api import CreateVideoRequest, VideoClient
from bot.videos_api.ratelimit import RequestPacer

ROOT = Path(__file__).resolve().parents[1]
# The fake provider's job: queued 5 s, then running 60 s, on its own clock.
QUEUE_SECONDS = 5.0
RUN_SECONDS = 60.0
# Every job is completed at the provider by this share of the run.
DONE_AT = 0.75
TICK_SECONDS = 0.5
# Setting up is not measured: creates go as fast as the fake takes them.
SETUP_RPS = 2000.0
SETUP_CONCURRENCY = 16
MB = 1024 * 1024
KINDS: tuple[TrackerKind, ...] = ("heap", "naive")
NAMES = {"heap": "Tracker (heap)", "naive": "naive (task/job)"}


class Child:
    """A helper process speaking one JSON object per line on stdin/stdout."""

    def __init__(self, *args: str) -> None:
        self._args = args
        self._proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> Self:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            *self._args,
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=16 * MB,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()

    async def read(self, within: float) -> dict[str, Any]:
        assert self._proc is not None and self._proc.stdout is not None
        line = await asyncio.wait_for(self._proc.stdout.readline(), within)
        if not line:
            raise RuntimeError(f"{self._args[0]} exited ({await self._proc.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def send(self, payload: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        self._proc.stdin.write(json.dumps(payload).encode() + b"\n")
        await self._proc.stdin.drain()

    async def ask(self, payload: dict[str, Any], within: float = 60.0) -> dict[str, Any]:
        await self.send(payload)
        return await self.read(within)


BOARD = validate_storyboard(
    Storyboard(
        shots=(Shot(scene="A door opens.", duration=5), Shot(scene="A cat walks in.", duration=5)),
        settings=StoryboardSettings(model="sora-2", seconds=10),
    ),
    RELAY,
    models=["sora-2"],
)


async def make_jobs(base_url: str, n: int, db: Path) -> None:
    """N active jobs with cards, each submitted to the fake through the real client."""
    settings = bench_config(base_url, 1, db).settings_for(GUILD_ID)
    assert settings.api_key is not None
    store = await Store.open(db)
    numbers = iter(range(n))
    try:
        async with aiohttp.ClientSession() as session:
            client = VideoClient(
                session,
                base_url=settings.base_url,
                api_key=settings.api_key,
                profile=settings.profile,
                timeout_seconds=60,
                pacer=RequestPacer(SETUP_RPS),
            )

            async def submit_some() -> None:
                for i in numbers:
                    job = await store.create_job(
                        NewJob(
                            request_key=f"bench:{i}",
                            guild_id=GUILD_ID,
                            channel_id=CHANNEL_ID,
                            user_id=USER_ID,
                            locale="en-US",
                            storyboard=BOARD,
                            filesize_limit=25 * MB,
                        )
                    )
                    meta = json.dumps({"storyboard_job": job.id, "request": job.request_key})
                    request = CreateVideoRequest.from_storyboard(
                        BOARD, settings.profile, metadata=meta
                    )
                    job = await store.mark_submitted(job.id, await client.create(request))
                    await store.set_card(
                        job.id,
                        channel_id=CHANNEL_ID,
                        message_id=2_000_000_000_000_000_000 + i,
                        thread_id=3_000_000_000_000_000_000 + i,
                        shown=visible_state(job),
                    )

            await asyncio.gather(*(submit_some() for _ in range(SETUP_CONCURRENCY)))
    finally:
        await store.close()


def copy_store(template: Path, dest: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        source = template.with_name(template.name + suffix)
        if source.exists():
            shutil.copyfile(source, dest.with_name(dest.name + suffix))


@dataclass(frozen=True)
class Run:
    n: int
    kind: TrackerKind
    rps: float
    bot: dict[str, Any]
    provider: dict[str, Any]
    # The same run again, shorter, with tracemalloc on (it slows the process, so apart).
    traced: dict[str, Any] | None = None

    @property
    def window(self) -> float:
        return float(self.bot["t1"] - self.bot["t0"])

    @property
    def requests(self) -> int:
        return int(self.provider["total"])

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.window

    @property
    def looks(self) -> int:
        return int(self.provider["by_route"].get("retrieve", 0))

    @property
    def finished(self) -> int:
        states = self.bot["states"]
        return int(states.get("completed", 0) + states.get("failed", 0))

    @property
    def duplicates(self) -> int:
        return int(self.bot["deliveries"] - self.bot["jobs_delivered"])

    @property
    def cpu_per_request(self) -> float:
        return float(self.bot["cpu"]) / max(1, self.requests)

    @property
    def rss_growth(self) -> float:
        return float(self.bot["peak_rss"] - self.bot["idle_rss"])

    @property
    def heap_growth(self) -> float | None:
        if self.traced is None:
            return None
        return float(self.traced["heap_peak"] - self.traced["idle_heap"])

    @property
    def heap_held(self) -> float | None:
        if self.traced is None:
            return None
        return float(self.traced["heap_end"] - self.traced["idle_heap"])

    def load_row(self) -> str:
        b, p = self.bot, self.provider
        return row(
            f"{self.n:,}",
            NAMES[self.kind],
            f"{self.requests_per_second:.1f} ({self.requests_per_second / self.rps:.2f})",
            f"{b['sent_peak_1s']} / {p['peak_1s']}",
            f"{self.looks / self.n:.2f}",
            f"{b['edits'] / self.n:.2f} (max {b['max_edits_per_job']})",
            f"{b['jobs_delivered']:,} / {self.finished:,} / "
            f"{p['provider_statuses'].get('completed', 0):,}",
            str(self.duplicates),
        )

    def cost_row(self) -> str:
        b = self.bot
        heap = self.heap_growth
        return row(
            f"{self.n:,}",
            NAMES[self.kind],
            f"{b['cpu']:.2f}",
            f"{self.cpu_per_request * 1000:.2f}",
            f"{b['start_seconds']:.2f}",
            f"{b['idle_rss'] / MB:.0f} -> {b['peak_rss'] / MB:.0f}",
            f"{b['max_rss'] / MB:.0f}",
            "-" if heap is None else f"{heap / MB:.1f}",
            "-" if self.heap_held is None else f"{self.heap_held / MB:.1f}",
            f"{b['peak_tasks']:,}",
            f"{b['stall_start'] * 1000:.0f} / {b['stall_max'] * 1000:.0f}",
            f"{b['gc_seconds']:.2f} ({b['gc_max'] * 1000:.0f})",
        )


def row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


LOAD_HEADER = (
    "| open jobs | tracker | requests/s (/ ceiling) | most in 1 s (sent / received) "
    "| looks/job | edits/job | delivered / done in store / done at provider | delivered twice |\n"
    "|---|---|---|---|---|---|---|---|"
)
COST_HEADER = (
    "| open jobs | tracker | CPU s | CPU ms/request | start s | RSS idle -> peak MB "
    "| ru_maxrss MB | heap peak MB | heap held at end MB | tasks "
    "| longest stall ms (start / after) | GC s (longest ms) |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def ratio(ours: float | None, base: float | None) -> str:
    return f"{ours / base:.2f}x" if ours is not None and base else "-"


def ratios(ours: Run, base: Run) -> str:
    return (
        f"N={ours.n:,}, Tracker / naive: requests/s "
        f"{ratio(ours.requests_per_second, base.requests_per_second)}"
        f", CPU s {ratio(ours.bot['cpu'], base.bot['cpu'])}"
        f", CPU per request {ratio(ours.cpu_per_request, base.cpu_per_request)}"
        f", RSS growth {ratio(ours.rss_growth, base.rss_growth)}"
        f", heap peak {ratio(ours.heap_growth, base.heap_growth)}"
        f", heap held {ratio(ours.heap_held, base.heap_held)}"
        f", tasks {ratio(ours.bot['peak_tasks'], base.bot['peak_tasks'])}"
    )


async def tick_clock(provider: Child, speed: float, seconds: float, done: asyncio.Event) -> None:
    """Advance the fake clock `speed` fake seconds per second until `done` (or the run's end)."""
    for _ in range(int(seconds / TICK_SECONDS) + 40):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), TICK_SECONDS)
        if done.is_set():
            return
        await provider.ask({"cmd": "advance", "seconds": speed * TICK_SECONDS})


async def run_one(
    kind: TrackerKind,
    n: int,
    template: Path,
    provider: Child,
    base_url: str,
    *,
    rps: float,
    seconds: float,
    trace: bool,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """One bot process on a fresh copy of the store; its figures and the provider's."""
    db = template.with_name(f"{kind}-{n}.sqlite3")
    copy_store(template, db)
    await provider.ask({"cmd": "rewind"})
    speed = (QUEUE_SECONDS + RUN_SECONDS) / (DONE_AT * seconds)
    command = [
        "bench.tracker_load_bot",
        f"--kind={kind}",
        f"--db={db}",
        f"--base-url={base_url}",
        f"--rps={rps}",
        f"--seconds={seconds}",
    ]
    if trace:
        command.append("--tracemalloc")
    async with Child(*command) as bot:
        await bot.read(within=120)
        done = asyncio.Event()
        await bot.send({"go": True})
        ticker = asyncio.create_task(tick_clock(provider, speed, seconds, done))
        try:
            result = await bot.read(within=seconds + 300)
        finally:
            done.set()
            await ticker
    counts = await provider.ask({"cmd": "count", "since": result["t0"], "until": result["t1"]})
    return result, counts


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def measure(n: int, tmp: Path, args: argparse.Namespace) -> tuple[Run, Run]:
    """Both trackers on the same N jobs (the provider's clock rewound between runs)."""
    async with Child(
        "bench.tracker_load_provider",
        f"--key={API_KEY}",
        f"--queue-seconds={QUEUE_SECONDS}",
        f"--run-seconds={RUN_SECONDS}",
    ) as provider:
        port = (await provider.read(within=60))["port"]
        base_url = f"http://127.0.0.1:{port}/v1"
        template = tmp / f"template-{n}.sqlite3"
        began = time.monotonic()
        say(f"N={n:,}: submitting the jobs...")
        await make_jobs(base_url, n, template)
        say(f"N={n:,}: submitted in {time.monotonic() - began:.1f} s; tracking...")
        runs: dict[TrackerKind, Run] = {}
        for kind in KINDS:
            bot, counts = await run_one(
                kind,
                n,
                template,
                provider,
                base_url,
                rps=args.rps,
                seconds=args.seconds,
                trace=False,
            )
            traced = None
            if args.heap_seconds > 0:
                traced, _ = await run_one(
                    kind,
                    n,
                    template,
                    provider,
                    base_url,
                    rps=args.rps,
                    seconds=args.heap_seconds,
                    trace=True,
                )
            runs[kind] = Run(n=n, kind=kind, rps=args.rps, bot=bot, provider=counts, traced=traced)
            say(runs[kind].load_row())
            say(runs[kind].cost_row())
        await provider.ask({"cmd": "quit"})
    return runs["heap"], runs["naive"]


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="tracker-load-") as tmp:
        runs = [await measure(n, Path(tmp), args) for n in args.jobs]
    every = [run for pair in runs for run in pair]
    print(
        f"\ntracker under load: {args.seconds:g} s per run ({args.heap_seconds:g} s for the heap"
        f" peak), ceiling {args.rps:g} requests/s per key; fake jobs queued {QUEUE_SECONDS:g} s"
        f" + running {RUN_SECONDS:g} s, all done at the provider by {DONE_AT:.0%} of the run\n"
    )
    print(LOAD_HEADER)
    for run in every:
        print(run.load_row())
    print()
    print(COST_HEADER)
    for run in every:
        print(run.cost_row())
    print()
    for ours, base in runs:
        print(ratios(ours, base))
    # Requests spaced exactly 1/rps apart still fit rps + 1 into a closed second.
    over = [r for r in every if r.requests > r.rps * r.window + 1]
    burst = [r for r in every if r.bot["sent_peak_1s"] > r.rps + 1]
    print(
        f"\nover the ceiling on average: {len(over)} run(s); more than {args.rps + 1:g} sent"
        f" within one second: {', '.join(f'N={r.n:,} {r.kind}' for r in burst) or 'none'};"
        f" deliveries beyond one per job: {sum(r.duplicates for r in every)}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--seconds", type=float, default=20.0, help="wall time of each run")
    parser.add_argument(
        "--rps", type=float, default=50.0, help="per-key ceiling (max_requests_per_second, <= 100)"
    )
    parser.add_argument(
        "--heap-seconds",
        type=float,
        default=8.0,
        help="length of the extra tracemalloc run for the heap peak (0: skip)",
    )
    args = parser.parse_args()
    if not 0 < args.rps <= 100:
        parser.error("--rps is the config's max_requests_per_second: above 0, at most 100")
    if args.seconds <= 0 or args.heap_seconds < 0 or min(args.jobs) < 1:
        parser.error("--seconds and --jobs must be positive, --heap-seconds not negative")
    asyncio.run(main(args))
