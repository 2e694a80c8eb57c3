"""A fleet: two `storyboard-bot run` processes, one per shard of 2, over one PostgreSQL.

Each process is told its shard by the environment (STORYBOARD_SHARD_IDS), as in
production; the fake Discord sends each only its shard's guilds and interactions. The
standard guild is on shard 1 (Alice submits there), the second guild on shard 0
(Carol). Which process sent each request is known from its socket (`Senders`), so a
test says not only that a job was delivered once, but by which process.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest_asyncio

from bot.shards import shard_of
from tests.fake_discord import FakeDiscord, RecordedCall
from tests.fake_discord.models import Channel, Guild, Member
from tests.fake_discord.standard import GUILD_ID, add_standard_guild
from tests.fake_discord.world import ApiError
from tests.fake_provider import FakeProvider, Fault
from tests.fake_provider.fixtures import GUILD_A_KEY, GUILD_B_KEY
from tests.harness import (
    CAROL_ID,
    SECOND_CHANNEL_ID,
    SECOND_GUILD_ID,
    SEND,
    followup_text,
)
from tests.processes import (
    KEY_A_ENV,
    KEY_B_ENV,
    Senders,
    assert_no_secrets,
    bot_process,
    card_fields,
    channel_videos,
    eventually,
    open_and_submit,
    stop,
    stored_jobs,
    write_process_config,
)
from tests.test_key_pacing import busiest_second

SHARDS = 2
# Provider seconds from a create to its video (queued 5 s, run 60 s), well inside the
# hour the provider keeps a video.
FINISHED = 70
# The shared key's ceiling in the pacing test: each process alone polls faster.
RATE = 4


@dataclass(frozen=True)
class Place:
    """Where a member submits: a guild, its channel, the member."""

    guild: Guild
    channel: Channel
    member: Member

    def __iter__(self) -> Iterator[Any]:
        return iter((self.guild, self.channel, self.member))


@dataclass
class Fleet:
    """The fakes, the database, and the bot processes a test started, by name."""

    fd: FakeDiscord
    fp: FakeProvider
    tmp: Path
    storage: dict[str, str]
    one: Place  # the standard guild: shard 1
    zero: Place  # the second guild: shard 0
    stack: AsyncExitStack
    senders: Senders = field(default_factory=Senders)
    procs: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)
    shards: dict[str, int] = field(default_factory=dict)  # each process's shard

    @property
    def config(self) -> Path:
        return self.tmp / "config.toml"

    def write_config(self, **options: Any) -> None:
        options.setdefault("guilds", {GUILD_ID: KEY_A_ENV, SECOND_GUILD_ID: KEY_B_ENV})
        write_process_config(self.config, self.fp, self.storage, **options)

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def said(self, name: str, text: str) -> bool:
        return text in self.log(name).read_text(encoding="utf-8", errors="replace")

    async def start(self, *processes: tuple[str, int]) -> None:
        """Start the named processes, each on its shard, together; return once each
        one's gateway session began."""

        async def start_one(name: str, shard: int) -> None:
            self.shards[name] = shard
            self.procs[name] = await self.stack.enter_async_context(
                bot_process(
                    self.fd,
                    self.config,
                    self.log(name),
                    shard=(shard, SHARDS),
                    senders=self.senders,
                    name=name,
                )
            )

        await asyncio.gather(*(start_one(name, shard) for name, shard in processes))

    async def kill(self, name: str) -> None:
        """SIGKILL: no drain, no goodbye."""
        self.procs[name].kill()
        await self.procs[name].wait()

    async def stop(self, *names: str) -> None:
        await asyncio.gather(*(stop(self.procs[name]) for name in names))

    def of_shard(self, guild: Guild) -> set[str]:
        """The processes the test started for `guild`'s shard."""
        return {n for n, s in self.shards.items() if s == shard_of(guild.id, SHARDS)}

    def jobs(self, guild: Guild) -> list[dict[str, Any]]:
        return [r for r in stored_jobs(self.storage) if r["guild_id"] == guild.id]

    def guild_of(self, call: RecordedCall) -> int | None:
        """The guild a Discord call was about (by its guild, channel or interaction)."""
        params = call.params
        if "guild_id" in params:
            return int(params["guild_id"])
        if "channel_id" in params:
            with contextlib.suppress(ApiError):  # a channel Discord does not know
                return self.fd.world.find_channel(int(params["channel_id"]))[0].id
            return None
        token = params.get("interaction_token") or params.get("webhook_token")
        for ix in self.fd.world.interactions.values():
            if ix.token == token:
                return ix.guild_id
        return None

    def discord_senders(self, guild: Guild) -> set[str | None]:
        """Who made the calls to Discord about `guild`."""
        return {c.sender for c in self.fd.calls if self.guild_of(c) == guild.id}

    def provider_senders(self, key: str) -> set[str | None]:
        return {r.sender for r in self.fp.requests if r.key == key}


def video_posts(fd: FakeDiscord, job_id: int) -> list[RecordedCall]:
    """Every attempt to post job `job_id`'s finished video (calls, not messages: Discord's
    nonce would fold a second post of the same video into the first message)."""
    return [
        c
        for c in fd.calls_to(SEND)
        if c.files and f"your video #{job_id} is ready" in c.json["content"]
    ]


def task_requests(fp: FakeProvider, route: str, task_id: str) -> list[Any]:
    return [r for r in fp.requests if r.route == route and task_id in r.path]


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[FakeProvider]:
    """Guild A's and B's keys; no poll hint, so the bots poll at their own (fast) pace."""
    async with FakeProvider(keys={GUILD_A_KEY, GUILD_B_KEY}, poll_after_ms=None) as fp:
        yield fp


@pytest_asyncio.fixture
async def fleet(
    fake_discord: FakeDiscord, provider: FakeProvider, tmp_path: Path, pg_url: str
) -> AsyncIterator[Fleet]:
    """Guilds on both shards, the database, no process started yet."""
    fd = fake_discord
    fd.world.max_concurrency = SHARDS  # shards 0 and 1 IDENTIFY in buckets of their own
    std = add_standard_guild(fd)
    carol = Member(CAROL_ID, "carol", global_name="Carol")
    studio = Channel(SECOND_CHANNEL_ID, "studio")
    second = fd.add_guild(SECOND_GUILD_ID, name="Second", channels=[studio], members=[carol])
    assert (shard_of(std.guild.id, SHARDS), shard_of(second.id, SHARDS)) == (1, 0)
    async with AsyncExitStack() as stack:
        fleet = Fleet(
            fd=fd,
            fp=provider,
            tmp=tmp_path,
            storage={"url": pg_url},
            one=Place(std.guild, std.text, std.alice),
            zero=Place(second, studio, carol),
            stack=stack,
        )
        fd.sender_of = provider.sender_of = fleet.senders
        yield fleet


async def test_each_process_serves_its_shard_and_a_killed_one_pays_and_posts_each_job_once(
    fleet: Fleet,
) -> None:
    """Jobs in guilds of both shards, each followed by its shard's process. Shard 1's
    process is killed (SIGKILL) in the middle of a delivery and of a submission, and
    started again: every job is paid once and posted once, by its shard's process; the
    other shard's process never touches them (nor they its job)."""
    f = fleet
    f.write_config()  # delivery_lease_seconds = 1
    await f.start(("shard0", 0), ("shard1", 1))
    # Carol's submission reaches only shard 0's process, Alice's only shard 1's.
    carols = await open_and_submit(f.fd, *f.zero, "A boat sails.")
    kite = await open_and_submit(f.fd, *f.one, "A kite rises.")
    for sub in (carols, kite):
        await eventually(lambda sub=sub: "is queued" in followup_text(sub), what="queued")
    [boat] = f.jobs(f.zero.guild)
    # Shard 0's job stays open across what shard 1 goes through.
    f.fp.set_status(boat["task_id"], "in_progress", progress=50)

    # Shard 1's process is killed while it downloads the kite's video (delivery claimed)
    # and while the create of a second job is at the provider, its answer not back yet.
    download = f.fp.inject(Fault(route="content", kind="hold"))
    create = f.fp.inject(Fault(route="create", kind="hold"))
    f.fp.advance(FINISHED)
    await open_and_submit(f.fd, *f.one, "It lands.")
    await eventually(lambda: len(f.fp.requests_to("create")) == 3, what="the create arrived")
    await eventually(lambda: f.fp.requests_to("content"), what="the download began")
    await f.kill("shard1")
    download.release()
    create.release()  # the provider makes the job though nobody waits for the answer
    await eventually(lambda: len(f.fp.jobs) == 3, what="the provider made the job")
    kite_row, landing_row = f.jobs(f.one.guild)
    assert (kite_row["state"], kite_row["delivered_at"]) == ("completed", None)
    assert kite_row["delivery_owner"] is not None  # the dead one's claim: its 1 s lease runs out
    assert (landing_row["state"], landing_row["task_id"]) == ("pending", None)
    f.fp.advance(FINISHED)  # the second job finishes while shard 1 is down

    await f.start(("shard1-again", 1))
    f.fp.set_status(boat["task_id"], None)  # and now shard 0's job finishes
    await eventually(
        lambda: all(r["delivered_at"] for r in stored_jobs(f.storage)), what="all delivered"
    )
    landing_row = f.jobs(f.one.guild)[1]
    await eventually(lambda: card_fields(f.fd, landing_row)["Status"] == "Completed")
    await f.stop("shard0", "shard1-again")

    # Paid once each: the create whose answer was lost was found, never sent again.
    assert len(f.fp.requests_to("create")) == 3
    jobs = stored_jobs(f.storage)
    assert [r["state"] for r in jobs] == ["completed"] * 3
    assert len({r["task_id"] for r in jobs}) == 3
    assert {r.sender for r in f.fp.requests_to("list")} == {"shard1-again"}
    # Posted once each, by the process holding the job's guild's shard.
    posts = {r["id"]: [c.sender for c in video_posts(f.fd, r["id"])] for r in jobs}
    assert posts == {
        boat["id"]: ["shard0"],
        kite_row["id"]: ["shard1-again"],
        landing_row["id"]: ["shard1-again"],
    }
    kite_downloads = task_requests(f.fp, "content", kite_row["task_id"])
    assert [r.sender for r in kite_downloads] == ["shard1", "shard1-again"]
    # Everything said to Discord and asked of the provider about a guild (interactions
    # answered, cards, threads, polls, downloads, posts) came from its shard's processes.
    assert f.discord_senders(f.zero.guild) == {"shard0"}
    assert f.discord_senders(f.one.guild) == {"shard1", "shard1-again"}
    assert f.provider_senders(GUILD_B_KEY) == {"shard0"}
    assert f.provider_senders(GUILD_A_KEY) == {"shard1", "shard1-again"}

    # What the members see: one video each, where they asked.
    alice = f.one.member
    [video] = channel_videos(f.fd, kite_row["thread_id"])
    assert video["content"].startswith(f"<@{alice.id}> your video #{kite_row['id']} is ready")
    assert len(channel_videos(f.fd, boat["thread_id"])) == 1
    # The job whose answer was lost had no card yet: it is posted in Alice's channel now,
    # and its video follows it there.
    card = f.fd.messages[landing_row["card_message_id"]]
    assert card["channel_id"] == str(f.one.channel.id)
    assert card["embeds"][0]["description"].endswith("It lands.")
    [landed] = [
        m for m in channel_videos(f.fd, f.one.channel.id) if f"#{landing_row['id']}" in m["content"]
    ]
    assert landed["content"].startswith(f"<@{alice.id}> your video #{landing_row['id']} is ready")
    assert_no_secrets(f.fd, *(f.log(n) for n in f.procs))


async def test_a_key_shared_by_guilds_on_both_shards_keeps_one_ceiling_for_the_fleet(
    fleet: Fleet,
) -> None:
    """Both guilds name the same key. While the two processes poll their three jobs each,
    each process alone would go RATE a second, and together they go no faster: the
    fleet's pacer (`Store.key_pacing`, a row per key in PostgreSQL) keeps them to RATE in
    any second the provider sees.

    Measured while they poll, once every submission was answered: then the test's own
    process does nothing but take the provider's requests, so the arrival times it
    records are the processes' doing, not the fake Discord's work on the cards."""
    f = fleet
    f.write_config(rate=RATE, guilds={GUILD_ID: KEY_A_ENV, SECOND_GUILD_ID: KEY_A_ENV})
    await f.start(("shard0", 0), ("shard1", 1))
    subs = [
        await open_and_submit(f.fd, *place, f"Scene {n}.")
        for n in range(3)
        for place in (f.zero, f.one)
    ]
    for sub in subs:
        await eventually(lambda sub=sub: "is queued" in followup_text(sub), what="queued")
    assert len(f.fp.requests_to("create")) == 6
    since = len(f.fp.requests)

    def polls(name: str) -> int:
        return sum(1 for r in f.fp.requests[since:] if r.sender == name)

    # The provider's clock stands still: every job stays queued and is polled on and on.
    await eventually(lambda: min(polls("shard0"), polls("shard1")) >= 8, within=30)
    await f.kill("shard0")
    await f.kill("shard1")

    polled = f.fp.requests[since:]
    assert {(r.route, r.key, r.status) for r in polled} == {("retrieve", GUILD_A_KEY, 200)}
    assert busiest_second([r.arrived_at for r in polled]) <= RATE


async def test_an_old_and_a_new_process_of_one_shard_deliver_a_finishing_job_once(
    fleet: Fleet,
) -> None:
    """A rolling deploy: the new process of shard 1 starts while the old one still runs,
    and the job finishes while both follow it. One hears it first and claims its delivery;
    the other hears it while the first is posting: its poll changes nothing (a
    compare-and-set on the job's state), the claim refuses it, and it says so."""
    f = fleet
    # Production's lease: a busy machine can't make the claim run out under its holder.
    f.write_config(lease=60)
    await f.start(("shard0", 0), ("old", 1))
    sub = await open_and_submit(f.fd, *f.one, "A kite rises.")
    await eventually(lambda: "is queued" in followup_text(sub), what="queued")
    [job] = f.jobs(f.one.guild)
    task = job["task_id"]

    await f.start(("new", 1))  # its turn to IDENTIFY comes 5 s after the old one's
    # Discord keeps both sessions of shard 1 while the deploy overlaps.
    live = [s for s in f.fd.gateway.sessions.values() if s.shard == (1, SHARDS) and s.live]
    assert len(live) == 2
    # Both follow the job: the old one since the submission, the new one from its start.
    await eventually(
        lambda: {r.sender for r in task_requests(f.fp, "retrieve", task)} >= {"old", "new"}
    )
    # The next look of each waits at the provider (a process looks at a job once at a
    # time, so the two held looks are one of each); the job finishes meanwhile.
    looks = [f.fp.inject(Fault(route="retrieve", kind="hold")) for _ in range(2)]
    download = f.fp.inject(Fault(route="content", kind="hold"))

    def held() -> list[str]:
        return [str(r.sender) for r in f.fp.requests_to("retrieve") if r.fault == "hold"]

    await eventually(lambda: len(held()) == 2, what="both looks held")
    first, second = held()
    assert {first, second} == {"old", "new"}
    f.fp.advance(FINISHED)
    looks[0].release()  # the first hears the job finished: it claims and downloads
    await eventually(lambda: f.fp.requests_to("content"), what="the first's download")
    looks[1].release()  # the second hears it while the first delivers
    refused = f"job={job['id']} task_id={task}: another process is delivering it"
    await eventually(lambda: f.said(second, refused), what=f"{second} refused by the claim")
    download.release()
    await eventually(lambda: f.jobs(f.one.guild)[0]["delivered_at"] is not None)
    await f.stop("old", "new", "shard0")

    assert [c.sender for c in video_posts(f.fd, job["id"])] == [first]
    assert [r.sender for r in f.fp.requests_to("content")] == [first]
    assert len(f.fp.requests_to("create")) == 1
    [video] = channel_videos(f.fd, job["thread_id"])
    assert video["content"].startswith(f"<@{f.one.member.id}> your video #{job['id']} is ready")
    assert f.said(first, f"job={job['id']} task_id={task} delivered (completed)")
    assert not f.said(second, f"job={job['id']} task_id={task} delivered")


async def test_a_rolling_deploys_new_process_leaves_a_create_in_flight_to_the_old_ones_answer(
    fleet: Fleet,
) -> None:
    """The old process of shard 1 is waiting for a create's answer when the new one starts
    and loads the pending job. The new one leaves it alone (the old one holds its send);
    the provider then refuses the create, and the member hears it as a refusal: nothing
    made, nothing counted, never "not confirmed" (which would count against the quota
    and send the new process looking for a job that does not exist)."""
    f = fleet
    # A lease shorter than the new process's start (its IDENTIFY waits 5 s), so the hold
    # it finds is one the old process has renewed while its create waited; the provider's
    # timeout long enough for the create to wait that long.
    f.write_config(lease=6, timeout=60)
    await f.start(("shard0", 0), ("old", 1))
    create = f.fp.inject(Fault(route="create", kind="hold", answer=422))
    sub = await open_and_submit(f.fd, *f.one, "A kite rises.")
    await eventually(lambda: f.fp.requests_to("create"), what="the create at the provider")
    [job] = f.jobs(f.one.guild)
    assert job["send_owner"] is not None

    await f.start(("new", 1))
    left = f"job={job['id']}: its create is being sent by a live process"

    def times_left() -> int:
        return f.log("new").read_text(encoding="utf-8", errors="replace").count(left)

    # Left alone, and again when the hold it saw would have run out: it was renewed.
    await eventually(lambda: times_left() >= 2, what="the new process leaves it alone twice")
    create.release()
    await eventually(
        lambda: "The video service refused the request" in followup_text(sub), what="refusal"
    )
    [row] = f.jobs(f.one.guild)
    assert (row["state"], row["task_id"]) == ("submit_failed", None)
    await f.stop("old", "new", "shard0")

    assert len(f.fp.requests_to("create")) == 1
    assert f.fp.requests_to("list") == []  # never looked for as "not confirmed"
    assert stored_jobs(f.storage)[0]["card_message_id"] is None  # no card for a refusal
    assert not f.said("new", "uncertain")
    assert not f.said("old", "uncertain")
