"""The bot's memory: idle, following 1,000 open jobs, and 50 10 MB reference images at once.

The bot runs in a process of its own (`bench.bot_proc`: the product as
`storyboard-bot run` starts it, pointed at the fakes), the fake provider in
another, the fake Discord (and its CDN, which serves the attachments) in this
one. Memory is the bot process's, read from /proc/<pid>/status: VmRSS, and
VmHWM (the kernel's peak RSS) reset with clear_refs just before the phase it
measures; a 10 ms sampler of VmRSS runs alongside as a cross-check.

Runs, each with a fresh bot process and store:

1. idle: logged in to the fake Discord (READY and guilds), 3 s later;
2. 1,000 open jobs: a store holding 1,000 jobs submitted to the fake provider
   (through the real `VideoClient.create`, untimed), each with a card; the
   bot's tracker picks them up at start; measured once the provider has had
   two polls per job;
3. 50 images, bound 8: 50 `/storyboard` modals submitted at once, each with
   its own 10 MB PNG attachment (random noise) on the fake CDN; the bot
   downloads, decodes (`check_image`), stores and uploads each; measured until
   all 50 members have their answer;
4. the same with the bound raised to 50 (`image_slots` and
   `video_api.image_slots`, in the benchmark's bot process only);
5. the same as 3 with the provider paced at the config's default 2 requests/s
   (the tests' config allows 50), so the uploads are the slow stage.

`[images] max_mb` is 12 in every run; the rest is `tests.harness.config_for`.

    .venv/bin/python -m bench.memory
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from pydantic import SecretStr

from bench.procs import (
    MB,
    BenchDiscord,
    BotProcess,
    ProviderProcess,
    machine,
    noise_png,
    reset_peak_rss,
    write_bot_config,
)
from bot.profiles import OPENAI
from bot.store import NewJob, Store
from bot.storyboard import Shot, Storyboard, StoryboardSettings, validate_storyboard
from bot.tracker import visible_state
from bot.videos_api import CreateVideoRequest, VideoClient
from bot.videos_api.ratelimit import RequestPacer
from tests.fake_discord import FakeDiscord, InteractionHandle
from tests.fake_discord.standard import GUILD_ID, StandardGuild, add_standard_guild

IMAGE_BYTES = 10_000_000
IMAGES = 50
BATCH = f"{IMAGES} x 10 MB images"
OPEN_JOBS = 1000
IDLE_SETTLE_SECONDS = 3.0
SAMPLE_SECONDS = 0.01
PHASE_LIMIT_SECONDS = 180.0
POLLS_PER_JOB = 2
TRACKING_RPS = 100  # the config's ceiling: two looks at 1,000 jobs take 20 s
SETUP_CONCURRENCY = 16
LOG_LEVEL = "WARNING"
# The openai dialect: the relay's contract check re-parses each body with werkzeug
# (about 0.3 s per 10 MB upload, one at a time), which made the fake the slow stage.
DIALECT = "openai"
SECONDS = 8
BOARD = validate_storyboard(
    Storyboard(
        shots=(Shot(scene="A door opens.", duration=4), Shot(scene="A cat walks in.", duration=4)),
        settings=StoryboardSettings(model="sora-2", seconds=SECONDS),
    ),
    OPENAI,
    models=["sora-2"],
)


@dataclass
class Figures:
    """One run's memory figures (bytes) of the bot process."""

    name: str
    before: int  # VmRSS when the phase began
    peak: int = 0  # VmHWM over the phase (0: the kernel refused the reset)
    sampled_peak: int = 0  # highest 10 ms sample of VmRSS
    after: int = 0  # VmRSS once the phase was over
    seconds: float = 0.0
    threads: int = 0
    again_peak: int = 0  # the same batch a second time, same process
    again_after: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def top(self) -> int:
        return self.peak or self.sampled_peak


class Sampler:
    """VmRSS of the bot every 10 ms: the highest seen (a cross-check of VmHWM)."""

    def __init__(self, bot: BotProcess) -> None:
        self.bot = bot
        self.peak = 0
        self.threads = 0

    async def run(self) -> None:
        for _ in range(int(PHASE_LIMIT_SECONDS / SAMPLE_SECONDS)):
            status = self.bot.status()
            self.peak = max(self.peak, status["VmRSS"])
            self.threads = max(self.threads, status.get("Threads", 0))
            await asyncio.sleep(SAMPLE_SECONDS)


@contextlib.asynccontextmanager
async def sampling(bot: BotProcess) -> AsyncIterator[Sampler]:
    sampler = Sampler(bot)
    task = asyncio.create_task(sampler.run())
    try:
        yield sampler
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def idle_rss(bot: BotProcess) -> int:
    await asyncio.sleep(IDLE_SETTLE_SECONDS)  # discord.py waits 2 s for guilds before on_ready
    return bot.status()["VmRSS"]


def config(
    workdir: Path, tag: str, fd: FakeDiscord, fake: ProviderProcess, rps: float = 50
) -> Path:
    return write_bot_config(
        workdir / f"{tag}.toml",
        token=fd.bot_token,
        provider_url=fake.base_url,
        db=workdir / f"{tag}.sqlite3",
        images={"max_mb": 12},
        provider={"max_requests_per_second": rps, "profile": DIALECT},
        defaults={"seconds": SECONDS},
    )


async def run_idle(workdir: Path, provider: ProviderProcess) -> Figures:
    async with BenchDiscord() as fd:
        add_standard_guild(fd)
        cfg = config(workdir, "idle", fd, provider)
        async with BotProcess(fd, cfg, workdir / "idle.log") as bot:
            idle = await idle_rss(bot)
            status = bot.status()
            return Figures(
                "idle, logged in",
                idle,
                status["VmHWM"],
                after=status["VmRSS"],
                threads=status["Threads"],
                notes=["peak: since the process started"],
            )


async def make_jobs(provider: ProviderProcess, db: Path, channel_id: int, n: int) -> None:
    """`n` active jobs with cards, each created at the provider through the real client."""
    store = await Store.open(db)
    numbers = iter(range(n))
    try:
        async with aiohttp.ClientSession() as session:
            client = VideoClient(
                session,
                base_url=provider.base_url,
                api_key=SecretStr(provider.key),
                profile=OPENAI,
                timeout_seconds=60,
                pacer=RequestPacer(10_000),
            )

            async def submit_some() -> None:
                for i in numbers:
                    job = await store.create_job(
                        NewJob(
                            request_key=f"bench:{i}",
                            guild_id=GUILD_ID,
                            channel_id=channel_id,
                            user_id=1,
                            locale="en-US",
                            storyboard=BOARD,
                            filesize_limit=25 * MB,
                        )
                    )
                    meta = json.dumps({"storyboard_job": job.id, "request": job.request_key})
                    request = CreateVideoRequest.from_storyboard(BOARD, OPENAI, metadata=meta)
                    job = await store.mark_submitted(job.id, await client.create(request))
                    await store.set_card(
                        job.id,
                        channel_id=channel_id,
                        message_id=2_000_000_000_000_000_000 + i,
                        thread_id=3_000_000_000_000_000_000 + i,
                        shown=visible_state(job),
                    )

            await asyncio.gather(*(submit_some() for _ in range(SETUP_CONCURRENCY)))
    finally:
        await store.close()


async def run_tracking(workdir: Path, provider: ProviderProcess, idle: Figures) -> Figures:
    async with BenchDiscord() as fd:
        std = add_standard_guild(fd)
        cfg = config(workdir, "tracking", fd, provider, TRACKING_RPS)
        await make_jobs(provider, workdir / "tracking.sqlite3", std.text.id, OPEN_JOBS)
        polls0 = (await provider.stats())["routes"].get("retrieve", 0)
        async with BotProcess(fd, cfg, workdir / "tracking.log") as bot:
            before = await idle_rss(bot)  # the tracker loaded every open job at start
            reset = reset_peak_rss(bot.pid)
            t0 = time.perf_counter()
            polls = 0
            async with sampling(bot) as sampler:
                for _ in range(int(PHASE_LIMIT_SECONDS)):
                    stats = await provider.stats()
                    polls = stats["routes"].get("retrieve", 0) - polls0
                    if polls >= POLLS_PER_JOB * OPEN_JOBS:
                        break
                    await asyncio.sleep(1)
                else:
                    raise RuntimeError(f"only {polls} polls in {PHASE_LIMIT_SECONDS} s")
            status = bot.status()
            over_idle = (status["VmRSS"] - idle.before) / MB
            return Figures(
                f"{OPEN_JOBS:,} open jobs tracked",
                before,
                status["VmHWM"] if reset else 0,
                sampler.peak,
                status["VmRSS"],
                time.perf_counter() - t0,
                sampler.threads,
                notes=[f"{polls:,} polls", f"RSS after {over_idle:+.0f} MB over the idle bot"],
            )


async def open_modal(fd: FakeDiscord, std: StandardGuild) -> InteractionHandle:
    ix = await fd.run_slash_command(
        guild=std.guild, channel=std.text, user=std.alice, name="storyboard", options={"shots": 2}
    )
    await ix.wait_callback(timeout=60)
    return ix


def answered(sub: InteractionHandle) -> bool:
    """The member has the bot's answer: its first followup replaced the "thinking" message."""
    return sub.state.acked.is_set() and not sub.state.loading


@dataclass
class Batch:
    peak: int
    sampled_peak: int
    after: int
    seconds: float
    threads: int


async def image_batch(
    fd: FakeDiscord, std: StandardGuild, bot: BotProcess, image: bytes, tag: str
) -> Batch:
    """IMAGES modals opened, then all submitted at once, each with its own attachment."""
    modals = [await open_modal(fd, std) for _ in range(IMAGES)]
    files = [fd.attachment(f"reference-{n}.png", image, "image/png") for n in range(IMAGES)]
    await asyncio.sleep(0.5)
    reset = reset_peak_rss(bot.pid)
    t0 = time.perf_counter()
    async with sampling(bot) as sampler:
        subs = await asyncio.gather(
            *(
                fd.submit_modal(
                    ix,
                    {"shot_1": f"Job {n}: a door opens.", "shot_2": "A cat walks in."},
                    {"image": [att]},
                )
                for n, (ix, att) in enumerate(zip(modals, files, strict=True))
            )
        )
        for _ in range(int(PHASE_LIMIT_SECONDS / 0.05)):
            if all(answered(s) for s in subs):
                break
            await asyncio.sleep(0.05)
        else:
            done = sum(answered(s) for s in subs)
            raise RuntimeError(f"{tag}: {done}/{IMAGES} answered\n{bot.log_tail()}")
        seconds = time.perf_counter() - t0
    await asyncio.sleep(0.5)
    status = bot.status()
    return Batch(
        status["VmHWM"] if reset else 0, sampler.peak, status["VmRSS"], seconds, sampler.threads
    )


async def run_images(
    workdir: Path,
    provider: ProviderProcess,
    image: bytes,
    name: str,
    *,
    bound: int = 0,
    rps: float = 50,
    batches: int = 2,
) -> Figures:
    tag = f"images-{bound or 8}-{rps:g}"
    async with BenchDiscord() as fd:
        std = add_standard_guild(fd)
        cfg = config(workdir, tag, fd, provider, rps)
        creates0 = (await provider.stats())["routes"].get("create", 0)
        async with BotProcess(
            fd,
            cfg,
            workdir / f"{tag}.log",
            image_bound=bound,
            log_level=LOG_LEVEL,
        ) as bot:
            before = await idle_rss(bot)
            first = await image_batch(fd, std, bot, image, tag)
            figures = Figures(
                name,
                before,
                first.peak,
                first.sampled_peak,
                first.after,
                first.seconds,
                first.threads,
            )
            if batches > 1:
                again = await image_batch(fd, std, bot, image, tag)
                figures.again_peak = again.peak or again.sampled_peak
                figures.again_after = again.after
                figures.threads = max(first.threads, again.threads)
                figures.notes.append(f"2nd batch {again.seconds:.1f} s")
            creates = (await provider.stats())["routes"].get("create", 0) - creates0
            figures.notes.insert(0, f"{creates} creates")
            return figures


def mb(value: int) -> str:
    return f"{value / MB:.0f}" if value else "-"


def row(f: Figures, base: Figures | None) -> str:
    ratio = ""
    if base is not None and base.top > base.before:
        ratio = f"{(f.top - f.before) / (base.top - base.before):.2f}x"
    cells = [
        f.name,
        mb(f.before),
        mb(f.peak),
        mb(f.sampled_peak),
        f"{(f.top - f.before) / MB:+.0f}" if f.top else "-",
        ratio,
        mb(f.after),
        f"{mb(f.again_peak)} / {mb(f.again_after)}" if f.again_peak else "",
        f"{f.seconds:.1f}" if f.seconds else "-",
        str(f.threads),
        "; ".join(f.notes),
    ]
    return "| " + " | ".join(cells) + " |"


HEADER = (
    "| run | RSS before MB | peak (VmHWM) MB | peak sampled MB | peak - before MB "
    "| vs bound 8 | RSS after MB | same batch again: peak / after MB | phase s | threads "
    "| notes |\n|---|---|---|---|---|---|---|---|---|---|---|"
)


async def main(skip_slow: bool) -> None:
    runs: list[Figures] = []
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        workdir = Path(tmp)
        image = noise_png(IMAGE_BYTES)
        async with ProviderProcess(dialect=DIALECT) as provider:
            steps: list[tuple[str, Callable[[], Awaitable[Figures]]]] = [
                ("idle", lambda: run_idle(workdir, provider)),
                ("tracking", lambda: run_tracking(workdir, provider, runs[0])),
                ("bound 8", lambda: run_images(workdir, provider, image, f"{BATCH}, bound 8")),
                (
                    "bound 50",
                    lambda: run_images(workdir, provider, image, f"{BATCH}, bound 50", bound=50),
                ),
            ]
            if not skip_slow:
                steps.append(
                    (
                        "bound 8, 2 rps",
                        lambda: run_images(
                            workdir,
                            provider,
                            image,
                            f"{BATCH}, bound 8, provider 2 req/s",
                            rps=2,
                            batches=1,
                        ),
                    )
                )
            for label, step in steps:
                figures = await step()
                runs.append(figures)
                print(f"  {label}: {row(figures, None)}", flush=True)
    print(
        f"\nbot process memory ({machine()}; image {len(image) / 1e6:.1f} MB, "
        f"{len(image) / MB:.2f} MiB)\n"
    )
    print(HEADER)
    base = runs[2]
    for figures in runs:
        print(row(figures, base if figures.name.startswith(BATCH) else None))
    per_image = [(f.top - f.before) / IMAGES / MB for f in runs[2:] if f.top]
    if per_image:
        print(
            "\npeak growth per image submitted: "
            + ", ".join(f"{v:.1f} MB" for v in per_image)
            + f" (median {statistics.median(per_image):.1f})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--skip-slow", action="store_true", help="leave out run 5 (the 2 requests/s provider)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.skip_slow))
