"""Two bot processes, one per shard of 2, over one database, through the fake Discord.

Each `StoryboardBot` here stands for a process: its own gateway session (the fake sends
it only its shard's guilds and their interactions), its own store connection to the
same SQLite file. The standard guild is on shard 1, the second guild (and the no-key
one) on shard 0.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import discord
import pytest
import pytest_asyncio

from bot.bot import ShardedStoryboardBot, StoryboardBot
from bot.config import Config
from bot.identify_pacing import IDENTIFY_WINDOW_SECONDS, IdentifyPacer
from bot.ops import gateway_connected
from bot.shards import shard_of
from bot.store import Store
from tests.fake_discord import FakeDiscord
from tests.fake_discord.discordpy import running_client
from tests.fake_discord.standard import GUILD_ID
from tests.fake_provider import FakeProvider
from tests.harness import (
    NO_KEY_GUILD_ID,
    SECOND_GUILD_ID,
    ErrorCatcher,
    World,
    build_world,
    expected_errors_of,
    stop_or_show_why,
)
from tests.test_drafts_e2e import new_draft, panel_text
from tests.test_tracking_e2e import deliveries

SYNC = "PUT /applications/{application_id}/commands"
ARCHIVER = "storyboard-draft-archiver"


@dataclass
class Fleet:
    """One `World` per shard: the same fakes, guilds and database, each its own bot."""

    worlds: dict[int, World]
    caplog: pytest.LogCaptureFixture

    def __getitem__(self, shard: int) -> World:
        return self.worlds[shard]

    @property
    def fd(self) -> FakeDiscord:
        return self.worlds[0].fd

    @property
    def provider(self) -> FakeProvider:
        return self.worlds[0].provider

    def config(self, shard: int) -> Config:
        return self.worlds[shard].config_with(discord={"shard_count": 2, "shard_ids": [shard]})

    async def start(self, shard: int) -> StoryboardBot:
        return await self.worlds[shard].start_bot(self.config(shard))

    def connected_line(self, shard: int) -> str | None:
        """The process's first line after login ("connected as ..."), once it is said."""
        lines = [
            r.getMessage()
            for r in self.caplog.records
            if r.getMessage().startswith("connected as")
            and f"(shard {shard} of 2)" in r.getMessage()
        ]
        assert len(lines) <= 1, lines
        return lines[0] if lines else None

    async def connected(self, shard: int) -> str:
        await self.worlds[shard].wait_until(lambda: self.connected_line(shard) is not None)
        line = self.connected_line(shard)
        assert line is not None
        return line


@pytest_asyncio.fixture
async def fleet(
    fake_discord: FakeDiscord,
    fake_provider: FakeProvider,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
    store_backend: str,
) -> AsyncIterator[Fleet]:
    """Guilds on both shards, no bot started: each test starts the processes it needs."""
    caplog.set_level(logging.INFO)
    with ErrorCatcher().attached() as errors:
        base = build_world(fake_discord, fake_provider, tmp_path, store_backend)
        worlds = {shard: replace(base, stack=AsyncExitStack()) for shard in (0, 1)}
        try:
            yield Fleet(worlds, caplog)
        finally:
            for world in worlds.values():
                await stop_or_show_why(world)
    bad = errors.unexpected(expected_errors_of(request))
    if bad:
        pytest.fail("unexpected ERROR logs:\n" + "\n".join(bad), pytrace=False)


def archivers() -> int:
    return sum(1 for t in asyncio.all_tasks() if t.get_name() == ARCHIVER and not t.done())


def test_the_guilds_are_on_both_shards() -> None:
    assert (shard_of(GUILD_ID, 2), shard_of(SECOND_GUILD_ID, 2), shard_of(NO_KEY_GUILD_ID, 2)) == (
        1,
        0,
        0,
    )


async def test_only_the_process_with_shard_0_syncs_commands_and_archives_drafts(
    fleet: Fleet,
) -> None:
    one = await fleet.start(1)
    assert isinstance(one, ShardedStoryboardBot) and (one.shard_count, one.shard_ids) == (2, [1])
    assert fleet.fd.calls_to(SYNC) == []
    assert archivers() == 0
    zero = await fleet.start(0)
    assert len(fleet.fd.calls_to(SYNC)) == 1
    assert archivers() == 1

    # Each process was sent only its shard's guilds, and says which shards it runs.
    line_one, line_zero = await fleet.connected(1), await fleet.connected(0)
    assert "to 1 servers (shard 1 of 2); commands left to the process with shard 0;" in line_one
    assert "to 2 servers (shard 0 of 2); commands synced (global);" in line_zero
    assert {g.id for g in one.guilds} == {GUILD_ID}
    assert {g.id for g in zero.guilds} == {SECOND_GUILD_ID, NO_KEY_GUILD_ID}
    assert gateway_connected(one) and gateway_connected(zero)  # what /healthz reports

    # The fleet's one archiver reaches a draft of a guild on the other shard (by REST).
    draft = await new_draft(fleet[1])  # in the standard guild: shard 1
    await fleet[0].sql("UPDATE drafts SET updated_at = updated_at - 31 * 86400")
    from cogs.draft.commands import DraftCog

    cog = zero.get_cog("DraftCog")
    assert isinstance(cog, DraftCog)
    [archived] = await cog.archive_now()
    assert archived.id == draft.id
    await fleet[1].wait_until(lambda: "Archived" in panel_text(fleet[1], draft))


async def test_each_process_answers_its_own_guilds_and_delivers_their_jobs(fleet: Fleet) -> None:
    await fleet.start(1)
    await fleet.start(0)
    received: dict[int, list[int]] = {0: [], 1: []}
    for shard in (0, 1):

        async def record(interaction: discord.Interaction, shard: int = shard) -> None:
            received[shard].append(interaction.id)

        fleet[shard].bot.add_listener(record, "on_interaction")

    # Alice in the standard guild (shard 1), Carol in the second guild (shard 0).
    one, zero = fleet[1], fleet[0]
    ix_one = await one.open_storyboard(shots=1, seconds=10)
    sub_one = await one.submit(ix_one, ["A kite rises."])
    [job_one] = await one.jobs()
    ix_zero = await zero.open_storyboard(
        zero.carol, guild=zero.second, channel=zero.second_channel, shots=1, seconds=10
    )
    sub_zero = await zero.submit(ix_zero, ["A boat sails."])
    [_, job_zero] = await zero.jobs()
    assert received == {1: [ix_one.id, sub_one.id], 0: [ix_zero.id, sub_zero.id]}
    assert (job_one.guild_id, job_zero.guild_id) == (GUILD_ID, SECOND_GUILD_ID)
    # Each job is followed by the process that took its submission, and by no other.
    await one.wait_until(lambda: one.bot.tracker.open_count == 1)
    assert zero.bot.tracker.open_count == 1

    fleet.provider.advance(3600)
    await one.wait_until(lambda: deliveries(one, job_one.thread_id))
    await zero.wait_until(lambda: deliveries(zero, job_zero.thread_id))
    await one.wait_until(lambda: one.bot.tracker.open_count + zero.bot.tracker.open_count == 0)
    assert len(deliveries(one, job_one.thread_id)) == 1
    assert len(deliveries(zero, job_zero.thread_id)) == 1
    assert sorted(r.key for r in fleet.provider.requests_to("content")) == [
        "sk-guild-a",
        "sk-guild-b",
    ]


async def test_on_restart_each_process_resumes_only_the_jobs_of_its_guilds(fleet: Fleet) -> None:
    await fleet.start(1)
    await fleet.start(0)
    one, zero = fleet[1], fleet[0]
    kites = [await one.submitted_job("A kite rises."), await one.submitted_job("It lands.")]
    ix = await zero.open_storyboard(
        zero.carol, guild=zero.second, channel=zero.second_channel, shots=1, seconds=10
    )
    await zero.submit(ix, ["A boat sails."])
    boat = (await zero.jobs())[-1]
    await one.stop_bot()
    await zero.stop_bot()
    fleet.provider.advance(3600)  # all three finish while both processes are down

    fleet.caplog.clear()
    await fleet.start(1)
    await fleet.start(0)
    assert (await fleet.connected(1)).endswith("; 2 open jobs resumed")
    assert (await fleet.connected(0)).endswith("; 1 open jobs resumed")
    for world, job in [(one, kites[0]), (one, kites[1]), (zero, boat)]:
        await world.wait_until(lambda w=world, j=job: deliveries(w, j.thread_id))
    await one.wait_until(lambda: one.bot.tracker.open_count + zero.bot.tracker.open_count == 0)
    for world, job in [(one, kites[0]), (one, kites[1]), (zero, boat)]:
        assert len(deliveries(world, job.thread_id)) == 1
    assert len(fleet.provider.requests_to("content")) == 3  # each video fetched once


class DiscordTime:
    """The fake Discord's clock, stopped, moved only by the bots' pacing sleeps: Discord
    dates each IDENTIFY on it, and 5 s pass at once and exactly.

    A real 5 s sleep leaves the IDENTIFY of the turn before ample time to arrive; here
    the sleep first waits for it to arrive, so moving the clock can't date it late."""

    def __init__(self, fd: FakeDiscord) -> None:
        self.fd = fd
        self.sleeps = 0
        fd.world.clock = lambda: 1_000.0

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        await self.fd.gateway.wait_sessions(self.sleeps, 10)  # READY: its IDENTIFY was dated
        self.fd.advance_clock(seconds)


@pytest.mark.parametrize(("max_concurrency", "apart"), [(1, IDENTIFY_WINDOW_SECONDS), (2, 0.0)])
async def test_processes_starting_together_take_turns_to_identify(
    fleet: Fleet, max_concurrency: int, apart: float
) -> None:
    """With one bucket, the second process IDENTIFYs a whole window after the first; with
    two, shards 0 and 1 are in different buckets and start together."""
    fd = fleet.fd
    fd.world.max_concurrency = max_concurrency
    # The database made first: two processes migrating one new SQLite file at once race
    # (both read version 0); applying migrations once across processes is the store's
    # own work (issue 16, "applied under pg_advisory_lock"), not the gateway's.
    await (await Store.open(fleet[0].config.storage_path)).close()
    time = DiscordTime(fd)
    starts = []
    for shard in (0, 1):
        world = fleet[shard]
        world.bot = bot = StoryboardBot(fleet.config(shard))
        assert isinstance(bot, ShardedStoryboardBot)
        bot.identify_pacer = IdentifyPacer(clock=fd.world.now, sleep=time.sleep)
        starts.append(
            world.stack.enter_async_context(
                running_client(
                    bot,
                    fd.bot_token,
                    lambda shard=shard: fd.gateway.wait_shard((shard, 2), 10),
                    ready_within=10,
                )
            )
        )
    await asyncio.gather(*starts)
    identified = sorted(fd.gateway.log.identified, key=lambda r: r.at)
    assert {r.shard for r in identified} == {(0, 2), (1, 2)}
    assert [r.at for r in identified] == [1_000.0, 1_000.0 + apart]
    assert len(fd.calls_to("GET /gateway/bot")) == 2  # each process asked once
    waited = [r.getMessage() for r in fleet.caplog.records if "for its turn" in r.getMessage()]
    if apart:
        [line] = waited
        assert line.endswith("waited 5.0 s for its turn to connect")
    else:
        assert waited == []
