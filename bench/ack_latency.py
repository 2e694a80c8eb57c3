"""Time from a modal submit leaving the fake gateway to the bot's defer arriving.

Runs the real Storyboard bot and, as the baseline in the same process, a bare
discord.py bot whose modal only defers. Both talk to the same kind of fake
Discord over loopback; the Storyboard bot also to the fake provider. Sequential
runs (one submit at a time) give the median the issue asks for; `--concurrency`
fires that many submits at once.

    .venv/bin/python -m bench.ack_latency --runs 100
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import discord
from discord import app_commands, ui
from discord.ext import commands

from bot.bot import StoryboardBot
from tests.fake_discord import FakeDiscord, InteractionHandle
from tests.fake_discord.standard import StandardGuild, add_standard_guild
from tests.fake_provider import FakeProvider
from tests.fake_provider.fixtures import GUILD_A_KEY, GUILD_B_KEY
from tests.harness import FOLLOWUP, config_for


class BareModal(ui.Modal, title="New storyboard video"):
    def __init__(self, custom_id: str = "bare:modal") -> None:
        # Unique per opening, as the Storyboard modal's: discord.py routes a submit by
        # custom_id alone and forgets a modal once submitted.
        super().__init__(custom_id=custom_id)
        for n in (1, 2, 3):
            self.add_item(
                ui.Label(
                    text=f"Shot {n}",
                    component=ui.TextInput(
                        custom_id=f"shot_{n}", style=discord.TextStyle.paragraph
                    ),
                )
            )
        self.add_item(
            ui.Label(
                text="Reference image", component=ui.FileUpload(custom_id="image", required=False)
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)


class BareBot(commands.Bot):
    """The baseline: acknowledges and does nothing else."""

    def __init__(self) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.none(),
            help_command=None,
        )

        @app_commands.command(name="storyboard", description="Make a video")
        async def storyboard(interaction: discord.Interaction, shots: int = 3) -> None:
            await interaction.response.send_modal(BareModal(f"bare:modal:{interaction.id}"))

        self.tree.add_command(storyboard)

    async def setup_hook(self) -> None:
        await self.tree.sync()


Submitter = Callable[[FakeDiscord, StandardGuild, int], Awaitable[InteractionHandle]]


async def one_submit(fd: FakeDiscord, std: StandardGuild, n: int) -> InteractionHandle:
    ix = await fd.run_slash_command(
        guild=std.guild, channel=std.text, user=std.alice, name="storyboard", options={"shots": 3}
    )
    await ix.wait_callback(timeout=30)
    sub = await fd.submit_modal(
        ix,
        {
            "shot_1": f"Run {n}: a door opens.",
            "shot_2": "A monster steps out.",
            "shot_3": "It waves.",
        },
    )
    await sub.wait_callback(timeout=30)
    return sub


async def measure(
    make_bot: Callable[[FakeDiscord, FakeProvider, Path], commands.Bot],
    runs: int,
    concurrency: int,
    workdir: Path,
) -> list[float]:
    latencies: list[float] = []
    async with (
        FakeProvider(keys={GUILD_A_KEY, GUILD_B_KEY}) as provider,
        FakeDiscord(ack_deadline=None, validate=False) as fd,
    ):
        with fd.point_discord_py_here():
            std = add_standard_guild(fd)
            bot = make_bot(fd, provider, workdir)
            async with fd.run_client(bot, skip_reidentify_delay=True):
                await one_submit(fd, std, -1)  # warm-up: first-use imports and connections
                done = 0
                while done < runs:
                    batch = min(concurrency, runs - done)
                    subs = await asyncio.gather(
                        *(one_submit(fd, std, done + i) for i in range(batch))
                    )
                    for sub in subs:
                        assert sub.state.acked_at is not None
                        latencies.append((sub.state.acked_at - sub.state.sent_at) * 1000)
                    done += batch
                # Let every flow finish (cards, threads, replies) before the bot closes.
                await settle(fd, bot)
    return latencies


async def settle(fd: FakeDiscord, bot: commands.Bot) -> None:
    if not isinstance(bot, StoryboardBot):
        return
    for _ in range(600):
        jobs = await bot.store.jobs()
        if all(j.card_message_id for j in jobs) and len(fd.calls_to(FOLLOWUP)) >= len(jobs):
            return
        await asyncio.sleep(0.05)


def storyboard_bot(fd: FakeDiscord, provider: FakeProvider, workdir: Path) -> commands.Bot:
    db = workdir / f"bench-{id(fd)}.sqlite3"
    return StoryboardBot(config_for(provider, fd, db))


def bare_bot(fd: FakeDiscord, provider: FakeProvider, workdir: Path) -> commands.Bot:
    return BareBot()


def summary(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return (
        f"{name:<22} n={len(values):<5} p50={statistics.median(values):7.2f} ms  "
        f"p99={p99:7.2f} ms  max={max(values):7.2f} ms"
    )


async def main(runs: int, concurrency: int) -> None:
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        ours = await measure(storyboard_bot, runs, concurrency, Path(tmp))
        bare = await measure(bare_bot, runs, concurrency, Path(tmp))
    print(f"modal submit -> defer, {runs} runs, {concurrency} at a time")
    print(summary("storyboard bot", ours))
    print(summary("bare discord.py bot", bare))
    print(
        f"ratio (storyboard / bare): p50 {statistics.median(ours) / statistics.median(bare):.2f}x, "
        f"max {max(ours) / max(bare):.2f}x; over 3 s: {sum(v > 3000 for v in ours)}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.concurrency))
