"""The Bot: owns the shared HTTP session, the video API, the store and the cogs."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bot.config import Config
from bot.identify_pacing import IdentifyPacer
from bot.ops import OpsServer, start_ops
from bot.sandbox_videos import SandboxVideos
from bot.store import Store, open_store
from bot.store.api import StoreApi
from bot.store.db import DatabaseUnavailable
from bot.submission import Submitter
from bot.tracker import Tracker
from bot.transcoder import Transcoder
from bot.tree import StoryboardTree
from bot.videos_api import VideoApi

log = logging.getLogger(__name__)

# A close nobody gave a deadline (discord.py's own, a test's): how long work under way
# may take to finish before it is cut off.
CLOSE_DRAIN_SECONDS = 5.0
# Of a stop's budget, kept for what follows the drain: the tracker, the gateway, the HTTP
# session and the store close in this time.
CLOSE_RESERVE_SECONDS = 1.5
# At most this long for the tracker's looks under way to finish when stopping.
TRACKER_GRACE_SECONDS = 2.0
# How long a cancelled submission gets to unwind before the session and store under it close.
CANCEL_GRACE_SECONDS = 0.5
IMAGE_SLOTS = 8
# Meta keys holding the hash of the commands last synced to a scope ("global" or a guild id).
COMMANDS_HASH = "commands_hash:"
EXTENSIONS: tuple[str, ...] = (
    # First: command descriptions and choices in every catalogue language (read at sync).
    "cogs.translator",
    "cogs.errors",
    "cogs.storyboard",
    "cogs.fix_preview",
    "cogs.help",
    "cogs.jobs",
    "cogs.draft",
    "cogs.admin",
    "cogs.characters",
)


class StoreUnavailable(Exception):
    """The database could not be opened (a path not writable, a file that is not SQLite)."""


class StoryboardBot(commands.Bot):
    """Everything a cog needs hangs off this object; no module globals.

    With `[discord] shard_count` set, `StoryboardBot(config)` is a `ShardedStoryboardBot`
    (as `pathlib.Path(...)` is a `PosixPath`): one gateway connection per shard of this
    process. Without, it is exactly one connection, as discord.py's plain `Bot` makes:
    an `AutoShardedBot` given no count would ask Discord for one and could shard.
    """

    def __new__(cls, config: Config, *, force_sync: bool = False) -> StoryboardBot:
        if config.shards is not None and not issubclass(cls, commands.AutoShardedBot):
            cls = ShardedStoryboardBot
        return object.__new__(cls)

    def __init__(self, config: Config, *, force_sync: bool = False) -> None:
        # The bot has no voice: discord.py's two warnings about voice libraries are noise.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        # No privileged intents: everything arrives as interactions.
        intents = discord.Intents.none()
        intents.guilds = True
        # The shards are read once: a reload can't move this process to others (restart-only).
        self.own_shards = config.shards
        sharding: dict[str, Any] = {}  # AutoShardedBot's options, beyond Bot's typed ones
        if self.own_shards is not None:
            sharding = {
                "shard_count": self.own_shards.count,
                "shard_ids": list(self.own_shards.ids),
            }
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=StoryboardTree,
            **sharding,
        )
        self.config = config
        if isinstance(self.tree, StoryboardTree):
            self.tree.config_source = self.current_config
        self.force_sync = force_sync
        self._session: aiohttp.ClientSession | None = None
        self._video_api: VideoApi | None = None
        self._store: Store | None = None
        self._submitter: Submitter | None = None
        self._tracker: Tracker | None = None
        self._inflight: set[asyncio.Task[object]] = set()
        # When the whole stop must be over (event-loop time); see `stop_by`.
        self._stop_deadline: float | None = None
        # Reference images are held whole while downloaded, checked and sent: bound how
        # many at once (memory). The video API bounds uploads on other paths too.
        self.image_slots = asyncio.Semaphore(IMAGE_SLOTS)
        # Videos over a member's upload limit are fitted in threads, a bounded number at once.
        media = config.file.media
        self.transcoder = Transcoder(media.transcode_slots, media.transcode_queue)
        # (job id, action) of paid button presses under way: a double click pays once.
        self.pressing: set[tuple[int, str]] = set()
        # The ops endpoint (/healthz, /metrics), when [ops] listen is set.
        self.ops: OpsServer | None = None
        # Now, as Discord dates messages: the wall clock. A message's age is this less its
        # id's date (an old card is not edited often). Tests move it with the fake Discord's.
        self.discord_clock: Callable[[], float] = time.time
        # Set once Discord accepted the token: the runner's watchdog for an unreachable Discord.
        self.logged_in = asyncio.Event()
        # For the first line after login (on_ready): what the start did to the commands.
        self.sync_summary = "commands not synced"
        self._resumed = 0
        self._announced = False
        # The sandbox provider's clock (`bot.videos_api.sandbox`): a job's state is its
        # age. Tests move it to walk a job through its states without waiting.
        self.sandbox_clock: Callable[[], float] = time.time

    @property
    def video_api(self) -> VideoApi:
        if self._video_api is None:
            raise RuntimeError("video API used before setup_hook")
        return self._video_api

    @property
    def store(self) -> StoreApi:
        if self._store is None:
            raise RuntimeError("store used before setup_hook")
        return self._store

    @property
    def submitter(self) -> Submitter:
        if self._submitter is None:
            raise RuntimeError("submitter used before setup_hook")
        return self._submitter

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            raise RuntimeError("tracker used before setup_hook")
        return self._tracker

    def current_config(self) -> Config:
        return self.config

    @property
    def holds_first_shard(self) -> bool:
        """This process does the fleet's one-off work: syncing the commands, archiving
        idle drafts. Unsharded, it is the whole fleet."""
        return self.own_shards is None or self.own_shards.has_first

    def gateway_open(self) -> bool:
        """The gateway connection is open right now (not mid-reconnect)."""
        return self.ws is not None and self.ws.open

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Marks the current task as work a graceful stop should let finish."""
        task = asyncio.current_task()
        if task is None:
            yield
            return
        self._inflight.add(task)
        try:
            yield
        finally:
            self._inflight.discard(task)

    def stop_by(self, deadline: float) -> None:
        """End the coming stop, drain and closing both, by `deadline` (event-loop time).

        The runner sets it from Docker's grace before it closes us. One deadline for the
        whole stop: two drains of their own each (8 s, then 5 s) outlasted the grace, and
        SIGKILL came before the store was closed. The earliest deadline wins.
        """
        if self._stop_deadline is None or deadline < self._stop_deadline:
            self._stop_deadline = deadline

    async def drain(self) -> None:
        """Let submissions in progress finish until the stop's deadline, less the closing's
        reserve; then cancel the rest.

        A cancelled submission's job stays as far as it got (`pending` while its create
        is unanswered): the tracker resolves open jobs at the next start. Cancelled, not
        left running: the session and store close under it next, and it would fail on
        them with a traceback and a wrong state.
        """
        loop = asyncio.get_running_loop()
        deadline = self._stop_deadline
        if deadline is None:
            deadline = loop.time() + CLOSE_DRAIN_SECONDS + CLOSE_RESERVE_SECONDS
            self.stop_by(deadline)  # a second close, at the same time or later, keeps it
        me = asyncio.current_task()
        pending = {t for t in self._inflight if not t.done() and t is not me}
        if not pending:
            return
        log.info("waiting for %d submission(s) in progress", len(pending))
        left = deadline - CLOSE_RESERVE_SECONDS - loop.time()
        _, late = await asyncio.wait(pending, timeout=max(0.0, left))
        if not late:
            return
        log.warning(
            "stopping with %d submission(s) still in progress: cancelled; the next start "
            "looks their jobs up",
            len(late),
        )
        for task in late:
            task.cancel()
        await asyncio.wait(late, timeout=CANCEL_GRACE_SECONDS)

    async def setup_hook(self) -> None:
        self.logged_in.set()  # discord.py calls this right after the token was accepted
        try:
            self._store = await open_store(self.config)
        except (sqlite3.Error, OSError, DatabaseUnavailable) as exc:
            raise StoreUnavailable(f"{self.config.storage_shown}: {exc}") from exc
        self._session = aiohttp.ClientSession()
        # After the store: on PostgreSQL, a key's ceiling is shared with the whole fleet.
        self._video_api = VideoApi(self._session, shared_pacing=self._store.key_pacing())
        # A sandbox job's "video" is its animatic, drawn from the store at download.
        sandbox = SandboxVideos(
            self._store, self.current_config, self.transcoder, clock=lambda: self.sandbox_clock()
        )
        self._video_api.sandbox = sandbox.client
        self._submitter = Submitter(self._store, self._video_api, self.current_config)
        self._tracker = Tracker(self._store, self._video_api, self.current_config)
        self._submitter.follow = self._tracker.watch
        for name in EXTENSIONS:
            await self.load_extension(name)
        if self.holds_first_shard:
            await self.sync_commands()
        else:
            self.sync_summary = "commands left to the process with shard 0"
        # After the cogs: the Discord side must be listening before the first event.
        self._resumed = await self._tracker.start()
        # Ops endpoint last: it reports on everything above. None when [ops] listen is unset.
        self.ops = await start_ops(self, self.config.file.ops)

    async def _tree_payload(self, guild: discord.abc.Snowflake | None) -> str:
        """What a sync would send, translations included (a changed Chinese text must sync)."""
        translator = self.tree.translator
        commands_ = [
            await c.get_translated_payload(self.tree, translator)
            if translator is not None
            else c.to_dict(self.tree)
            for c in self.tree.get_commands(guild=guild)
        ]
        return json.dumps(commands_, sort_keys=True, default=str)

    async def _sync_scope(self, guild: discord.abc.Snowflake | None) -> bool:
        """Sync one scope unless it is unchanged since the last sync (Discord caps writes).
        True when it was synced."""
        scope = f"{COMMANDS_HASH}{guild.id if guild else 'global'}"
        digest = hashlib.sha256((await self._tree_payload(guild)).encode()).hexdigest()
        if not self.force_sync and await self.store.get_meta(scope) == digest:
            log.debug("commands unchanged for %s, not syncing", scope.removeprefix(COMMANDS_HASH))
            return False
        await self.tree.sync(guild=guild)
        await self.store.set_meta(scope, digest)
        log.debug("commands synced for %s", scope.removeprefix(COMMANDS_HASH))
        return True

    async def _remove_guild_copies(self, guild_id: int) -> bool:
        """Take the commands off a server no longer in `dev_guild_ids`: otherwise its
        members see every command twice (its copy and the global one). True when done."""
        guild = discord.Object(id=guild_id)
        self.tree.clear_commands(guild=guild)
        try:
            await self.tree.sync(guild=guild)
        except discord.Forbidden:  # the bot left that server: its copies went with it
            log.info("guild %s: no longer mine, its command copies went with me", guild_id)
        except discord.HTTPException as exc:
            log.warning("guild %s: removing its command copies failed (%s)", guild_id, exc.status)
            return False
        else:
            log.info("guild %s is no longer in dev_guild_ids: its command copies removed", guild_id)
        await self.store.set_meta(f"{COMMANDS_HASH}{guild_id}", "")
        return True

    async def sync_commands(self) -> None:
        dev = self.config.dev_guild_ids
        synced = False
        for key in await self.store.meta_keys(COMMANDS_HASH):
            gone = key.removeprefix(COMMANDS_HASH)
            if gone.isdigit() and int(gone) not in dev:
                synced = await self._remove_guild_copies(int(gone)) or synced
        for gid in dev:
            guild = discord.Object(id=gid)
            self.tree.copy_global_to(guild=guild)
            synced = await self._sync_scope(guild) or synced
        if not dev:
            synced = await self._sync_scope(None) or synced
        where = "dev servers " + ", ".join(map(str, dev)) if dev else "global"
        self.sync_summary = f"commands {'synced' if synced else 'up to date'} ({where})"

    async def on_ready(self) -> None:
        """The first line after login says who we are, where, and what happened to the
        commands; discord.py sends READY again after a reconnect, said once."""
        if self._announced or self.user is None:
            return
        self._announced = True
        shards = f" ({self.own_shards.describe()})" if self.own_shards is not None else ""
        log.info(
            "connected as %s (%s) to %d servers%s; %s; %d open jobs resumed",
            self.user,
            self.user.id,
            len(self.guilds),
            shards,
            self.sync_summary,
            self._resumed,
        )

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        """discord.py's dispatch, but none once the client is closing or closed.

        discord.py still dispatches after its close: its ready wait (`_delay_ready`, 2 s
        after the last GUILD_CREATE) is not cancelled by `Client.close`, which ends by
        setting `self.loop` to a sentinel. A READY dispatched then makes the coroutine
        `_run_event(on_ready)` and fails to schedule it: an AttributeError in a task nobody
        awaits, and "coroutine 'Client._run_event' was never awaited" (a stop within 2 s
        of connecting). Our close drains first: the events that matter come before this.
        """
        if self.is_closed():
            log.debug("closed: %s not dispatched", event_name)
            return
        super().dispatch(event_name, *args, **kwargs)

    async def close(self) -> None:
        # Whoever closes us, work a member is waiting on gets to finish first, within the
        # stop's deadline.
        await self.drain()
        # Each resource is taken before it is awaited: discord.py closes the client itself
        # on a fatal gateway close, and a second close at the same moment must not close
        # the same aiosqlite connection twice (that waits forever).
        ops, self.ops = self.ops, None
        if ops is not None:
            await ops.stop()
        if self._tracker is not None:
            # A look under way (a delivery between its post and its record) may finish
            # within what the stop's deadline leaves, less a second for the rest.
            left = (self._stop_deadline or 0.0) - asyncio.get_running_loop().time() - 1.0
            await self._tracker.stop(grace=max(0.0, min(TRACKER_GRACE_SECONDS, left)))
        await self.transcoder.close()
        await super().close()
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        store, self._store = self._store, None
        if store is not None:
            await store.close()


class ShardedStoryboardBot(StoryboardBot, commands.AutoShardedBot):
    """The bot over the shards `[discord] shard_ids` of `shard_count`: one gateway
    connection each, several processes each running some (docs/scaling.md). Made by
    `StoryboardBot(config)` when the config names shards."""

    def __init__(self, config: Config, *, force_sync: bool = False) -> None:
        super().__init__(config, force_sync=force_sync)
        # When each shard may IDENTIFY, in turn with the other processes.
        self.identify_pacer = IdentifyPacer()
        self._max_concurrency: int | None = None

    def gateway_open(self) -> bool:
        """Every shard of this process is connected right now."""
        shards = self.shards.values()
        return bool(shards) and not any(s.is_closed() for s in shards)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Take the shard's turn to IDENTIFY with every process of the fleet: Discord starts
        `max_concurrency` sessions per 5 s per bucket, however many processes ask."""
        # discord.py's own pause before any IDENTIFY but a process's first (the next
        # shard, a session Discord invalidated): kept, it is what Discord asks for a retry.
        await super().before_identify_hook(shard_id, initial=initial)
        shard = shard_id or 0
        waited = await self.identify_pacer.wait_turn(
            self.store, shard, await self._identify_concurrency()
        )
        if waited > 0:
            log.info("shard %d: waited %.1f s for its turn to connect", shard, waited)

    async def _identify_concurrency(self) -> int:
        """Discord's `max_concurrency` (GET /gateway/bot), asked once; 1 when it can't say."""
        if self._max_concurrency is None:
            try:
                limits = await self.fetch_session_start_limits()
            except discord.GatewayNotFound:
                log.warning("Discord did not say how many sessions may start at once: one")
                return 1
            self._max_concurrency = max(1, limits.max_concurrency)
        return self._max_concurrency
