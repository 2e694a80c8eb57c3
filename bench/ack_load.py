"""Interaction acknowledgement under load: 50, 200 and 1,000 modal submits at once.

For each level, and for the real Storyboard bot and the bare discord.py bot of
`bench.ack_latency` (whose modal only defers) in turn: a fresh fake Discord,
a bot process of its own (`bench.bot_proc`, the product started as
`storyboard-bot run` starts it), N `/storyboard` modals opened (not timed),
then all N modals submitted in one burst. Measured per submit: from its
INTERACTION_CREATE frame being written by the fake gateway to the bot's defer
(callback type 5) arriving at the fake's REST route.

The fake Discord runs in this process, the fake provider in another, the bot
in a third, so the fakes do not take the bot's CPU. How far the fake itself
fell behind is printed too: the worst lateness of this process's event loop
during the burst (an upper bound on what the fake added to any one figure).

    .venv/bin/python -m bench.ack_load
    .venv/bin/python -m bench.ack_load --levels 50 200 1000 2000
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import logging
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.procs import (
    BenchDiscord,
    BotProcess,
    LoopLag,
    ProviderProcess,
    machine,
    percentile,
    write_bot_config,
)
from tests.fake_discord import FakeDiscord, InteractionHandle
from tests.fake_discord.standard import StandardGuild, add_standard_guild

LEVELS = (50, 200, 1000)
KINDS = ("storyboard", "bare")
NAMES = {"storyboard": "Storyboard bot", "bare": "bare discord.py"}
DISCORD_DEADLINE_MS = 3000.0
OPEN_BATCH = 100
ACK_WAIT_SECONDS = 120.0
SERIAL = itertools.count(1)


@dataclass(frozen=True)
class Run:
    """One burst against one fresh bot process."""

    latencies: list[float]  # ms, one per submit
    window: float  # first frame written -> last defer arrived, s
    burst_dispatch: float  # writing all N frames, s
    bot_cpu: float  # s of the bot process during the window
    fake_cpu: float  # s of this process (the fake Discord) during the window
    lag_ms: float  # worst lateness of the fake's loop during the burst


@dataclass(frozen=True)
class Result:
    """Every run of one bot at one level; latencies pooled."""

    level: int
    kind: str
    runs: list[Run]

    @property
    def latencies(self) -> list[float]:
        return [v for run in self.runs for v in run.latencies]

    @property
    def window(self) -> float:
        return statistics.median(run.window for run in self.runs)

    @property
    def over_deadline(self) -> int:
        return sum(v > DISCORD_DEADLINE_MS for v in self.latencies)

    def share(self, cpu: list[float]) -> str:
        return f"{statistics.median(c / r.window for c, r in zip(cpu, self.runs, strict=True)):.0%}"

    def cells(self) -> list[str]:
        lat = self.latencies
        p50s = [statistics.median(run.latencies) for run in self.runs]
        return [
            f"{self.level:,}",
            NAMES[self.kind],
            f"{statistics.median(lat):.1f}",
            f"{min(p50s):.0f}-{max(p50s):.0f}",
            f"{percentile(lat, 0.99):.1f}",
            f"{max(lat):.1f}",
            str(self.over_deadline),
            f"{self.window:.2f}",
            self.share([run.bot_cpu for run in self.runs]),
            self.share([run.fake_cpu for run in self.runs]),
            f"{statistics.median(run.burst_dispatch for run in self.runs) * 1000:.0f}",
            f"{max(run.lag_ms for run in self.runs):.0f}",
        ]


def modal_values(n: int) -> dict[str, str]:
    return {
        "shot_1": f"Run {n}: a door opens.",
        "shot_2": "A monster steps out.",
        "shot_3": "It waves.",
    }


async def open_modal(fd: FakeDiscord, std: StandardGuild) -> InteractionHandle:
    ix = await fd.run_slash_command(
        guild=std.guild, channel=std.text, user=std.alice, name="storyboard", options={"shots": 3}
    )
    await ix.wait_callback(timeout=60)
    return ix


async def wait_acked(subs: list[InteractionHandle], within: float) -> None:
    await asyncio.wait_for(asyncio.gather(*(s.state.acked.wait() for s in subs)), within)


async def measure(kind: str, level: int, provider: ProviderProcess, workdir: Path) -> Run:
    async with BenchDiscord() as fd:
        std = add_standard_guild(fd)
        tag = f"{kind}-{level}-{next(SERIAL)}"
        config = write_bot_config(
            workdir / f"{tag}.toml",
            token=fd.bot_token,
            provider_url=provider.base_url,
            db=workdir / f"{tag}.sqlite3",
        )
        async with BotProcess(fd, config, workdir / f"{tag}.log", bare=kind == "bare") as bot:
            # Warm-up: first-use imports and connections, as in bench.ack_latency.
            warm = await fd.submit_modal(await open_modal(fd, std), modal_values(-1))
            await warm.wait_callback(timeout=60)
            modals: list[InteractionHandle] = []
            for start in range(0, level, OPEN_BATCH):
                batch = min(OPEN_BATCH, level - start)
                modals += await asyncio.gather(*(open_modal(fd, std) for _ in range(batch)))
            await asyncio.sleep(0.5)  # let the bot go idle before the burst

            # The fake's garbage collector must not pause it mid-burst (a gen-2 pass over
            # the previous runs' leftovers took hundreds of ms): collect now, not during.
            gc.collect()
            gc.disable()
            lag = LoopLag()
            lag.start()
            try:
                cpu0, fake0 = bot.cpu_seconds(), time.process_time()
                t0 = time.perf_counter()
                subs = await asyncio.gather(
                    *(fd.submit_modal(ix, modal_values(n)) for n, ix in enumerate(modals))
                )
                dispatched = time.perf_counter() - t0
                try:
                    await wait_acked(subs, ACK_WAIT_SECONDS)
                except TimeoutError:
                    missing = sum(not s.state.acked.is_set() for s in subs)
                    raise RuntimeError(
                        f"{tag}: {missing} submit(s) never acknowledged\n{bot.log_tail()}"
                    ) from None
                cpu1, fake1 = bot.cpu_seconds(), time.process_time()
            finally:
                await lag.stop()
                gc.enable()
    latencies: list[float] = []
    for sub in subs:
        assert sub.state.acked_at is not None
        latencies.append((sub.state.acked_at - sub.state.sent_at) * 1000)
    first = min(s.state.sent_at for s in subs)
    last = max(s.state.acked_at or 0.0 for s in subs)
    return Run(latencies, last - first, dispatched, cpu1 - cpu0, fake1 - fake0, lag.worst_ms)


HEADER = (
    "| concurrent | bot | p50 ms | p50 per run | p99 ms | max ms | over 3 s | all acked in s "
    "| bot CPU | fake CPU | fake writes N frames ms | fake loop worst lag ms |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def ratio_row(ours: Result, bare: Result) -> str:
    def r(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b > 0 else "-"

    o, b = ours.latencies, bare.latencies
    return (
        f"| {ours.level:,} | ratio Storyboard / bare | "
        f"{r(statistics.median(o), statistics.median(b))} | | "
        f"{r(percentile(o, 0.99), percentile(b, 0.99))} | {r(max(o), max(b))} | | "
        f"{r(ours.window, bare.window)} | | | | |"
    )


async def main(levels: list[int], repeats: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    runs: dict[tuple[int, str], list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-ack-load-") as tmp:
        async with ProviderProcess() as provider:
            for level in levels:
                for attempt in range(repeats):
                    for kind in KINDS:  # interleaved, so drift hits both bots alike
                        run = await measure(kind, level, provider, Path(tmp))
                        runs.setdefault((level, kind), []).append(run)
                        print(
                            f"  {level:>5} #{attempt + 1} {NAMES[kind]:<16} p50 "
                            f"{statistics.median(run.latencies):8.1f} ms  max "
                            f"{max(run.latencies):8.1f} ms",
                            flush=True,
                        )
    print(
        f"\nmodal submit -> defer, N submits in one burst, {repeats} runs each "
        f"(latencies pooled; {machine()})\n"
    )
    print(HEADER)
    for level in levels:
        ours = Result(level, "storyboard", runs[(level, "storyboard")])
        bare = Result(level, "bare", runs[(level, "bare")])
        print("| " + " | ".join(ours.cells()) + " |")
        print("| " + " | ".join(bare.cells()) + " |")
        print(ratio_row(ours, bare))
    over = sum(
        Result(level, "storyboard", runs[(level, "storyboard")]).over_deadline for level in levels
    )
    print(f"\nStoryboard acks over Discord's 3 s: {over}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", type=int, nargs="+", default=list(LEVELS))
    parser.add_argument("--repeats", type=int, default=3, help="bursts per bot and level")
    args = parser.parse_args()
    asyncio.run(main(args.levels, args.repeats))
