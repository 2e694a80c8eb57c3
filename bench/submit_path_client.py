"""One client of `bench.submit_path`, in a process of its own so its memory is its own.

`ours`: the bot's path from a member's storyboard to the provider's answer:
`validate_storyboard`, `bot.images.check_image` (in a thread, as the bot runs
it: the image is decoded whole), `CreateVideoRequest.from_storyboard`, then
`VideoClient.create` from `VideoApi.client_for` (the per-key pacer, the image
semaphore, aiohttp). `sdk`: the official `openai` package's
`AsyncOpenAI().videos.create(...)` with the same prompt, length, size and image.

Imports only the bot's modules (or the SDK), never `tests/`. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench.rss import reset_peak_rss, status
from bot.config import GuildSettings, parse_config
from bot.images import check_image
from bot.storyboard import Shot, Storyboard, StoryboardSettings, validate_storyboard
from bot.videos_api import CreateVideoRequest, VideoApi

API_KEY = "sk-bench-submit"
GUILD_ID = 1_500_000_000_000_000_001
MODEL = "sora-2"
SECONDS = 8
SHOTS = (
    "A lighthouse keeper climbs the spiral stairs with a lantern.",
    "The great lamp turns on and sweeps over a stormy sea.",
)
FILENAME = "reference.png"
SDK_MISSING = (
    "bench.submit_path needs the official openai SDK for its baseline:\n"
    "    .venv/bin/pip install openai"
)

Job = Callable[[bytes], Awaitable[str]]


def bench_settings(base_url: str) -> GuildSettings:
    """One guild on the openai profile; 100 requests/s, the most the config allows."""
    data: dict[str, Any] = {
        "provider": {
            "base_url": base_url,
            "profile": "openai",
            "timeout_seconds": 60,
            "max_requests_per_second": 100,
        },
        "defaults": {"model": MODEL, "seconds": SECONDS},
        "images": {"max_mb": 10},
        "storage": {"path": "unused.sqlite3"},
        "guilds": {str(GUILD_ID): {"api_key": API_KEY}},
    }
    return parse_config(data, Path("bench.toml"), env={}).settings_for(GUILD_ID)


def storyboard() -> Storyboard:
    return Storyboard(
        shots=tuple(Shot(scene=s) for s in SHOTS),
        settings=StoryboardSettings(model=MODEL, seconds=SECONDS),
    )


class Ours:
    """The bot's submission path; notes how long the decode and the request took."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.settings = bench_settings(base_url)
        self.client = VideoApi(session).client_for(self.settings)
        self.decode: list[float] = []
        self.create: list[float] = []

    async def __call__(self, data: bytes) -> str:
        s = self.settings
        board = validate_storyboard(
            storyboard(), s.profile, models=s.models, max_seconds=s.max_seconds
        )
        t0 = time.perf_counter()
        image = await asyncio.to_thread(check_image, data, FILENAME, max_bytes=s.image_max_bytes)
        t1 = time.perf_counter()
        request = CreateVideoRequest.from_storyboard(board, s.profile, image=image)
        job = await self.client.create(request)
        t2 = time.perf_counter()
        self.decode.append(t1 - t0)
        self.create.append(t2 - t1)
        return job.id


def the_prompt(base_url: str) -> str:
    s = bench_settings(base_url)
    return validate_storyboard(
        storyboard(), s.profile, models=s.models, max_seconds=s.max_seconds
    ).prompt


async def measure(
    job: Job, data: bytes, small: bytes, runs: int, trace_runs: int
) -> dict[str, Any]:
    for _ in range(2):
        await job(small)  # warm-up: imports, the connection, first-use caches
    gc.collect()
    idle = status()["VmRSS"]
    peak_reset = reset_peak_rss()
    walls: list[float] = []
    cpu0 = time.process_time()
    for _ in range(runs):
        t0 = time.perf_counter()
        await job(data)
        walls.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    after = status()
    gc.collect()
    tracemalloc.start()
    await job(data)  # the first traced run pays for tracemalloc's own tables
    peaks: list[int] = []
    for _ in range(trace_runs):
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        await job(data)
        peaks.append(tracemalloc.get_traced_memory()[1] - before)
    tracemalloc.stop()
    return {
        "walls": walls,
        "cpu_per_job": cpu / runs,
        "idle_rss": idle,
        "peak_rss": after["VmHWM"] if peak_reset else None,
        "after_rss": after["VmRSS"],
        "trace_peaks": peaks,
    }


async def run(
    kind: str, base_url: str, data: bytes, small_data: bytes, runs: int, traces: int
) -> None:
    if kind == "ours":
        async with aiohttp.ClientSession() as session:
            ours = Ours(session, base_url)
            result = await measure(ours, data, small_data, runs, traces)
            n = len(ours.decode)
            result["decode"] = statistics.median(ours.decode[2 : 2 + runs]) if n else 0.0
            result["create"] = statistics.median(ours.create[2 : 2 + runs]) if n else 0.0
    else:
        try:
            from openai import AsyncOpenAI
        except ImportError:
            print(json.dumps({"error": SDK_MISSING}))
            return
        # The SDK warns on every call that OpenAI's hosted Sora API is to shut down;
        # irrelevant against the fake.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=__name__)
        prompt = the_prompt(base_url)
        async with AsyncOpenAI(
            base_url=base_url, api_key=API_KEY, max_retries=0, timeout=60
        ) as client:

            async def sdk(data: bytes) -> str:
                video = await client.videos.create(
                    model=MODEL,
                    prompt=prompt,
                    seconds="8",
                    size="1280x720",
                    input_reference=(FILENAME, data, "image/png"),
                )
                return video.id

            result = await measure(sdk, data, small_data, runs, traces)
    result["kind"] = kind
    result["pid"] = os.getpid()
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description="internal: one client for bench.submit_path")
    parser.add_argument("--kind", choices=("ours", "sdk"), required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--small", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--trace-runs", type=int, default=5)
    args = parser.parse_args()
    data, small = args.image.read_bytes(), args.small.read_bytes()
    asyncio.run(run(args.kind, args.base_url, data, small, args.runs, args.trace_runs))


if __name__ == "__main__":
    main()
