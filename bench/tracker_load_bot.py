"""The bot side of `bench.tracker_load`, run in a process of its own.

It imports only what the bot's tracking path imports (the store, the video API
client, the tracker), never the fakes from `tests/`, so the CPU and memory it
reports are the bot's. Started by `bench.tracker_load`; it speaks JSON lines:
it prints `{"ready": ...}` once the store is open, waits for one line on
stdin, runs the tracker for `--seconds`, stops it and prints the result.

Discord is replaced by `CountingEvents`: every card edit and delivery is
counted and succeeds at once, so Discord's REST time is not in the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal, Protocol

import aiohttp

from bot.config import Config, parse_config
from bot.store import Job, Store
from bot.tracker import Tracker, visible_state
from bot.videos_api import VideoApi, VideoApiError

GUILD_ID = 1_100_000_000_000_000_001
CHANNEL_ID = 1_100_000_000_000_000_101
USER_ID = 1_100_000_000_000_000_301
API_KEY = "sk-bench-tracker"
# Small enough that every job always wants a look: the per-key ceiling decides.
POLL_MIN_SECONDS = 0.05
POLL_MAX_SECONDS = 0.2
SAMPLE_SECONDS = 0.25
# asyncio.all_tasks() walks every task: count them less often than RSS is sampled.
TASK_SAMPLE_EVERY = 8
PROBE_SECONDS = 0.01
READY_TIMEOUT = 600.0
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

TrackerKind = Literal["heap", "naive"]


def bench_config(base_url: str, rps: float, db: Path) -> Config:
    """One guild with one key on the fake provider; tracking fast, requests capped at `rps`."""
    data: dict[str, Any] = {
        "provider": {
            "base_url": base_url,
            "timeout_seconds": 30,
            "max_requests_per_second": rps,
        },
        "defaults": {"model": "sora-2", "seconds": 15},
        "tracking": {
            "poll_min_seconds": POLL_MIN_SECONDS,
            "poll_max_seconds": POLL_MAX_SECONDS,
            "max_job_minutes": 60,
        },
        "storage": {"path": str(db)},
        "guilds": {str(GUILD_ID): {"api_key": API_KEY}},
    }
    return parse_config(data, db.parent / "config.toml", env={})


def rss_bytes() -> int:
    """Resident set size of this process now."""
    with open("/proc/self/statm", encoding="ascii") as fh:
        return int(fh.read().split()[1]) * PAGE_BYTES


def most_in_one_second(times: Sequence[float]) -> int:
    """The most of `times` (sorted) within any one second."""
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


class Watch:
    """What the bot process does besides its work: requests it starts (aiohttp's own
    trace hook, so the client is untouched), event-loop stalls, garbage collection."""

    def __init__(self) -> None:
        self.sent: list[float] = []
        self.gc_seconds = 0.0
        self.gc_max = 0.0
        # The longest the event loop did not come back, while starting and afterwards.
        self.stall_start = 0.0
        self.stall_max = 0.0
        self.started_at = float("inf")
        self._gc_began = 0.0
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._on_request_start)

    async def _on_request_start(
        self, session: aiohttp.ClientSession, ctx: SimpleNamespace, params: object
    ) -> None:
        self.sent.append(time.monotonic())

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_began = time.perf_counter()
            return
        took = time.perf_counter() - self._gc_began
        self.gc_seconds += took
        self.gc_max = max(self.gc_max, took)

    def __enter__(self) -> Watch:
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._on_gc)

    async def probe(self, until: float) -> None:
        """Sleep in short steps until `until`, noting the longest oversleep (a stalled loop)."""
        for _ in range(int((until - time.monotonic()) / PROBE_SECONDS) + 2):
            before = time.monotonic()
            if before >= until:
                return
            await asyncio.sleep(PROBE_SECONDS)
            stall = time.monotonic() - before - PROBE_SECONDS
            if before < self.started_at:
                self.stall_start = max(self.stall_start, stall)
            else:
                self.stall_max = max(self.stall_max, stall)


class CountingEvents:
    """Discord's side of the tracker, reduced to counting: every edit and post succeeds."""

    def __init__(self) -> None:
        self.edits: Counter[int] = Counter()
        self.deliveries: Counter[int] = Counter()

    async def show_progress(self, job: Job) -> bool:
        self.edits[job.id] += 1
        return True

    async def deliver(self, job: Job) -> bool:
        self.deliveries[job.id] += 1
        return True


class Following(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class NaiveTracker:
    """The baseline: one task per open job, sleeping a fixed interval between polls.

    Same store, same client (so the same per-key pacer), same edit rule as the
    real tracker; only the scheduling differs.
    """

    def __init__(
        self, store: Store, api: VideoApi, config: Config, events: CountingEvents, interval: float
    ) -> None:
        self._store = store
        self._api = api
        self._config = config
        self._events = events
        self._interval = interval
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        for job in await self._store.open_jobs():
            task = asyncio.create_task(self._follow(job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _follow(self, job: Job) -> None:
        assert job.task_id is not None
        client = self._api.client_for(self._config.settings_for(job.guild_id))
        while job.state == "active":
            await asyncio.sleep(self._interval)
            try:
                video, _hint = await client.poll(job.task_id)
            except VideoApiError:
                continue
            job = await self._store.record_poll(job.id, video)
            shown = visible_state(job)
            if shown != job.card_shown and await self._events.show_progress(job):
                job = await self._store.set_card_shown(job.id, shown)
        if job.delivered_at is None and await self._events.deliver(job):
            await self._store.mark_delivered(job.id)


def emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def run(
    kind: TrackerKind, db: Path, base_url: str, rps: float, seconds: float, trace: bool
) -> dict[str, Any]:
    logging.basicConfig(level=logging.WARNING)
    if trace:
        tracemalloc.start()
    config = bench_config(base_url, rps, db)
    store = await Store.open(db)
    watch = Watch()
    try:
        async with aiohttp.ClientSession(trace_configs=[watch.trace]) as session:
            api = VideoApi(session)
            events = CountingEvents()
            follower: Following
            if kind == "heap":
                tracker = Tracker(store, api, lambda: config)
                tracker.events = events
                follower = tracker
            else:
                follower = NaiveTracker(store, api, config, events, POLL_MIN_SECONDS)
            idle_rss = rss_bytes()
            idle_heap = tracemalloc.get_traced_memory()[0] if trace else 0
            emit({"ready": True})
            go = await asyncio.wait_for(asyncio.to_thread(sys.stdin.readline), READY_TIMEOUT)
            if not go:
                raise SystemExit("no go from bench.tracker_load")

            if trace:
                tracemalloc.reset_peak()
            with watch:
                cpu0, t0 = time.process_time(), time.monotonic()
                deadline = t0 + seconds
                probe = asyncio.create_task(watch.probe(deadline))
                await follower.start()
                watch.started_at = time.monotonic()
                started = watch.started_at - t0
                peak_rss, peak_tasks = rss_bytes(), len(asyncio.all_tasks())
                for sample in range(int(seconds / SAMPLE_SECONDS) + 2):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    await asyncio.sleep(min(SAMPLE_SECONDS, left))
                    peak_rss = max(peak_rss, rss_bytes())
                    if sample % TASK_SAMPLE_EVERY == 0:
                        peak_tasks = max(peak_tasks, len(asyncio.all_tasks()))
                await probe
                heap_end = tracemalloc.get_traced_memory()[0] if trace else 0
                await follower.stop()
                t1, cpu1 = time.monotonic(), time.process_time()
            heap_peak = tracemalloc.get_traced_memory()[1] if trace else 0
            max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            states = await store.count_jobs_by_state()
    finally:
        await store.close()
    return {
        "kind": kind,
        "t0": t0,
        "t1": t1,
        "cpu": cpu1 - cpu0,
        "start_seconds": started,
        "idle_rss": idle_rss,
        "peak_rss": peak_rss,
        "max_rss": max_rss,
        "idle_heap": idle_heap,
        "heap_peak": heap_peak,
        "heap_end": heap_end,
        "peak_tasks": peak_tasks,
        "sent": len(watch.sent),
        "sent_peak_1s": most_in_one_second(sorted(watch.sent)),
        "stall_start": watch.stall_start,
        "stall_max": watch.stall_max,
        "gc_seconds": watch.gc_seconds,
        "gc_max": watch.gc_max,
        "edits": sum(events.edits.values()),
        "max_edits_per_job": max(events.edits.values(), default=0),
        "deliveries": sum(events.deliveries.values()),
        "jobs_delivered": len(events.deliveries),
        "states": states,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="internal: one tracker run for bench.tracker_load")
    parser.add_argument("--kind", choices=("heap", "naive"), required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--rps", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--tracemalloc", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(
        run(args.kind, args.db, args.base_url, args.rps, args.seconds, args.tracemalloc)
    )
    emit(result)


if __name__ == "__main__":
    main()
