"""The fake Discord of `bench.fleet`: thousands of guilds over shards, in the bench's process.

`bench.procs.BenchDiscord` (interactions stamped when their frame is written, no ack
deadline, no body validation, a deep listen backlog) with what its scale needs:

- lookups by index: the fake finds a channel by scanning every guild and an
  interaction by its token by scanning every interaction, which at 10,000 guilds and
  thousands of interactions made the fake, not the bots, the slow part;
- calls counted by route, not kept (a run makes hundreds of thousands);
- every delivery (a message whose nonce is the tracker's `sb-deliver-<job>-<outcome>`)
  noted with the wall-clock time it was created, so duplicates and the lag from the
  provider's completion to the thread can be counted;
- the first accepted answer to each interaction token (the member's followup);
- dispatches sent under a lock per session, not one for all: with one, a bot process too
  busy to read its socket held up the interactions of every other process's shards,
  which Discord's separate connections never do.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Self

from bench.procs import BenchDiscord, StampingGateway
from tests.fake_discord.gateway import Session, guild_of
from tests.fake_discord.http_front import HttpFront
from tests.fake_discord.models import JSON, Channel, ChannelType, Guild, Member
from tests.fake_discord.recording import RecordedCall
from tests.fake_discord.world import (
    HAS_THREAD,
    TOKEN_LIFETIME,
    ApiError,
    InteractionState,
    World,
)

DELIVERY_NONCE = "sb-deliver-"
# Guild ids: (FIRST_GUILD_UNIT + i) << 22, so guild i is on shard (FIRST_GUILD_UNIT + i) %
# count and the ids look like Discord's (dated 2024). Channels and members take low bits.
FIRST_GUILD_UNIT = 1_250_000_000_000_000_000 >> 22
TEXT_CHANNEL_BITS = 1
MEMBER_BITS = 2


class TokenIndex(dict[int, InteractionState]):
    """The world's interactions by id, and by token too."""

    def __init__(self) -> None:
        super().__init__()
        self.by_token: dict[str, InteractionState] = {}

    def __setitem__(self, key: int, value: InteractionState) -> None:
        super().__setitem__(key, value)
        self.by_token[value.token] = value


class IndexedChannels(list[Channel]):
    """A guild's channels, keeping the world's channel index current: threads are appended
    (and channels removed) by the REST handlers themselves."""

    def __init__(
        self, guild: Guild, index: dict[int, tuple[Guild, Channel]], items: Iterable[Channel]
    ) -> None:
        super().__init__()
        self._guild = guild
        self._index = index
        for channel in items:
            self.append(channel)

    def append(self, channel: Channel) -> None:
        super().append(channel)
        self._index[channel.id] = (self._guild, channel)

    def remove(self, channel: Channel) -> None:
        super().remove(channel)
        self._index.pop(channel.id, None)


@dataclass(frozen=True)
class Delivery:
    """A delivery message the fake created: which job, which outcome, when (wall clock)."""

    job_id: int
    outcome: str
    at: float
    message_id: int


class FleetGateway(StampingGateway):
    """Each session's dispatches in order under its own lock. The shared lock is held
    only to number a dispatch, so none can slip between an IDENTIFY's READY and its
    GUILD_CREATEs (sent under the shared lock); a session's lock is asked for at once
    after numbering, and asyncio's locks are first come, first served, so frames leave
    in their sequence order."""

    def __init__(self, world: World, token: str) -> None:
        super().__init__(world, token)
        self._session_locks: dict[str, asyncio.Lock] = {}

    async def dispatch(self, event: str, data: JSON) -> None:
        guild_id = guild_of(event, data)
        sends: list[tuple[Session, JSON]] = []
        async with self._send_lock:
            for session in self.sessions.values():
                if not session.holds(guild_id):
                    continue
                session.seq += 1
                session.events.append((session.seq, event, data))
                if session.live:
                    sends.append((session, {"op": 0, "t": event, "s": session.seq, "d": data}))
        await asyncio.gather(*(self._send_in_order(session, frame) for session, frame in sends))

    async def _send_in_order(self, session: Session, frame: JSON) -> None:
        lock = self._session_locks.setdefault(session.id, asyncio.Lock())
        async with lock:
            if session.ws is not None:
                await self._send(session.ws, frame)


class FleetWorld(World):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.interactions = TokenIndex()
        self.channel_index: dict[int, tuple[Guild, Channel]] = {}
        self.deliveries: list[Delivery] = []

    def find_channel(self, channel_id: int) -> tuple[Guild, Channel]:
        found = self.channel_index.get(channel_id)
        if found is None:
            raise ApiError(404, 10003)
        return found

    def interaction_by_token(self, app_id: str, token: str) -> InteractionState:
        assert isinstance(self.interactions, TokenIndex)
        ix = self.interactions.by_token.get(token)
        if ix is None or app_id != str(self.app_id) or ix.callback_type is None:
            raise ApiError(404, 10015)
        if self.now() - ix.created_at > TOKEN_LIFETIME:
            raise ApiError(401, 50027)
        return ix

    def new_message(self, **kwargs: Any) -> JSON:
        msg = super().new_message(**kwargs)
        nonce = kwargs["body"].get("nonce")
        if isinstance(nonce, str) and nonce.startswith(DELIVERY_NONCE):
            job, _, outcome = nonce.removeprefix(DELIVERY_NONCE).partition("-")
            self.deliveries.append(Delivery(int(job), outcome, time.time(), int(msg["id"])))
        return msg


class FleetDiscord(BenchDiscord):
    def __init__(self) -> None:
        super().__init__()
        old = self.world
        self.world = FleetWorld(
            app_id=old.app_id, bot_user=old.bot_user, clock=old.clock, ack_deadline=None
        )
        self.gateway = FleetGateway(self.world, self.bot_token)
        self.world.emit = self.gateway.dispatch
        self.http = HttpFront(self.world, self, self.bot_token, validate=False)
        self.routes: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        # perf_counter() of the first accepted webhook call (followup, @original edit) per
        # interaction token: when the member's deferred answer was resolved.
        self.answered_at: dict[str, float] = {}

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    @property
    def fleet_world(self) -> FleetWorld:
        assert isinstance(self.world, FleetWorld)
        return self.world

    def record(self, call: RecordedCall) -> None:
        self.routes[call.route or f"{call.method} {call.path.split('/')[1]}"] += 1

    async def answered(self, call: RecordedCall, status: int, response: Any) -> None:
        call.status = status
        if status >= 400:
            self.refused[f"{call.route} {status}"] += 1
            return
        token = call.params.get("webhook_token")
        if token is not None and token not in self.answered_at:
            self.answered_at[token] = time.perf_counter()


@dataclass(frozen=True)
class FleetGuild:
    """One guild of the fleet: a text channel, one member, the index of its key."""

    guild: Guild
    text: Channel
    member: Member
    key_index: int


def guild_id_of(i: int) -> int:
    return (FIRST_GUILD_UNIT + i) << 22


def add_fleet_guilds(fd: FleetDiscord, count: int, shard_count: int, keys: int) -> list[FleetGuild]:
    """`count` guilds spread evenly over the shards. Guilds i..i+shard_count-1 share a key,
    so every key has guilds on every shard: the fleet's processes share each key."""
    world = fd.fleet_world
    guilds: list[FleetGuild] = []
    for i in range(count):
        gid = guild_id_of(i)
        text = Channel(gid + TEXT_CHANNEL_BITS, "general")
        member = Member(gid + MEMBER_BITS, f"member{i}", global_name=f"Member {i}")
        guild = fd.add_guild(gid, name=f"Fleet Guild {i}", channels=[text], members=[member])
        guild.channels = IndexedChannels(guild, world.channel_index, guild.channels)
        guilds.append(FleetGuild(guild, text, member, (i // shard_count) % keys))
    return guilds


def add_card_and_thread(fd: FleetDiscord, where: FleetGuild, name: str) -> int:
    """A job card the bot posted earlier in the guild's channel, with its thread (the
    thread's id is the card's): what a preloaded job points at. Returns the id."""
    world = fd.fleet_world
    guild, text = where.guild, where.text
    msg = world.new_message(
        channel_id=text.id, guild_id=guild.id, body={"content": "", "embeds": []}, files=[]
    )
    card_id = int(msg["id"])
    thread = Channel(
        id=card_id,
        name=name,
        type=ChannelType.PUBLIC_THREAD,
        parent_id=text.id,
        guild_id=guild.id,
        owner_id=guild.bot_member_id,
        auto_archive_duration=1440,
        member_ids={guild.bot_member_id},
    )
    guild.channels.append(thread)
    msg["flags"] |= HAS_THREAD
    return card_id
